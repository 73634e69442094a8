using System.Security.Cryptography;
using Blockbuster.Model.Hub;
using Blockbuster.Training;
using Blockbuster.Training.Evaluation;

namespace Blockbuster.Tests;

/// <summary>
/// A Hugging Face cache as huggingface_hub fills it: <c>refs/main</c> holds the commit and every
/// <c>snapshots/&lt;commit&gt;/file</c> is a relative symlink to <c>../../blobs/&lt;sha256&gt;</c>.
/// </summary>
[Collection("torch-global-state")]
public class HubCacheLayoutTests
{
    const string Commit = "fedcba9876543210fedcba9876543210fedcba98";

    /// <summary>Copies a model folder into the cache as <paramref name="repo"/>, each file a blob behind a link.</summary>
    static void AddToCache(string cache, string repo, string folder)
    {
        var repoFolder = Path.Combine(cache, "models--" + repo.Replace("/", "--"));
        var snapshot = Directory.CreateDirectory(Path.Combine(repoFolder, "snapshots", Commit)).FullName;
        Directory.CreateDirectory(Path.Combine(repoFolder, "blobs"));
        Directory.CreateDirectory(Path.Combine(repoFolder, "refs"));
        File.WriteAllText(Path.Combine(repoFolder, "refs", "main"), Commit);
        foreach (var file in Directory.GetFiles(folder))
        {
            var bytes = File.ReadAllBytes(file);
            var blob = Convert.ToHexStringLower(SHA256.HashData(bytes));
            File.WriteAllBytes(Path.Combine(repoFolder, "blobs", blob), bytes);
            File.CreateSymbolicLink(Path.Combine(snapshot, Path.GetFileName(file)), Path.Combine("..", "..", "blobs", blob));
        }
    }

    [Fact]
    public async Task Train_eval_predict_and_an_adapter_on_a_hub_id_read_through_the_links()
    {
        using var dir = new TempDir();
        var cache = dir.File("hub");
        var hub = new HubClient(new HubOptions(HubOptions.DefaultEndpoint, null, Offline: true, cache));
        AddToCache(cache, "test-org/tiny-bert", TinyModels.WriteBaseFolder(dir.File("base")));
        var link = Path.Combine(cache, "models--test-org--tiny-bert", "snapshots", Commit, "model.safetensors");
        Assert.NotNull(new FileInfo(link).LinkTarget);

        // train on a Hub id whose weights are a link; LoRA, so the adapter names the Hub id as its base.
        var options = new TrainingOptions
        {
            Data = SyntheticReviews.WriteCsv(dir.File("reviews.csv"), 160), Model = "test-org/tiny-bert", Output = dir.File("out"),
            Epochs = 1, BatchSize = 8, MaxLength = 32, LearningRate = 1e-3, Precision = "fp32", Threads = 1,
        };
        var trained = await Trainer.RunAsync(options, hub);
        Assert.NotNull(trained.Metrics);

        // eval and predict of the adapter folder, whose base resolves through the cache.
        var adapter = Path.Combine(options.Output, "adapter");
        var report = await Evaluator.RunAsync(new EvalOptions(adapter, Data: options.Data, Threads: 1), hub);
        Assert.Equal("adapter", report.ModelKind);
        using (var classifier = await SentimentClassifier.LoadAsync(new PredictOptions(adapter, Threads: 1), hub))
            Assert.NotNull(classifier.Predict(["a great fun movie"])[0].Label);

        // A trained classifier published to the cache and used by its Hub id.
        var published = dir.File("published");
        Directory.CreateDirectory(published);
        foreach (var file in new[] { "config.json", "model.safetensors", "vocab.txt", "tokenizer_config.json" })
            File.Copy(Path.Combine(options.Output, file), Path.Combine(published, file));
        AddToCache(cache, "test-org/tiny-sentiment", published);
        var byId = await Evaluator.RunAsync(new EvalOptions("test-org/tiny-sentiment", Data: options.Data, Threads: 1), hub);
        Assert.Equal(report.Metrics.Count, byId.Metrics.Count);
        using (var classifier = await SentimentClassifier.LoadAsync(new PredictOptions("test-org/tiny-sentiment", Threads: 1), hub))
            Assert.NotNull(classifier.Predict(["an awful boring film"])[0].Label);
    }
}
