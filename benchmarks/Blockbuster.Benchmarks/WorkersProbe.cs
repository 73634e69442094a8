using System.Diagnostics;
using Blockbuster.Model;
using static TorchSharp.torch;

namespace Blockbuster.Benchmarks;

/// <summary>Eval forward over 10k reviews: intra-op threads vs concurrent single-threaded workers.</summary>
static class WorkersProbe
{
    public static int Run(string[] args)
    {
        TorchRuntime.EnsureLoaded();
        int workers = int.Parse(args.ElementAtOrDefault(1) ?? "2");
        int batchSize = int.Parse(args.ElementAtOrDefault(2) ?? "64");
        var reviews = Blockbuster.Training.Data.ReviewCsv.Read(SharedPaths.ImdbCsv);
        var texts = reviews.Texts.Take(10_000).ToArray();
        var tokenizer = Blockbuster.Training.Tokenization.BertWordPieceTokenizer.Load(Path.Combine(SharedPaths.BertTiny, "vocab.txt"));
        var enc = tokenizer.EncodeAll(texts, 512);
        var config = BertConfig.Load(Path.Combine(SharedPaths.BertTiny, "config.json"));
        using var model = new BertForSequenceClassification(config);
        model.eval();
        var batches = Blockbuster.Training.Data.LengthBucketSampler.Sorted(enc.Select(e => e.Ids.Length).ToArray(), batchSize);
        var sums = new double[batches.Count];
        void One(int b)
        {
            using var scope = NewDisposeScope();
            using var ng = no_grad();
            using var cast = Autocast.Enable(ScalarType.BFloat16);
            var inputs = Blockbuster.Training.Data.Batch.Collate(batches[b].Select(i => enc[i].Ids).ToArray(), null, 0, CPU, 512);
            var logits = model.call(inputs.InputIds, inputs.AttentionMask, inputs.TokenTypeIds);
            sums[b] = nn.functional.softmax(logits, 1).data<float>().ToArray().Sum();
        }
        for (int rep = 0; rep < 2; rep++)
        {
            set_num_threads(2);
            var sw = Stopwatch.StartNew();
            for (int b = 0; b < batches.Count; b++) One(b);
            Console.WriteLine($"intra-op 2 threads: {sw.Elapsed.TotalSeconds:F2} s  check {sums.Sum():F3}");
            sw.Restart();
            int next = -1;
            var threads = Enumerable.Range(0, workers).Select(_ => new Thread(() =>
            {
                set_num_threads(1);
                int b;
                while ((b = Interlocked.Increment(ref next)) < batches.Count) One(b);
            })).ToArray();
            foreach (var t in threads) t.Start();
            foreach (var t in threads) t.Join();
            Console.WriteLine($"{workers} workers x 1 thread: {sw.Elapsed.TotalSeconds:F2} s  check {sums.Sum():F3}");
        }
        return 0;
    }
}
