using Blockbuster.Model;
using Blockbuster.Model.Hub;
using Blockbuster.Training;
using Blockbuster.Training.Evaluation;

namespace Blockbuster.Tests;

/// <summary>The API an application embeds: SentimentClassifier (single, batched, concurrent) and from-scratch training with nothing but the tool.</summary>
[Collection("torch-global-state")]
public class LibraryApiTests(TrainedTinyModel trained) : IClassFixture<TrainedTinyModel>
{
    [Fact]
    public async Task Concurrent_callers_get_the_answers_of_one_caller()
    {
        using var classifier = await SentimentClassifier.LoadAsync(new PredictOptions(trained.Output, Threads: 2, Precision: "fp32"), trained.Hub);
        var texts = SyntheticReviews.Make(40, seed: 9).Select(r => r.Text).ToArray();
        var alone = classifier.Predict(texts);
        var together = new SentimentPrediction[texts.Length];
        await Task.WhenAll(Enumerable.Range(0, 8).Select(worker => Task.Run(() =>
        {
            for (int i = worker; i < texts.Length; i += 8) together[i] = classifier.Predict(texts[i]);
        })));
        for (int i = 0; i < texts.Length; i++)
        {
            Assert.Equal(alone[i].Label, together[i].Label);
            Assert.Equal(alone[i].Probability, together[i].Probability, 5);
        }
        Assert.Equal(alone.Select(p => p.Label), classifier.Predict(texts.AsEnumerable()).Select(p => p.Label));
    }

    [Fact]
    public async Task Int8_scoring_on_two_workers_agrees_with_fp32()
    {
        var texts = SyntheticReviews.Make(60, seed: 11).Select(r => r.Text).ToArray();
        using var fp32 = await SentimentClassifier.LoadAsync(new PredictOptions(trained.Output, Threads: 2, Precision: "fp32"), trained.Hub);
        using var int8 = await SentimentClassifier.LoadAsync(new PredictOptions(trained.Output, BatchSize: 8, Threads: 2, Precision: "fp32", Int8: true), trained.Hub);
        var reference = fp32.Predict(texts);
        var quantised = int8.Predict(texts);   // 8 batches, taken by both workers at once
        for (int i = 0; i < texts.Length; i++)
        {
            Assert.InRange(Math.Abs(reference[i].Probabilities["positive"] - quantised[i].Probabilities["positive"]), 0, 0.05);
            if (Math.Abs(reference[i].Probabilities["positive"] - 0.5) > 0.05) Assert.Equal(reference[i].Label, quantised[i].Label);
        }
    }

    [Fact]
    public async Task The_default_model_trains_from_scratch_offline_with_the_embedded_config_and_vocabulary()
    {
        using var dir = new TempDir();
        var data = SyntheticReviews.WriteCsv(dir.File("reviews.csv"), 200);
        var offline = new HubClient(new HubOptions(HubOptions.DefaultEndpoint, null, Offline: true, dir.File("empty-cache")));
        var options = new TrainingOptions
        {
            Data = data, Output = dir.File("model"), FromScratch = true, FullFinetune = true, Epochs = 1, MaxLength = 16, BatchSize = 8,
            Precision = "fp32", Threads = 1,
        };
        Assert.Equal(EmbeddedBertTiny.RepoId, options.Model);
        await Trainer.RunAsync(options, offline);
        var config = BertConfig.Load(Path.Combine(options.Output, "config.json"));
        Assert.Equal((128, 2, 2, 30522), (config.HiddenSize, config.NumHiddenLayers, config.NumAttentionHeads, config.VocabSize));
        Assert.Equal(File.ReadAllBytes(Path.Combine(Paths.BertTiny, "vocab.txt")), File.ReadAllBytes(Path.Combine(options.Output, "vocab.txt")));
    }
}
