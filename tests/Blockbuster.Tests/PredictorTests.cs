using Blockbuster.Model;
using Blockbuster.Training;
using Blockbuster.Training.Evaluation;
using Blockbuster.Training.Tokenization;
using static TorchSharp.torch;

namespace Blockbuster.Tests;

/// <summary>Batched inference: two workers side by side give every text the probabilities it gets alone.</summary>
public class PredictorTests
{
    static (BertForSequenceClassification Model, BertWordPieceTokenizer Tokenizer) TinyClassifier(string folder)
    {
        Directory.CreateDirectory(folder);
        File.WriteAllLines(Path.Combine(folder, "vocab.txt"), TinyModels.Vocab());
        using var generator = new Generator(11);   // its own generator: other tests may draw from the global one meanwhile
        var model = new BertForSequenceClassification(TinyModels.Config().WithLabels(["negative", "positive"]));
        using (no_grad())
            foreach (var p in model.parameters()) p.normal_(0, 0.5, generator);   // larger than BERT's init, so texts score apart
        return (model, BertWordPieceTokenizer.Load(Path.Combine(folder, "vocab.txt")));
    }

    static string[] Texts() => Enumerable.Range(0, 31).Select(i =>
        string.Join(' ', Enumerable.Range(0, 1 + i * 7 % 40).Select(j => new[] { "good", "bad", "the", "movie", "awful", "fun", "plot" }[(i + j * j) % 7]))).ToArray();

    [Fact]
    public void Two_workers_score_every_text_as_it_scores_alone_in_input_order()
    {
        var folder = Path.Combine(Path.GetTempPath(), $"bb-predictor-{Guid.NewGuid():N}");
        try
        {
            var (model, tokenizer) = TinyClassifier(folder);
            using var _ = model;
            var encodings = tokenizer.EncodeAll(Texts(), 64);
            var reports = new List<int>();
            var progress = new SyncProgress<int>(reports.Add);
            var batched = new Predictor(model, tokenizer, CPU, PrecisionPolicy.Fp32, 64, batchSize: 3, workers: 2).Probabilities(encodings, progress);
            var alone = new Predictor(model, tokenizer, CPU, PrecisionPolicy.Fp32, 64, batchSize: 1, workers: 1);

            // Texts score 0.732 to 0.752 here: a text given another one's row would be off by far more than 1e-5.
            Assert.True(batched.Select(p => p[1]).Max() - batched.Select(p => p[1]).Min() > 1e-2, "the texts should score differently");
            for (int i = 0; i < encodings.Length; i++)
            {
                var single = alone.Probabilities([encodings[i]])[0];
                Assert.Equal(single[1], batched[i][1], 1e-5);
                Assert.Equal(1.0, batched[i][0] + batched[i][1], 1e-5);
            }
            Assert.Equal(11, reports.Count);                        // one report per batch of 3 (31 texts)
            Assert.Equal(encodings.Length, reports.Max());
            Assert.Equal(reports.Order(), reports);                  // running totals only grow
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public void A_cancelled_run_throws_from_the_workers()
    {
        var folder = Path.Combine(Path.GetTempPath(), $"bb-predictor-{Guid.NewGuid():N}");
        try
        {
            var (model, tokenizer) = TinyClassifier(folder);
            using var _ = model;
            model.train();
            var encodings = tokenizer.EncodeAll(Texts(), 64);
            var predictor = new Predictor(model, tokenizer, CPU, PrecisionPolicy.Fp32, 64, batchSize: 3, workers: 2);
            Assert.ThrowsAny<OperationCanceledException>(() => predictor.Probabilities(encodings, null, new CancellationToken(canceled: true)));
            Assert.True(model.training);   // the mode it was in is restored
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
