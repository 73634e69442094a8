using Blockbuster.Model;
using Blockbuster.Training;
using Blockbuster.Training.Evaluation;
using Blockbuster.Training.Tokenization;
using static TorchSharp.torch;

namespace Blockbuster.Tests;

/// <summary>Batched inference: two workers side by side give every text the probabilities it gets alone.</summary>
[Collection("torch-global-state")]
public sealed class PredictorTests : IDisposable
{
    readonly string folder = Path.Combine(Path.GetTempPath(), $"bb-predictor-{Guid.NewGuid():N}");
    readonly BertForSequenceClassification model;
    readonly BertWordPieceTokenizer tokenizer;
    readonly Encoding[] encodings;

    public PredictorTests()
    {
        Directory.CreateDirectory(folder);
        File.WriteAllLines(Path.Combine(folder, "vocab.txt"), TinyModels.Vocab());
        tokenizer = BertWordPieceTokenizer.Load(Path.Combine(folder, "vocab.txt"));
        using var generator = new Generator(11);   // its own generator: other tests may draw from the global one meanwhile
        model = new BertForSequenceClassification(TinyModels.Config().WithLabels(["negative", "positive"]));
        using (no_grad())
            foreach (var p in model.parameters()) p.normal_(0, 0.5, generator);   // larger than BERT's init, so texts score apart
        // 31 texts of 1 to 40 words, in no length order.
        var words = new[] { "good", "bad", "the", "movie", "awful", "fun", "plot" };
        encodings = tokenizer.EncodeAll(Enumerable.Range(0, 31)
            .Select(i => string.Join(' ', Enumerable.Range(0, 1 + i * 7 % 40).Select(j => words[(i + j * j) % 7]))).ToArray(), 64);
    }

    public void Dispose()
    {
        model.Dispose();
        Directory.Delete(folder, recursive: true);
    }

    [Fact]
    public void Two_workers_score_every_text_as_it_scores_alone_in_input_order()
    {
        var reports = new List<int>();
        var batched = new Predictor(model, tokenizer, CPU, PrecisionPolicy.Fp32, 64, batchSize: 3, workers: 2)
            .Probabilities(encodings, new SyncProgress<int>(reports.Add));
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

    [Fact]
    public void A_text_read_in_windows_scores_the_mean_of_its_windows()
    {
        // Texts of 1, 3 and 2 windows, batched together across texts.
        Encoding[][] windows = [[encodings[0]], [encodings[5], encodings[9], encodings[20]], [encodings[3], encodings[30]]];
        var reports = new List<int>();
        var together = new Predictor(model, tokenizer, CPU, PrecisionPolicy.Fp32, 64, batchSize: 2, workers: 2)
            .Probabilities(windows, new SyncProgress<int>(reports.Add));
        var alone = new Predictor(model, tokenizer, CPU, PrecisionPolicy.Fp32, 64, batchSize: 1, workers: 1);

        Assert.Equal(3, together.Length);
        for (int i = 0; i < windows.Length; i++)
        {
            double mean = windows[i].Average(w => alone.Probabilities([w])[0][1]);
            Assert.Equal(mean, together[i][1], 1e-5);
            Assert.Equal(1.0, together[i][0] + together[i][1], 1e-5);
        }
        Assert.Equal(alone.Probabilities([encodings[0]])[0], together[0]);   // one window: its own probabilities, exactly
        Assert.Equal(3, reports.Max());                                     // progress counts texts, not windows
    }

    [Fact]
    public void A_cancelled_run_throws_from_the_workers_and_restores_the_mode()
    {
        model.train();
        var predictor = new Predictor(model, tokenizer, CPU, PrecisionPolicy.Fp32, 64, batchSize: 3, workers: 2);
        Assert.ThrowsAny<OperationCanceledException>(() => predictor.Probabilities(encodings, null, new CancellationToken(canceled: true)));
        Assert.True(model.training);
    }
}
