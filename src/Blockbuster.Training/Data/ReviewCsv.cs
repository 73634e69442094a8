using System.Globalization;
using System.Security.Cryptography;
using CsvHelper;
using CsvHelper.Configuration;

namespace Blockbuster.Training.Data;

/// <summary>
/// Reads the common IMDB CSV layout (<c>review,sentiment</c>; RFC 4180 quoting) with CsvHelper. A missing
/// column, an unknown label or an empty review is an error naming the first rows and how many there are,
/// unless <see cref="ReviewCsvOptions.SkipInvalidRows"/>, which skips and counts them.
/// </summary>
public static class ReviewCsv
{
    const int RowsNamed = 5;

    public static ReviewSet Read(string path, ReviewCsvOptions? options = null)
    {
        options ??= new ReviewCsvOptions();
        var name = System.IO.Path.GetFileName(path);
        var texts = new List<string>();
        var labels = new List<int>();
        var rows = new List<int>();
        var problems = new List<string>();
        int invalid = 0;
        var digest = Parse(path, options.Encoding, [options.TextColumn, options.LabelColumn], (csv, columns) =>
        {
            while (csv.Read())
            {
                int row = csv.Parser.Row;
                var text = csv.TryGetField<string>(columns[0], out var t) ? t : null;
                var labelText = csv.TryGetField<string>(columns[1], out var l) ? l : null;
                var label = SentimentLabel.Parse(labelText);
                string? problem = null;
                if (string.IsNullOrWhiteSpace(text)) problem = $"row {row} has an empty review";
                else if (label is null) problem = $"row {row} has unknown label '{Shorten(labelText)}'";
                if (problem is not null)
                {
                    invalid++;
                    if (problems.Count < RowsNamed) problems.Add(problem);
                    continue;
                }
                texts.Add(text!);
                labels.Add(label!.Value);
                rows.Add(row);
            }
        });
        if (invalid > 0 && !options.SkipInvalidRows)
        {
            var more = invalid > problems.Count ? $" and {invalid - problems.Count} more" : "";
            throw new DataFormatException($"{name}: {invalid} invalid row{(invalid == 1 ? "" : "s")}: {string.Join("; ", problems)}{more} (labels must be positive/negative, pos/neg or 1/0; pass `skip_invalid_rows` to skip them).");
        }
        if (texts.Count == 0) throw new DataFormatException($"{name}: no labelled reviews.");
        return new ReviewSet(path, digest, texts, labels.ToArray(), rows.ToArray(), invalid);
    }

    /// <summary>
    /// The texts of one column of an unlabelled CSV (pretraining, distillation, predict), with the file's sha256.
    /// Empty rows are skipped and counted, or kept with <paramref name="keepEmpty"/>.
    /// </summary>
    public static (IReadOnlyList<string> Texts, string Sha256, int EmptyRows) ReadTexts(string path, string textColumn = "review", string encoding = TextEncoding.Utf8, bool keepEmpty = false)
    {
        var texts = new List<string>();
        int empty = 0;
        var digest = Parse(path, encoding, [textColumn], (csv, columns) =>
        {
            while (csv.Read())
            {
                var text = csv.TryGetField<string>(columns[0], out var t) ? t : null;
                if (string.IsNullOrWhiteSpace(text)) empty++;
                if (keepEmpty || !string.IsNullOrWhiteSpace(text)) texts.Add(text ?? "");
            }
        });
        if (texts.Count == 0 && !keepEmpty) throw new DataFormatException($"{System.IO.Path.GetFileName(path)}: no texts in column '{textColumn}'.");
        return (texts, digest, empty);
    }

    /// <summary>
    /// Streams the texts of one column to <paramref name="onText"/> row by row (empty ones included, as ""), in
    /// constant memory, for inputs too large to hold (predict --file with millions of rows).
    /// </summary>
    public static void ForEachText(string path, string textColumn, string encoding, Action<string> onText) =>
        Parse(path, encoding, [textColumn], (csv, columns) =>
        {
            while (csv.Read()) onText(csv.TryGetField<string>(columns[0], out var t) && t is not null ? t : "");
        });

    /// <summary>
    /// The one way a CSV is opened: strict decoding, RFC 4180 via CsvHelper, the header looked up for the
    /// <paramref name="columns"/> (case-insensitive), every failure one line naming the file and row; the file is
    /// hashed as it is parsed (one pass, not two). <paramref name="readRows"/> gets the reader and the column indices.
    /// </summary>
    static string Parse(string path, string encoding, string[] columns, Action<CsvReader, int[]> readRows)
    {
        if (!File.Exists(path)) throw new DataFormatException($"{path}: file not found.");
        var name = System.IO.Path.GetFileName(path);
        var config = new CsvConfiguration(CultureInfo.InvariantCulture)
        {
            DetectColumnCountChanges = false, MissingFieldFound = null, BadDataFound = null, TrimOptions = TrimOptions.None,
        };
        using var sha256 = SHA256.Create();
        try
        {
            using var hashing = new CryptoStream(File.OpenRead(path), sha256, CryptoStreamMode.Read);
            using var reader = new StreamReader(hashing, TextEncoding.Get(encoding), detectEncodingFromByteOrderMarks: encoding == TextEncoding.Utf8);
            using var csv = new CsvReader(reader, config);
            if (!csv.Read()) throw new DataFormatException($"{name}: the file is empty (expected a header with {string.Join(" and ", columns.Select(c => $"'{c}'"))}).");
            csv.ReadHeader();
            var header = csv.HeaderRecord ?? [];
            var indices = columns.Select(column =>
            {
                int index = Array.FindIndex(header, h => string.Equals(h.Trim(), column, StringComparison.OrdinalIgnoreCase));
                return index >= 0 ? index : throw new DataFormatException(
                    $"{name}: no column '{column}' (the header has: {string.Join(", ", header)}); choose {(columns.Length > 1 ? "columns with `text_column` / `label_column`" : "it with `text_column`")}.");
            }).ToArray();
            readRows(csv, indices);
            reader.ReadToEnd();   // CsvHelper stops at the last record; the hash needs every byte
            hashing.Close();      // finalises the hash
            return Convert.ToHexStringLower(sha256.Hash!);
        }
        catch (Exception e) when (TextEncoding.IsDecodingFailure(e))
        {
            throw TextEncoding.InvalidUtf8(File.ReadAllBytes(path), path);
        }
        catch (CsvHelperException e)
        {
            var row = e.Context?.Parser?.Row;
            throw new DataFormatException($"{name}: malformed CSV{(row is null ? "" : $" at row {row}")} ({e.GetType().Name.Replace("Exception", "")}).");
        }
    }

    public static string Sha256(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }

    static string Shorten(string? value) => value is null ? "" : value.Length <= 20 ? value : value[..20] + "…";

}
