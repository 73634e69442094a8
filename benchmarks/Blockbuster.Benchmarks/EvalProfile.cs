using System.Diagnostics;
using Blockbuster.Model;
using static TorchSharp.torch;

namespace Blockbuster.Benchmarks;

/// <summary>An eval pass over 10,000 IMDB reviews with a random bert-tiny: time by padded length.</summary>
static class EvalProfile
{
    public static int Run()
    {
        TorchRuntime.EnsureLoaded();
        var reviews = Blockbuster.Training.Data.ReviewCsv.Read(SharedPaths.ImdbCsv);
        var texts = reviews.Texts.Take(10_000).ToArray();
        var tokenizer = Blockbuster.Training.Tokenization.BertWordPieceTokenizer.Load(Path.Combine(SharedPaths.BertTiny, "vocab.txt"));
        var sw = Stopwatch.StartNew();
        var enc = tokenizer.EncodeAll(texts, 512);
        Console.WriteLine($"tokenize {sw.Elapsed.TotalSeconds:F2} s, {enc.Sum(e => (long)e.Ids.Length):N0} tokens");
        var config = BertConfig.Load(Path.Combine(SharedPaths.BertTiny, "config.json"));
        using var model = new BertForSequenceClassification(config);
        model.eval();
        var byLength = new SortedDictionary<long, (double Ms, long Tokens, int Batches)>();
        long padded = 0;
        sw.Restart();
        foreach (var batch in Blockbuster.Training.Data.LengthBucketSampler.Sorted(enc.Select(e => e.Ids.Length).ToArray(), 64))
        {
            using var scope = NewDisposeScope();
            using var ng = no_grad();
            using var cast = Autocast.Enable(ScalarType.BFloat16);
            var inputs = Blockbuster.Training.Data.Batch.Collate(batch.Select(i => enc[i].Ids).ToArray(), null, 0, CPU, 512);
            var t0 = sw.Elapsed.TotalMilliseconds;
            var logits = model.call(inputs.InputIds, inputs.AttentionMask, inputs.TokenTypeIds);
            nn.functional.softmax(logits, 1).data<float>().ToArray();
            long T = inputs.InputIds.shape[1];
            long bucket = (T - 1) / 128 * 128 + 128;
            var (ms, tok, n) = byLength.GetValueOrDefault(bucket);
            byLength[bucket] = (ms + sw.Elapsed.TotalMilliseconds - t0, tok + batch.Length * T, n + 1);
            padded += batch.Length * T;
        }
        Console.WriteLine($"forward total {sw.Elapsed.TotalSeconds:F2} s, {padded:N0} padded tokens, {padded / sw.Elapsed.TotalSeconds:N0} tok/s");
        foreach (var (bucket, (ms, tok, n)) in byLength)
            Console.WriteLine($"  T ≤ {bucket}: {n,4} batches {ms / 1000,6:F2} s  {tok / ms * 1000,9:N0} tok/s");
        return 0;
    }
}
