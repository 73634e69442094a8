namespace Blockbuster.Training.Tokenization;

/// <summary>
/// Where the windows of a text too long for one forward pass start, when the whole text is read: as few windows of
/// <c>budget</c> tokens as cover it, spaced evenly from the head to the tail, so neighbours overlap by the slack
/// (a 700-token review at 510 per window: 0–510 and 190–700). Reading every window and averaging their
/// probabilities scores the end of a long review too, where its verdict often is; head, tail and head+tail
/// truncation each drop part of it.
/// </summary>
public static class ReadingWindows
{
    /// <summary>Start offsets (ascending, first 0, last <c>tokens - budget</c>) of the windows covering <paramref name="tokens"/> tokens.</summary>
    public static int[] Starts(int tokens, int budget)
    {
        if (budget <= 0) throw new ArgumentOutOfRangeException(nameof(budget), "a window must hold at least one token.");
        if (tokens <= budget) return [0];
        int count = (tokens + budget - 1) / budget;    // ceil: the fewest windows that cover every token
        int last = tokens - budget;
        return Enumerable.Range(0, count).Select(j => (int)Math.Round((double)j * last / (count - 1))).ToArray();
    }
}
