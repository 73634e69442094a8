namespace Blockbuster.Training.Data;

/// <summary>
/// Augmented copies of a text for distillation's transfer set, after Tang et al. (2019, "Distilling Task-Specific
/// Knowledge from BERT into Simple Neural Networks"): a random window of the text's words (their n-gram sampling, at
/// the length of a review) with some words replaced by <c>[MASK]</c> (their masking). The teacher labels each copy, so
/// the student sees more of the teacher's function than the original texts alone show it; a copy keeps no true label
/// (a window may leave out the sentence that decided it). Copies depend only on (seed, copy, text index, text), so a
/// run with more copies begins with the same texts as one with fewer, and a resumed run gets the same ones.
/// </summary>
public static class TextAugmentation
{
    /// <summary>A window keeps at least this share of the words (uniform between it and all of them).</summary>
    public const double MinWindowFraction = 0.5;

    /// <summary>Each word of the window is replaced by [MASK] with this probability (Tang et al.'s p_mask).</summary>
    public const double MaskProbability = 0.1;

    public const string MaskToken = "[MASK]";

    /// <summary>Copy <paramref name="copy"/> (1-based) of text <paramref name="index"/>: its words joined by single spaces.</summary>
    public static string Augment(string text, int seed, int copy, int index)
    {
        var words = text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
        if (words.Length == 0) return text;
        var random = new Random(StableSeed.Of(seed, copy, index));
        int length = Math.Max(1, (int)Math.Ceiling(words.Length * (MinWindowFraction + (1 - MinWindowFraction) * random.NextDouble())));
        int start = random.Next(words.Length - length + 1);
        var window = words.AsSpan(start, length).ToArray();
        for (int w = 0; w < window.Length; w++)
            if (random.NextDouble() < MaskProbability) window[w] = MaskToken;
        return string.Join(' ', window);
    }

    /// <summary>The texts followed by <paramref name="copies"/> augmented copies of all of them, copy by copy.</summary>
    public static IEnumerable<string> WithCopies(IReadOnlyList<string> texts, int copies, int seed)
    {
        foreach (var text in texts) yield return text;
        for (int copy = 1; copy <= copies; copy++)
            for (int i = 0; i < texts.Count; i++) yield return Augment(texts[i], seed, copy, i);
    }
}
