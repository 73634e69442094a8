namespace Blockbuster.Training.Data;

/// <summary>Labelled reviews read from a CSV. <see cref="Rows"/> are CSV row numbers (the header is row 1).</summary>
public sealed record ReviewSet(string Path, string Sha256, IReadOnlyList<string> Texts, int[] Labels, int[] Rows, int SkippedRows)
{
    public int Count => Texts.Count;

    /// <summary>The reviews at the given positions (not row numbers), in that order.</summary>
    public ReviewSet Subset(IReadOnlyList<int> indices) => this with
    {
        Texts = indices.Select(i => Texts[i]).ToArray(),
        Labels = indices.Select(i => Labels[i]).ToArray(),
        Rows = indices.Select(i => Rows[i]).ToArray(),
    };
}

/// <summary>What columns to read and how strict to be.</summary>
public sealed record ReviewCsvOptions(string TextColumn = "review", string LabelColumn = "sentiment", bool SkipInvalidRows = false, string Encoding = TextEncoding.Utf8);

/// <summary>A CSV that cannot be used as labelled reviews; the message is one line naming file and rows.</summary>
public sealed class DataFormatException(string message) : Exception(message);
