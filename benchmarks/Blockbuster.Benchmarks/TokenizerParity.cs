using Blockbuster.Training.Data;
using Blockbuster.Training.Tokenization;

namespace Blockbuster.Benchmarks;

/// <summary>Compares our tokenizer with Hugging Face's Rust tokenizer on every review of a CSV.</summary>
static class TokenizerParity
{
    public static int Run(string csv, string modelFolder)
    {
        var reviews = ReviewCsv.Read(csv);
        var ours = BertWordPieceTokenizer.Load(Path.Combine(modelFolder, "vocab.txt"), Path.Combine(modelFolder, "tokenizer_config.json"));
        using var hf = new Tokenizers.DotNet.Tokenizer(Path.Combine(modelFolder, "tokenizer.json"));
        int same = 0;
        var different = new List<int>();
        for (int i = 0; i < reviews.Count; i++)
        {
            var expected = hf.Encode(reviews.Texts[i]);
            var actual = ours.Encode(reviews.Texts[i], int.MaxValue / 2).Ids;
            if (expected.Length == actual.Length && expected.Select(x => (int)x).SequenceEqual(actual)) same++;
            else different.Add(reviews.Rows[i]);
        }
        Console.WriteLine($"tokenizer parity with Hugging Face tokenizers ({Path.GetFileName(modelFolder)}/tokenizer.json): {same} / {reviews.Count} reviews identical");
        if (different.Count > 0) Console.WriteLine($"different rows (first 10): {string.Join(", ", different.Take(10))}");
        return different.Count == 0 ? 0 : 1;
    }
}
