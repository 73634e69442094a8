using System.Text.Json;
using Blockbuster.Model.Hub;
using Blockbuster.Training;
using Blockbuster.Training.Data;

namespace Blockbuster.Tests;

/// <summary>The whole trainer on a tiny model and synthetic reviews (seconds, not minutes).</summary>
[Collection("torch-global-state")]
public class TrainerTests
{
    static HubClient OfflineHub(TempDir dir) => new(new HubOptions(HubOptions.DefaultEndpoint, null, Offline: true, dir.File("hub-cache")));

    static TrainingOptions Options(TempDir dir, string output, int reviews = 480) => new()
    {
        Data = File.Exists(dir.File("reviews.csv")) ? dir.File("reviews.csv") : SyntheticReviews.WriteCsv(dir.File("reviews.csv"), reviews),
        Model = File.Exists(dir.File("base/config.json")) ? dir.File("base") : TinyModels.WriteBaseFolder(dir.File("base")),
        Output = dir.File(output), Epochs = 2, BatchSize = 8, GradientAccumulation = 2, MaxLength = 32,
        LearningRate = 5e-3, Precision = "fp32", Threads = 1, FullFinetune = true,
    };

    static string ComparableMetrics(string folder)
    {
        var json = JsonSerializer.Deserialize<Dictionary<string, JsonElement>>(File.ReadAllText(Path.Combine(folder, "metrics.json")))!;
        json.Remove("train_seconds");
        json.Remove("train_tokens_per_second");
        return JsonSerializer.Serialize(json);
    }

    [Fact]
    public async Task Writes_a_complete_output_folder()
    {
        using var dir = new TempDir();
        var o = Options(dir, "out");
        var events = new List<TrainingEvent>();
        var result = await Trainer.RunAsync(o, OfflineHub(dir), new SyncProgress<TrainingEvent>(events.Add));
        Assert.False(result.Interrupted);
        Assert.True(result.Metrics!.Accuracy > 0.8, $"accuracy {result.Metrics.Accuracy}");
        foreach (var file in new[] { "config.json", "model.safetensors", "vocab.txt",
                                     "tokenizer_config.json", "training_args.json", "split.json", "metrics.json", "training_log.jsonl",
                                     "training_curves.png", "checkpoint/trainer_state.json" })
            Assert.True(File.Exists(Path.Combine(o.Output, file)), $"{file} missing");
        using var config = JsonDocument.Parse(File.ReadAllText(Path.Combine(o.Output, "config.json")));
        Assert.Equal("positive", config.RootElement.GetProperty("id2label").GetProperty("1").GetString());
        Assert.Equal("BertForSequenceClassification", config.RootElement.GetProperty("architectures")[0].GetString());
        var split = SplitRecord.Load(Path.Combine(o.Output, "split.json"));
        Assert.Equal(96, split.TestRows.Length);
        Assert.Equal(ReviewCsv.Sha256(o.Data), split.DataSha256);
        Assert.Contains(events, e => e is EpochCompleted { Epoch: 2 });
        var log = File.ReadAllLines(Path.Combine(o.Output, "training_log.jsonl"));
        Assert.Equal(48 + 2, log.Length);   // 2 epochs × 24 steps, plus one eval line each
        Assert.Empty(Directory.GetDirectories(dir.Path, ".out.*"));
    }

    [Fact]
    public async Task Lora_run_writes_a_peft_adapter_folder_beside_the_merged_model()
    {
        using var dir = new TempDir();
        var o = Options(dir, "out") with { FullFinetune = false, Epochs = 1 };
        await Trainer.RunAsync(o, OfflineHub(dir));
        // The adapter has a folder of its own: transformers would apply an adapter_config.json beside
        // model.safetensors on top of the merged weights.
        Assert.False(File.Exists(Path.Combine(o.Output, "adapter_config.json")));
        using var adapter = JsonDocument.Parse(File.ReadAllText(Path.Combine(o.Output, "adapter", "adapter_config.json")));
        Assert.Equal(Path.GetFullPath(o.Model), adapter.RootElement.GetProperty("base_model_name_or_path").GetString());
        Assert.Equal("SEQ_CLS", adapter.RootElement.GetProperty("task_type").GetString());
        var keys = Blockbuster.Model.Checkpoints.SafetensorsFile.ReadHeader(Path.Combine(o.Output, "adapter", "adapter_model.safetensors")).Keys.Order().ToArray();
        Assert.Contains("base_model.model.bert.encoder.layer.0.attention.self.query.lora_A.weight", keys);
        Assert.Contains("base_model.model.classifier.weight", keys);
        Assert.Equal(2 * 2 * 2 + 2, keys.Length);
    }

