using Blockbuster.Training.Data;

namespace Blockbuster.Tests;

/// <summary>Distillation's augmented copies: a window of the words, some masked, the same in every process.</summary>
public class TextAugmentationTests
{
    static readonly string Review = string.Join(" ", Enumerable.Range(0, 400).Select(i => $"w{i}"));

    [Fact]
    public void A_copy_is_a_window_of_at_least_half_the_words_with_about_one_in_ten_masked()
    {
        var words = Review.Split(' ');
        int masked = 0, total = 0;
        for (int copy = 1; copy <= 20; copy++)
        {
            var window = TextAugmentation.Augment(Review, seed: 42, copy, index: 7).Split(' ');
            Assert.InRange(window.Length, words.Length / 2, words.Length);
            // The unmasked words sit where the window puts them: one contiguous run of the original.
            int start = Array.FindIndex(window, w => w != TextAugmentation.MaskToken);
            int offset = Array.IndexOf(words, window[start]) - start;
            for (int w = 0; w < window.Length; w++)
                if (window[w] != TextAugmentation.MaskToken) Assert.Equal(words[offset + w], window[w]);
            masked += window.Count(w => w == TextAugmentation.MaskToken);
            total += window.Length;
        }
        Assert.InRange(masked / (double)total, 0.08, 0.12);
    }

    [Fact]
    public void Copies_depend_on_seed_copy_and_text_only()
    {
        Assert.Equal(TextAugmentation.Augment(Review, 42, 1, 3), TextAugmentation.Augment(Review, 42, 1, 3));
        Assert.NotEqual(TextAugmentation.Augment(Review, 42, 1, 3), TextAugmentation.Augment(Review, 42, 2, 3));
        Assert.NotEqual(TextAugmentation.Augment(Review, 42, 1, 3), TextAugmentation.Augment(Review, 43, 1, 3));
        string[] texts = ["one two three four", "five six seven eight"];
        Assert.Equal([.. texts, TextAugmentation.Augment(texts[0], 42, 1, 0), TextAugmentation.Augment(texts[1], 42, 1, 1),
                      TextAugmentation.Augment(texts[0], 42, 2, 0), TextAugmentation.Augment(texts[1], 42, 2, 1)],
                     TextAugmentation.WithCopies(texts, 2, 42));
        Assert.Equal("", TextAugmentation.Augment("", 42, 1, 0));
    }
}
