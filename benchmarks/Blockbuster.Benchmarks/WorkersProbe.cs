using System.Diagnostics;
using Blockbuster.Model;
using Blockbuster.Training;
using Blockbuster.Training.Evaluation;
using Blockbuster.Training.Tokenization;
using static TorchSharp.torch;

namespace Blockbuster.Benchmarks;

/// <summary>
/// The eval forward pass over 10k IMDB reviews (random bert-tiny, bf16) through the product's
/// <see cref="Predictor"/>: one two-threaded loop vs two single-threaded workers side by side.
///   workers-probe [batch=64]
/// </summary>
static class WorkersProbe
{
    public static int Run(string[] args)
    {
        TorchRuntime.EnsureLoaded();
        int batchSize = int.Parse(args.ElementAtOrDefault(1) ?? "64");
        var texts = Blockbuster.Training.Data.ReviewCsv.Read(SharedPaths.ImdbCsv).Texts.Take(10_000).ToArray();
        var tokenizer = BertWordPieceTokenizer.Load(Path.Combine(SharedPaths.BertTiny, "vocab.txt"));
        var encodings = tokenizer.EncodeAll(texts, 512);
        using var model = new BertForSequenceClassification(BertConfig.Load(Path.Combine(SharedPaths.BertTiny, "config.json")));
        for (int rep = 0; rep < 2; rep++)
        {
            foreach (int workers in new[] { 1, 2 })
            {
                var predictor = new Predictor(model, tokenizer, CPU, PrecisionPolicy.Bf16, 512, batchSize, workers);
                var clock = Stopwatch.StartNew();
                var probabilities = predictor.Probabilities(encodings);
                Console.WriteLine($"{workers} worker(s), {get_num_threads()} threads in all, batch {batchSize}: {clock.Elapsed.TotalSeconds:F2} s  (check {probabilities.Sum(p => p.Sum()):F1})");
            }
        }
        return 0;
    }
}