    [Fact]
    public async Task Lora_from_scratch_writes_no_adapter_since_its_base_weights_were_random()
    {
        using var dir = new TempDir();
        var o = Options(dir, "out", reviews: 96) with { FullFinetune = false, FromScratch = true, Epochs = 1 };
        await Trainer.RunAsync(o, OfflineHub(dir));
        Assert.True(File.Exists(Path.Combine(o.Output, "model.safetensors")));
        Assert.False(Directory.Exists(Path.Combine(o.Output, "adapter")));
    }

    [Fact]
    public async Task Resume_after_interruption_ends_with_exactly_the_uninterrupted_metrics()
    {
        using var dir = new TempDir();
        var straight = Options(dir, "straight");
        await Trainer.RunAsync(straight, OfflineHub(dir));

        // Interrupt in the second epoch, after step 30, as Ctrl+C would.
        var interruptedOptions = straight with { Output = dir.File("interrupted") };
        using var cts = new CancellationTokenSource();
        var first = await Trainer.RunAsync(interruptedOptions, OfflineHub(dir),
            new SyncProgress<TrainingEvent>(e => { if (e is StepCompleted { Step: 30 }) cts.Cancel(); }), cts.Token);
        Assert.True(first.Interrupted);
        Assert.Equal(30, first.Steps);

        var resumed = await Trainer.RunAsync(new TrainingOptions { Output = interruptedOptions.Output, Resume = true, Threads = 1 }, OfflineHub(dir));
        Assert.False(resumed.Interrupted);
        Assert.Equal(ComparableMetrics(straight.Output), ComparableMetrics(interruptedOptions.Output));
        Assert.Equal(File.ReadAllBytes(Path.Combine(straight.Output, "model.safetensors")),
                     File.ReadAllBytes(Path.Combine(interruptedOptions.Output, "model.safetensors")));

        var again = await Assert.ThrowsAsync<IOException>(() => Trainer.RunAsync(new TrainingOptions { Output = interruptedOptions.Output, Resume = true }, OfflineHub(dir)));
        Assert.Contains("already finished", again.Message);
    }

    [Theory]
    [InlineData("fp32")]
    [InlineData("bf16")]
    [InlineData("fp16")]
    public async Task Each_precision_trains(string precision)
    {
        using var dir = new TempDir();
        var o = Options(dir, "out") with { Precision = precision, Epochs = 2 };
        var result = await Trainer.RunAsync(o, OfflineHub(dir));
        Assert.True(result.Metrics!.Accuracy > 0.8, $"{precision}: accuracy {result.Metrics.Accuracy}, no better than chance");
        Assert.True(double.IsFinite(result.Metrics.LogLoss));
        Assert.DoesNotContain("NaN", File.ReadAllText(Path.Combine(o.Output, "training_log.jsonl")));
    }

    [Fact]
    public async Task Existing_output_is_not_replaced_without_overwrite()
    {
        using var dir = new TempDir();
        var o = Options(dir, "out");
        Directory.CreateDirectory(o.Output);
        File.WriteAllText(Path.Combine(o.Output, "keep.txt"), "mine");
        var e = await Assert.ThrowsAsync<IOException>(() => Trainer.RunAsync(o, OfflineHub(dir)));
        Assert.Contains("already exists; pass `overwrite`", e.Message);
        Assert.Equal(["keep.txt"], Directory.GetFiles(o.Output).Select(Path.GetFileName));
    }

    [Fact]
    public async Task Bad_data_fails_before_anything_is_written()
    {
        using var dir = new TempDir();
        var o = Options(dir, "out");
        File.WriteAllText(o.Data, "review,sentiment\n\"fine film\",positive\n\"\",negative\n\"ok\",meh\n");
        var e = await Assert.ThrowsAsync<DataFormatException>(() => Trainer.RunAsync(o, OfflineHub(dir)));
        Assert.Equal("reviews.csv: 2 invalid rows: row 3 has an empty review; row 4 has unknown label 'meh' (labels must be positive/negative, pos/neg or 1/0; pass `skip_invalid_rows` to skip them).", e.Message);
        Assert.False(Directory.Exists(o.Output));
    }
}
