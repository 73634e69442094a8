using System.CommandLine;
using System.Text.Json;
using Blockbuster.Cli;
using Blockbuster.Cli.Commands;
using Blockbuster.Model.Hub;
using Blockbuster.Training;
using Blockbuster.Training.Evaluation;
using Blockbuster.Training.Tokenization;

namespace Blockbuster.Tests;

/// <summary>--keep-best, --truncation, the model card and the format version.</summary>
[Collection("torch-global-state")]
public class TrainerFeatureTests
{
    static HubClient OfflineHub(TempDir dir) => new(new HubOptions(HubOptions.DefaultEndpoint, null, Offline: true, dir.File("hub-cache")));

    static TrainingOptions Options(TempDir dir, string output) => new()
    {
        Data = File.Exists(dir.File("reviews.csv")) ? dir.File("reviews.csv") : SyntheticReviews.WriteCsv(dir.File("reviews.csv"), 240),
        Model = File.Exists(dir.File("base/config.json")) ? dir.File("base") : TinyModels.WriteBaseFolder(dir.File("base")),
        Output = dir.File(output), Epochs = 4, BatchSize = 8, GradientAccumulation = 1, MaxLength = 32,
        LearningRate = 3e-2, Precision = "fp32", Threads = 1, FullFinetune = true,
    };

    [Fact]
    public async Task Keep_best_exports_the_best_epoch_and_survives_resume()
    {
        using var dir = new TempDir();
        var o = Options(dir, "best") with { KeepBest = true, BestMetric = "loss" };
        var result = await Trainer.RunAsync(o, OfflineHub(dir));

        var evals = File.ReadAllLines(Path.Combine(o.Output, "training_log.jsonl")).Select(l => JsonDocument.Parse(l).RootElement)
            .Where(e => e.TryGetProperty("eval_loss", out _)).ToList();
        Assert.Equal(4, evals.Count);
        int best = evals.Select((e, i) => (Loss: e.GetProperty("eval_loss").GetDouble(), Epoch: i + 1)).MinBy(x => x.Loss).Epoch;
        Assert.Equal(best, result.BestEpoch);
        using var metrics = JsonDocument.Parse(File.ReadAllText(Path.Combine(o.Output, "metrics.json")));
        Assert.Equal(best, metrics.RootElement.GetProperty("best_epoch").GetInt32());
        Assert.Equal(best, metrics.RootElement.GetProperty("epoch").GetInt32());
        Assert.Equal(evals[best - 1].GetProperty("eval_loss").GetDouble(), metrics.RootElement.GetProperty("log_loss").GetDouble());

        // The exported weights are that epoch's: scoring them reproduces its held-out loss.
        var report = await Evaluator.RunAsync(new EvalOptions(o.Output, Threads: 1), OfflineHub(dir));
        Assert.Equal(evals[best - 1].GetProperty("eval_loss").GetDouble(), report.Metrics.LogLoss, 5);

        // Interrupted in the last epoch and resumed: the same best, the same bytes.
        using var cts = new CancellationTokenSource();
        var partial = o with { Output = dir.File("resumed") };
        await Trainer.RunAsync(partial, OfflineHub(dir), new SyncProgress<TrainingEvent>(e => { if (e is StepCompleted { Step: 80 }) cts.Cancel(); }), cts.Token);
        await Trainer.RunAsync(new TrainingOptions { Output = partial.Output, Resume = true, Threads = 1 }, OfflineHub(dir));
        Assert.Equal(File.ReadAllBytes(Path.Combine(o.Output, "model.safetensors")), File.ReadAllBytes(Path.Combine(partial.Output, "model.safetensors")));
    }

    [Fact]
    public void Truncation_keeps_the_head_the_tail_or_both()
    {
        using var dir = new TempDir();
        File.WriteAllLines(dir.File("vocab.txt"), TinyModels.Vocab());
        var tokenizer = BertWordPieceTokenizer.Load(dir.File("vocab.txt"));
        var words = string.Join(' ', Enumerable.Repeat("good bad fun awful", 300));   // 1,200 pieces
        var all = tokenizer.Tokenize(words);
        int[] Body(Truncation t) => tokenizer.Encode(words, 512, t).Ids[1..^1];
        Assert.Equal(all[..510], Body(Truncation.Head));
        Assert.Equal(all[^510..], Body(Truncation.Tail));
        Assert.Equal([.. all[..128], .. all[^382..]], Body(Truncation.HeadTail));   // Sun et al.: 128 + 382
        Assert.True(tokenizer.Encode(words, 512, Truncation.Tail).Truncated);
        var shortText = tokenizer.Encode("good fun", 512, Truncation.HeadTail);
        Assert.False(shortText.Truncated);
        Assert.Equal(tokenizer.Encode("good fun", 512).Ids, shortText.Ids);
    }

