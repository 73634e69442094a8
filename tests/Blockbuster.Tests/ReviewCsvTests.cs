using Blockbuster.Training.Data;

namespace Blockbuster.Tests;

public class ReviewCsvTests
{
    static string Write(TempDir dir, string content)
    {
        var path = dir.File("data.csv");
        File.WriteAllText(path, content);
        return path;
    }

    [Fact]
    public void Reads_labels_in_every_accepted_spelling_and_quoted_fields()
    {
        using var dir = new TempDir();
        var set = ReviewCsv.Read(Write(dir, "review,sentiment\n\"a \"\"quoted\"\", multi\nline review\",Positive\nb,neg\nc, 1 \nd,0\ne,POS\n"));
        Assert.Equal([1, 0, 1, 0, 1], set.Labels);
        Assert.Equal("a \"quoted\", multi\nline review", set.Texts[0]);
        Assert.Equal([2, 3, 4, 5, 6], set.Rows);
        Assert.Equal(64, set.Sha256.Length);
    }

    [Fact]
    public void Missing_column_names_the_columns_found()
    {
        using var dir = new TempDir();
        var e = Assert.Throws<DataFormatException>(() => ReviewCsv.Read(Write(dir, "text,label\nx,positive\n")));
        Assert.Equal("data.csv: no column 'review' (the header has: text, label); choose columns with `text_column` / `label_column`.", e.Message);
        var set = ReviewCsv.Read(Write(dir, "text,label\nx,positive\ny,negative\n"), new ReviewCsvOptions("text", "label"));
        Assert.Equal(2, set.Count);
    }

    [Fact]
    public void Invalid_rows_are_listed_first_five_plus_a_count()
    {
        using var dir = new TempDir();
        var rows = string.Concat(Enumerable.Range(0, 8).Select(i => $"r{i},maybe\n"));
        var e = Assert.Throws<DataFormatException>(() => ReviewCsv.Read(Write(dir, "review,sentiment\nok,positive\n" + rows)));
        Assert.StartsWith("data.csv: 8 invalid rows: row 3 has unknown label 'maybe'; row 4", e.Message);
        Assert.Contains("row 7 has unknown label 'maybe' and 3 more", e.Message);
        var skipped = ReviewCsv.Read(Write(dir, "review,sentiment\nok,positive\n" + rows), new ReviewCsvOptions(SkipInvalidRows: true));
        Assert.Equal(1, skipped.Count);
        Assert.Equal(8, skipped.SkippedRows);
    }

    [Fact]
    public void Empty_file_and_missing_file_are_clear_errors()
    {
        using var dir = new TempDir();
        Assert.Contains("the file is empty", Assert.Throws<DataFormatException>(() => ReviewCsv.Read(Write(dir, ""))).Message);
        Assert.EndsWith("nope.csv: file not found.", Assert.Throws<DataFormatException>(() => ReviewCsv.Read(dir.File("nope.csv"))).Message);
        Assert.Contains("no labelled reviews", Assert.Throws<DataFormatException>(() => ReviewCsv.Read(Write(dir, "review,sentiment\n"))).Message);
    }
}
