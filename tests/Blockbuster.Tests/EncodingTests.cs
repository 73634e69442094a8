using System.Text;
using Blockbuster.Cli.Commands;
using Blockbuster.Training.Data;

namespace Blockbuster.Tests;

/// <summary>Input text is strict UTF-8 unless the user opts into Latin-1; a bad byte is named, never replaced.</summary>
public class EncodingTests
{
    // Row 3 starts on line 4 (row 2 holds a quoted newline); "café" is written in Latin-1: 0xE9.
    static readonly byte[] Latin1Csv = [.. Encoding.ASCII.GetBytes("review,sentiment\n\"fine\nfilm\",positive\n\"caf"), 0xE9, .. Encoding.ASCII.GetBytes(" film\",negative\n")];

    [Fact]
    public void A_latin1_csv_fails_with_its_row_line_and_byte_offset()
    {
        using var dir = new TempDir();
        File.WriteAllBytes(dir.File("reviews.csv"), Latin1Csv);
        var e = Assert.Throws<DataFormatException>(() => ReviewCsv.Read(dir.File("reviews.csv")));
        int offset = Array.IndexOf(Latin1Csv, (byte)0xE9);
        Assert.Equal($"reviews.csv: invalid UTF-8 at row 3 (line 4, byte offset {offset}: 0xE9); convert the file with " +
                     "'iconv -f latin1 -t utf-8 reviews.csv > reviews-utf8.csv' or pass `encoding` latin1.", e.Message);
        Assert.Throws<DataFormatException>(() => ReviewCsv.ReadTexts(dir.File("reviews.csv")));
    }

    [Fact]
    public void Latin1_is_read_when_asked_for()
    {
        using var dir = new TempDir();
        File.WriteAllBytes(dir.File("reviews.csv"), Latin1Csv);
        var set = ReviewCsv.Read(dir.File("reviews.csv"), new ReviewCsvOptions(Encoding: "latin1"));
        Assert.Equal("café film", set.Texts[1]);
    }

    [Fact]
    public void Predict_refuses_invalid_utf8_from_a_file_and_from_stdin()
    {
        using var dir = new TempDir();
        byte[] lines = [.. Encoding.ASCII.GetBytes("good\nna"), 0xEF, 0xBB, .. Encoding.ASCII.GetBytes("ve\n")];   // a truncated 3-byte sequence
        File.WriteAllBytes(dir.File("reviews.txt"), lines);
        var e = Assert.Throws<DataFormatException>(() => PredictCommand.GatherTexts([], dir.File("reviews.txt"), "review"));
        Assert.Contains("reviews.txt: invalid UTF-8 at line 2 (byte offset 7: 0xEF)", e.Message);
        e = Assert.Throws<DataFormatException>(() => PredictCommand.GatherTexts(["-"], null, "review", stdin: new MemoryStream(lines)));
        Assert.StartsWith("stdin: invalid UTF-8", e.Message);
        Assert.Equal(["good", "naï»ve"], PredictCommand.GatherTexts(["-"], null, "review", "latin1", new MemoryStream(lines)));
    }
}
