using BenchmarkDotNet.Attributes;
using Blockbuster.Training.Data;
using Blockbuster.Training.Tokenization;

namespace Blockbuster.Benchmarks;

/// <summary>
/// Tokenizing all 50,000 IMDB reviews to max length 512: ours (all cores) next to the bounds people
/// would otherwise use — Microsoft.ML.Tokenizers' BertTokenizer (not HF-exact) and Hugging Face's Rust
/// tokenizer through Tokenizers.DotNet (one text at a time).
/// </summary>
[SimpleJob(launchCount: 1, warmupCount: 1, iterationCount: 5)]
[MemoryDiagnoser]
public class TokenizeBenchmark
{
    IReadOnlyList<string> texts = [];
    BertWordPieceTokenizer ours = null!;
    global::Microsoft.ML.Tokenizers.BertTokenizer microsoft = null!;
    Tokenizers.DotNet.Tokenizer huggingFace = null!;

    [GlobalSetup]
    public void Setup()
    {
        texts = ReviewCsv.Read(SharedPaths.ImdbCsv).Texts;
        var vocab = Path.Combine(SharedPaths.BertTiny, "vocab.txt");
        ours = BertWordPieceTokenizer.Load(vocab, Path.Combine(SharedPaths.BertTiny, "tokenizer_config.json"));
        microsoft = global::Microsoft.ML.Tokenizers.BertTokenizer.Create(vocab);
        huggingFace = new Tokenizers.DotNet.Tokenizer(Path.Combine(SharedPaths.BertTiny, "tokenizer.json"));
    }

    [Benchmark(Baseline = true, Description = "Blockbuster (HF-exact, all cores)")]
    public int Ours() => ours.EncodeAll(texts, 512).Sum(e => e.Ids.Length);

    [Benchmark(Description = "Blockbuster (HF-exact, 1 thread)")]
    public int OursSingleThread() => ours.EncodeAll(texts, 512, threads: 1).Sum(e => e.Ids.Length);

    [Benchmark(Description = "Microsoft.ML.Tokenizers BertTokenizer (not HF-exact)")]
    public int MicrosoftBert()
    {
        int total = 0;
        foreach (var t in texts) total += microsoft.EncodeToIds(t, 512, out _, out _).Count;
        return total;
    }

    [Benchmark(Description = "HF tokenizers via Tokenizers.DotNet (1 text at a time)")]
    public int HuggingFace()
    {
        int total = 0;
        foreach (var t in texts) total += Math.Min(huggingFace.Encode(t).Length, 512);
        return total;
    }
}