    [Fact]
    public async Task The_truncation_is_recorded_and_reused_by_eval_and_predict()
    {
        using var dir = new TempDir();
        var o = Options(dir, "tail") with { Truncation = "head+tail", Epochs = 1 };
        await Trainer.RunAsync(o, OfflineHub(dir));
        Assert.Equal(Truncation.HeadTail, ModelSettings.Truncation(o.Output, null));
        Assert.Equal(Truncation.Tail, ModelSettings.Truncation(o.Output, "tail"));
        using var classifier = await SentimentClassifier.LoadAsync(new PredictOptions(o.Output, Threads: 1), OfflineHub(dir));
        Assert.Equal(Truncation.HeadTail, classifier.Truncation);
    }

    /// <summary>transformers' data_seed: the batch order alone; the split and the initial weights stay the seed's.</summary>
    [Fact]
    public async Task The_data_seed_changes_the_batch_order_and_nothing_else()
    {
        using var dir = new TempDir();
        var plain = Options(dir, "plain") with { Epochs = 1 };
        await Trainer.RunAsync(plain, OfflineHub(dir));
        var same = plain with { Output = dir.File("same"), DataSeed = plain.Seed };
        await Trainer.RunAsync(same, OfflineHub(dir));
        var other = plain with { Output = dir.File("other"), DataSeed = 7 };
        await Trainer.RunAsync(other, OfflineHub(dir));

        string Read(TrainingOptions o, string file) => File.ReadAllText(Path.Combine(o.Output, file));
        Assert.Equal(File.ReadAllBytes(Path.Combine(plain.Output, "model.safetensors")), File.ReadAllBytes(Path.Combine(same.Output, "model.safetensors")));
        Assert.NotEqual(File.ReadAllBytes(Path.Combine(plain.Output, "model.safetensors")), File.ReadAllBytes(Path.Combine(other.Output, "model.safetensors")));
        Assert.Equal(Read(plain, "split.json"), Read(other, "split.json"));
        // The first step's loss is the same initial weights scoring another batch: it differs only through the order.
        var firstLoss = (TrainingOptions o) => JsonDocument.Parse(Read(o, "training_log.jsonl").Split('\n')[0]).RootElement.GetProperty("loss").GetDouble();
        Assert.Equal(firstLoss(plain), firstLoss(same));
        Assert.NotEqual(firstLoss(plain), firstLoss(other));
        using var args = JsonDocument.Parse(Read(other, "training_args.json"));
        Assert.Equal(7, args.RootElement.GetProperty("data_seed").GetInt32());
        Assert.Contains(" --data-seed 7", ModelCard.Command(other));
    }

    [Fact]
    public async Task The_model_card_has_hub_front_matter_and_a_command_that_parses_back_to_the_options()
    {
        using var dir = new TempDir();
        var o = Options(dir, "card") with { Epochs = 1, KeepBest = true, LoraTargets = ["query", "key"], Truncation = "tail", SaveSteps = 7, DataSeed = 3 };
        await Trainer.RunAsync(o, OfflineHub(dir));
        var card = File.ReadAllText(Path.Combine(o.Output, "README.md"));
        Assert.StartsWith("---\n", card);
        foreach (var key in new[] { "license:", "datasets:", "metrics:", "pipeline_tag: text-classification", "model-index:", "- type: accuracy" })
            Assert.Contains(key, card);

        var command = ModelCard.Command(o);
        var parse = CliApp.BuildRoot().Parse(command["blockbuster ".Length..]);
        Assert.Empty(parse.Errors);
        var parsed = TrainCommand.ToOptions(parse);
        Assert.Equal(JsonSerializer.Serialize(o with { Output = parsed.Output, Threads = parsed.Threads }), JsonSerializer.Serialize(parsed));

        using var args = JsonDocument.Parse(File.ReadAllText(Path.Combine(o.Output, "training_args.json")));
        Assert.Equal(TrainingOptions.CurrentFormat, args.RootElement.GetProperty("blockbuster_format").GetInt32());
    }

    [Fact]
    public async Task A_folder_from_a_newer_format_is_refused_on_resume()
    {
        using var dir = new TempDir();
        var o = Options(dir, "future") with { Epochs = 2 };
        using var cts = new CancellationTokenSource();
        await Trainer.RunAsync(o, OfflineHub(dir), new SyncProgress<TrainingEvent>(e => { if (e is StepCompleted { Step: 3 }) cts.Cancel(); }), cts.Token);
        var argsPath = Path.Combine(o.Output, "training_args.json");
        File.WriteAllText(argsPath, File.ReadAllText(argsPath).Replace($"\"blockbuster_format\": {TrainingOptions.CurrentFormat}", "\"blockbuster_format\": 99"));
        var e = await Assert.ThrowsAsync<IOException>(() => Trainer.RunAsync(new TrainingOptions { Output = o.Output, Resume = true }, OfflineHub(dir)));
        Assert.Contains("newer Blockbuster (folder format 99", e.Message);
    }
}
