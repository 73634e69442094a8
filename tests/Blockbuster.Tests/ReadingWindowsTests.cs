using Blockbuster.Training.Tokenization;

namespace Blockbuster.Tests;

/// <summary>Reading a long review whole: the windows cover every token, evenly spaced from head to tail.</summary>
public class ReadingWindowsTests
{
    [Theory]
    [InlineData(10, 510, new[] { 0 })]
    [InlineData(510, 510, new[] { 0 })]
    [InlineData(700, 510, new[] { 0, 190 })]             // two windows overlapping by 320
    [InlineData(1020, 510, new[] { 0, 510 })]            // two windows, end to end
    [InlineData(1100, 510, new[] { 0, 295, 590 })]       // ceil(1100 / 510) = 3, the last at 1100 - 510
    [InlineData(7, 3, new[] { 0, 2, 4 })]
    public void Starts_are_the_fewest_windows_that_cover_the_text_spaced_evenly(int tokens, int budget, int[] expected) =>
        Assert.Equal(expected, ReadingWindows.Starts(tokens, budget));

    [Fact]
    public void Encoded_windows_hold_every_token_and_the_first_and_last_are_head_and_tail()
    {
        var t = BertWordPieceTokenizer.Load(Path.Combine(Paths.MiniLm, "vocab.txt"), Path.Combine(Paths.MiniLm, "tokenizer_config.json"));
        const string text = "one two three four five six seven";           // 7 word pieces
        var pieces = t.Tokenize(text);
        var windows = t.EncodeWindows(text, 5);                              // 3 pieces a window: [0,3) [2,5) [4,7)
        Assert.Equal(3, windows.Length);
        Assert.Equal([t.ClsId, .. pieces[0..3], t.SepId], windows[0].Ids);
        Assert.Equal([t.ClsId, .. pieces[2..5], t.SepId], windows[1].Ids);
        Assert.Equal([t.ClsId, .. pieces[4..7], t.SepId], windows[2].Ids);
        Assert.Equal(t.Encode(text, 5).Ids, windows[0].Ids);                 // the head truncation's window
        Assert.Equal(t.Encode(text, 5, Truncation.Tail).Ids, windows[^1].Ids);
        Assert.All(windows, w => Assert.False(w.Truncated));

        Assert.Equal([t.Encode(text, 512).Ids], t.EncodeWindows(text, 512).Select(w => w.Ids));   // it fits: one window
        Assert.Equal([t.ClsId, t.SepId], Assert.Single(t.EncodeWindows("", 512)).Ids);
        Assert.Equal(2, t.EncodeAllWindows([text, null], 5).Select(w => w.Length).Distinct().Count());
    }
}
