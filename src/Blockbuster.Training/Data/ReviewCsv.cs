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
        if (!File.Exists(path)) throw new DataFormatException($"{path}: file not found.");
        var name = System.IO.Path.GetFileName(path);
        var texts = new List<string>();
        var labels = new List<int>();
        var rows = new List<int>();
        var problems = new List<string>();
        int invalid = 0;

        using var sha256 = SHA256.Create();
        string? digest = null;
        var config = new CsvConfiguration(CultureInfo.InvariantCulture)
        {
            DetectColumnCountChanges = false,
            MissingFieldFound = null,
            BadDataFound = null,
            TrimOptions = TrimOptions.None,
        };
        try
        {
            // The file is hashed as it is parsed (one pass over it, not two).
            using var hashing = new CryptoStream(File.OpenRead(path), sha256, CryptoStreamMode.Read);
            using var reader = new StreamReader(hashing, TextEncoding.Get(options.Encoding), detectEncodingFromByteOrderMarks: options.Encoding == TextEncoding.Utf8);
            using var csv = new CsvReader(reader, config);
            if (!csv.Read()) throw new DataFormatException($"{name}: the file is empty (expected a header with '{options.TextColumn}' and '{options.LabelColumn}').");
            csv.ReadHeader();
            var header = csv.HeaderRecord ?? [];
            int Column(string column)
            {
                int index = Array.FindIndex(header, h => string.Equals(h.Trim(), column, StringComparison.OrdinalIgnoreCase));
                if (index < 0)
                    throw new DataFormatException($"{name}: no column '{column}' (the header has: {string.Join(", ", header)}); choose columns with --text-column / --label-column.");
                return index;
            }
            int textIndex = Column(options.TextColumn);
            int labelIndex = Column(options.LabelColumn);

            while (csv.Read())
            {
                int row = csv.Parser.Row;
                var text = csv.TryGetField<string>(textIndex, out var t) ? t : null;
                var labelText = csv.TryGetField<string>(labelIndex, out var l) ? l : null;
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
            reader.ReadToEnd();   // CsvHelper stops at the last record; the hash needs every byte
            hashing.Close();      // finalises the hash
            digest = Convert.ToHexStringLower(sha256.Hash!);
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

        if (invalid > 0 && !options.SkipInvalidRows)
        {
            var more = invalid > problems.Count ? $" and {invalid - problems.Count} more" : "";
            throw new DataFormatException($"{name}: {invalid} invalid row{(invalid == 1 ? "" : "s")}: {string.Join("; ", problems)}{more} (labels must be positive/negative, pos/neg or 1/0; pass --skip-invalid-rows to skip them).");
        }
        if (texts.Count == 0) throw new DataFormatException($"{name}: no labelled reviews.");
        return new ReviewSet(path, digest!, texts, labels.ToArray(), rows.ToArray(), invalid);
    }

    /// <summary>
    /// The texts of one column of an unlabelled CSV (pretraining, distillation, predict), with the file's sha256.
    /// Empty rows are skipped and counted, or kept with <paramref name="keepEmpty"/>.
    /// </summary>
    public static (IReadOnlyList<string> Texts, string Sha256, int EmptyRows) ReadTexts(string path, string textColumn = "review", string encoding = TextEncoding.Utf8, bool keepEmpty = false)
    {
        if (!File.Exists(path)) throw new DataFormatException($"{path}: file not found.");
        var name = System.IO.Path.GetFileName(path);
        var texts = new List<string>();
        int empty = 0;
        using var sha256 = SHA256.Create();
        var config = new CsvConfiguration(CultureInfo.InvariantCulture)
        {
            DetectColumnCountChanges = false, MissingFieldFound = null, BadDataFound = null, TrimOptions = TrimOptions.None,
        };
        try
        {
            using var hashing = new CryptoStream(File.OpenRead(path), sha256, CryptoStreamMode.Read);
            using var reader = new StreamReader(hashing, TextEncoding.Get(encoding), detectEncodingFromByteOrderMarks: encoding == TextEncoding.Utf8);
            using var csv = new CsvReader(reader, config);
            if (!csv.Read()) throw new DataFormatException($"{name}: the file is empty (expected a header with '{textColumn}').");
            csv.ReadHeader();
            var header = csv.HeaderRecord ?? [];
            int index = Array.FindIndex(header, h => string.Equals(h.Trim(), textColumn, StringComparison.OrdinalIgnoreCase));
            if (index < 0) throw new DataFormatException($"{name}: no column '{textColumn}' (the header has: {string.Join(", ", header)}); choose one with --text-column.");
            while (csv.Read())
            {
                var text = csv.TryGetField<string>(index, out var t) ? t : null;
                if (string.IsNullOrWhiteSpace(text)) empty++;
                if (keepEmpty || !string.IsNullOrWhiteSpace(text)) texts.Add(text ?? "");
            }
            reader.ReadToEnd();
            hashing.Close();
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
        if (texts.Count == 0 && !keepEmpty) throw new DataFormatException($"{name}: no texts in column '{textColumn}'.");
        return (texts, Convert.ToHexStringLower(sha256.Hash!), empty);
    }

    public static string Sha256(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }

    static string Shorten(string? value) => value is null ? "" : value.Length <= 20 ? value : value[..20] + "…";

}
