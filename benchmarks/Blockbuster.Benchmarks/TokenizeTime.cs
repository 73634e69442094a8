using System.Diagnostics;
using Blockbuster.Training.Data;
using Blockbuster.Training.Tokenization;

namespace Blockbuster.Benchmarks;

/// <summary>Wall-clock of tokenizing every review (max length 512), median of 5 runs after a warm-up.</summary>
static class TokenizeTime
{
    public static int Run()
    {
        var texts = ReviewCsv.Read(SharedPaths.ImdbCsv).Texts;
        var tokenizer = BertWordPieceTokenizer.Load(Path.Combine(SharedPaths.BertTiny, "vocab.txt"), Path.Combine(SharedPaths.BertTiny, "tokenizer_config.json"));
        tokenizer.EncodeAll(texts, 512);
        var times = new List<double>();
        long tokens = 0;
        for (int i = 0; i < 5; i++)
        {
            var sw = Stopwatch.StartNew();
            var encodings = tokenizer.EncodeAll(texts, 512);
            times.Add(sw.Elapsed.TotalSeconds);
            tokens = encodings.Sum(e => (long)e.Ids.Length);
        }
        times.Sort();
        Console.WriteLine($"tokenized {texts.Count} reviews ({tokens} tokens, max length 512) on {Environment.ProcessorCount} cores: median {times[2]:F2} s (min {times[0]:F2} s, max {times[4]:F2} s)");
        return 0;
    }
}
