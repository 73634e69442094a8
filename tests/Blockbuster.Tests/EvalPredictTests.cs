using System.Text.Json;
using Blockbuster.Cli;
using Blockbuster.Model;
using Blockbuster.Model.Checkpoints;
using Blockbuster.Model.Hub;
using Blockbuster.Training;
using Blockbuster.Training.Data;
using Blockbuster.Training.Evaluation;

namespace Blockbuster.Tests;

/// <summary>One tiny LoRA model trained on synthetic reviews, shared by the eval and predict tests.</summary>
public sealed class TrainedTinyModel : IDisposable
{
    public TempDir Dir { get; } = new();
    public string Output => Dir.File("model");
    public string Data => Dir.File("reviews.csv");
    public string Base => Dir.File("base");
    public double BaseAccuracy { get; }
    public double Accuracy { get; }
    public HubClient Hub => new(new HubOptions(HubOptions.DefaultEndpoint, null, Offline: true, Dir.File("hub")));

    public TrainedTinyModel()
    {
        SyntheticReviews.WriteCsv(Data, 480);
        // A tiny "pretrained" base (fully trained on the task), then LoRA on top of it, as with a real checkpoint.
        var options = new TrainingOptions
        {
            Data = Data, Model = TinyModels.WriteBaseFolder(Dir.File("random")), Output = Base, Epochs = 3, BatchSize = 8, MaxLength = 32,
            LearningRate = 5e-3, Precision = "fp32", Threads = 1, FullFinetune = true,
        };
        BaseAccuracy = Trainer.RunAsync(options, Hub).GetAwaiter().GetResult().Metrics!.Accuracy;
        Accuracy = Trainer.RunAsync(options with { Model = Base, Output = Output, FullFinetune = false, LearningRate = 1e-3, Epochs = 1 }, Hub).GetAwaiter().GetResult().Metrics!.Accuracy;
    }

    public void Dispose() => Dir.Dispose();
}

[Collection("torch-global-state")]
public class EvalPredictTests(TrainedTinyModel trained) : IClassFixture<TrainedTinyModel>
{
    /// <summary>The fixture's models learned the task (checked here, not in the fixture, so a weak model fails one test, not the class).</summary>
    [Fact]
    public void The_fixture_models_learned_the_task()
    {
        Assert.True(trained.BaseAccuracy > 0.9, $"base model accuracy {trained.BaseAccuracy}");
        Assert.True(trained.Accuracy > 0.9, $"LoRA model accuracy {trained.Accuracy}");
    }

    [Fact]
    public async Task Eval_of_the_saved_split_reproduces_metrics_json()
    {
        var report = await Evaluator.RunAsync(new EvalOptions(trained.Output, Threads: 1), trained.Hub);
        using var saved = JsonDocument.Parse(File.ReadAllText(Path.Combine(trained.Output, "metrics.json")));
        var root = saved.RootElement;
        Assert.Equal(root.GetProperty("accuracy").GetDouble(), report.Metrics.Accuracy);
        Assert.Equal(root.GetProperty("precision").GetDouble(), report.Metrics.Precision);
        Assert.Equal(root.GetProperty("recall").GetDouble(), report.Metrics.Recall);
        Assert.Equal(root.GetProperty("f1").GetDouble(), report.Metrics.F1);
        // eval loads the merged weights (W + B·A·s precomputed); training scored base + LoRA separately: float noise only.
        Assert.Equal(root.GetProperty("log_loss").GetDouble(), report.Metrics.LogLoss, 6);
        Assert.Equal(96, report.Metrics.Count);
        Assert.True(File.Exists(Path.Combine(trained.Output, "confusion_matrix.png")));
        Assert.StartsWith("held-out split of reviews.csv", report.Source);
    }

    [Fact]
    public async Task A_tampered_or_missing_data_file_is_detected()
    {
        var copy = trained.Dir.File("tampered");
        CopyFolder(trained.Output, copy);
        var split = SplitRecord.Load(Path.Combine(copy, "split.json"));
        var changed = trained.Dir.File("changed.csv");
        File.WriteAllText(changed, File.ReadAllText(trained.Data).Replace("great", "grate"));
        File.WriteAllText(Path.Combine(copy, "split.json"), (split with { DataPath = changed }).ToJson());
        var e = await Assert.ThrowsAsync<DataFormatException>(() => Evaluator.RunAsync(new EvalOptions(copy), trained.Hub));
        Assert.Contains("changed since training", e.Message);
        Assert.Contains("`data`", e.Message);

        File.WriteAllText(Path.Combine(copy, "split.json"), (split with { DataPath = trained.Dir.File("gone.csv") }).ToJson());
        e = await Assert.ThrowsAsync<DataFormatException>(() => Evaluator.RunAsync(new EvalOptions(copy), trained.Hub));
        Assert.Contains("missing; pass `data` PATH", e.Message);
    }

    [Fact]
    public async Task Eval_scores_any_csv_and_writes_predictions()
    {
        var other = SyntheticReviews.WriteCsv(trained.Dir.File("other.csv"), 60, seed: 9);
        var predictions = trained.Dir.File("predictions.csv");
        var plot = trained.Dir.File("other-confusion.png");
        var report = await Evaluator.RunAsync(new EvalOptions(trained.Output, Data: other, PredictionsPath: predictions, PlotPath: plot), trained.Hub);
        Assert.Equal(60, report.Metrics.Count);
        Assert.Equal(plot, report.ConfusionMatrixPng);   // --plot draws it for any --data
        using (var bitmap = SkiaSharp.SKBitmap.Decode(plot)) Assert.Equal(ConfusionPlot.Width, bitmap.Width);
        Assert.True(report.Metrics.Accuracy > 0.8);
        var rows = ReviewCsv.Read(predictions, new ReviewCsvOptions("text", "label"));
        Assert.Equal(60, rows.Count);
        Assert.Equal("text,label,predicted,probability", File.ReadLines(predictions).First());
    }

    [Fact]
    public async Task Loads_all_three_folder_kinds_to_the_same_predictions()
    {
        string[] texts = ["great fun film, loved it!", "awful boring plot. hated it."];
        var fromTrain = await Predict(trained.Output, texts);

        // A plain transformers folder: config.json + pytorch_model.bin, nothing else of ours.
        var plain = trained.Dir.File("plain");
        Directory.CreateDirectory(plain);
        foreach (var f in new[] { "config.json", "vocab.txt" }) File.Copy(Path.Combine(trained.Output, f), Path.Combine(plain, f));
        PytorchBinFile.Write(Path.Combine(plain, "pytorch_model.bin"), SafetensorsFile.Read(Path.Combine(trained.Output, "model.safetensors")));
        var fromPlain = await Predict(plain, texts);

        // A PEFT adapter folder: adapter_config.json + adapter_model.safetensors over the base it names
        // (only those two files, as PEFT's save_pretrained writes them; the tokenizer comes from the base).
        var adapter = trained.Dir.File("adapter");
        Directory.CreateDirectory(adapter);
        foreach (var f in new[] { "adapter_config.json", "adapter_model.safetensors" }) File.Copy(Path.Combine(trained.Output, "adapter", f), Path.Combine(adapter, f));
        var fromAdapter = await Predict(adapter, texts);
        var fromAdapterAsWritten = await Predict(Path.Combine(trained.Output, "adapter"), texts);

        Assert.Equal(["positive", "negative"], fromTrain.Select(p => p.Label));
        for (int i = 0; i < texts.Length; i++)
        {
            Assert.Equal(fromTrain[i].Label, fromPlain[i].Label);
            Assert.Equal(fromTrain[i].Probability, fromPlain[i].Probability, 12);
            Assert.Equal(fromTrain[i].Label, fromAdapter[i].Label);
            Assert.Equal(fromTrain[i].Probability, fromAdapter[i].Probability, 5);
            Assert.Equal(fromAdapter[i].Probability, fromAdapterAsWritten[i].Probability, 12);
        }
    }

    async Task<IReadOnlyList<SentimentPrediction>> Predict(string model, string[] texts)
    {
        using var classifier = await SentimentClassifier.LoadAsync(new PredictOptions(model, Threads: 1, Precision: "fp32"), trained.Hub);
        return classifier.Predict(texts);
    }

    [Fact]
    public async Task Predict_command_reads_args_file_csv_and_stdin()
    {
        var file = trained.Dir.File("texts.txt");
        File.WriteAllText(file, "loved it, great fun\nawful and boring\n");
        var csv = trained.Dir.File("texts.csv");
        File.WriteAllText(csv, "id,review\n1,\"great, good, loved\"\n2,hated it\n");

        var (code, output, _) = await Cli(["predict", "--model", trained.Output, "great fun film"]);
        Assert.Equal(0, code);
        Assert.Matches(@"^positive 0\.\d\d$", output.Trim());

        (code, output, _) = await Cli(["predict", "--model", trained.Output, "--file", file]);
        Assert.Equal(["positive", "negative"], output.Trim().Split('\n').Select(l => l.Split(' ')[0]));

        (code, output, _) = await Cli(["predict", "--model", trained.Output, "--file", csv, "--json"]);
        var objects = output.Trim().Split('\n').Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.Equal(2, objects.Count);
        Assert.Equal("great, good, loved", objects[0].GetProperty("text").GetString());
        Assert.Equal(1.0, objects[0].GetProperty("probabilities").EnumerateObject().Sum(p => p.Value.GetDouble()), 5);
        Assert.False(objects[0].GetProperty("truncated").GetBoolean());

        (code, output, _) = await Cli(["predict", "--model", trained.Output, "-", "--json"], stdin: "boring bad film\n\ngreat fun\n");
        Assert.Equal(0, code);
        var lines = output.Trim().Split('\n');
        Assert.Equal("negative", JsonDocument.Parse(lines[0]).RootElement.GetProperty("label").GetString());
        Assert.Equal("empty text", JsonDocument.Parse(lines[1]).RootElement.GetProperty("error").GetString());
        Assert.Equal("positive", JsonDocument.Parse(lines[2]).RootElement.GetProperty("label").GetString());
    }

    [Fact]
    public async Task Predict_reports_truncation_empty_text_and_bad_files_clearly()
    {
        var (code, output, error) = await Cli(["predict", "--model", trained.Output, "--json", string.Join(' ', Enumerable.Repeat("great", 200))]);
        Assert.Equal(0, code);
        var json = JsonDocument.Parse(output).RootElement;
        Assert.True(json.GetProperty("truncated").GetBoolean());
        Assert.Equal(32, json.GetProperty("tokens").GetInt32());

        (code, output, error) = await Cli(["predict", "--model", trained.Output, "   "]);
        Assert.Equal(1, code);
        Assert.Contains("text 1: empty text", error);
        (code, _, error) = await Cli(["predict", "--model", trained.Output]);
        Assert.Equal(2, code);
        Assert.Contains("no text to classify", error);

        var bad = trained.Dir.File("bad.txt");
        File.WriteAllBytes(bad, [0x67, 0x6f, 0x6f, 0x64, 0x0a, 0xff, 0xfe]);
        (code, _, error) = await Cli(["predict", "--model", trained.Output, "--file", bad]);
        Assert.Equal(1, code);
        Assert.Equal("blockbuster predict: bad.txt: invalid UTF-8 at line 2 (byte offset 5: 0xFF); convert the file with " +
                     "'iconv -f latin1 -t utf-8 bad.txt > bad-utf8.txt' or pass --encoding latin1.", error.Trim());

        (code, _, error) = await Cli(["predict", "--model", trained.Dir.File("no-such-model"), "x"]);
        Assert.Equal(1, code);
        Assert.Single(error.Trim().Split('\n'));
    }

    [Fact]
    public async Task Windows_read_a_long_text_whole_and_refuse_a_truncation()
    {
        var text = string.Join(' ', Enumerable.Repeat("great", 200));
        var (code, output, _) = await Cli(["predict", "--model", trained.Output, "--json", "--windows", text]);
        Assert.Equal(0, code);
        var json = JsonDocument.Parse(output).RootElement;
        Assert.False(json.GetProperty("truncated").GetBoolean());
        Assert.Equal(202, json.GetProperty("tokens").GetInt32());             // every token read, in 7 windows of 30
        Assert.Equal("positive", json.GetProperty("label").GetString());

        var longReviews = trained.Dir.File("long.csv");
        File.WriteAllLines(longReviews, ["review,sentiment", $"{text},positive", "awful and boring,negative"]);
        (code, output, _) = await Cli(["eval", "--model", trained.Output, "--data", longReviews, "--windows", "--json"]);
        Assert.Equal(0, code);
        json = JsonDocument.Parse(output).RootElement;
        Assert.Equal(2, json.GetProperty("count").GetInt32());
        Assert.Equal(8, json.GetProperty("windows").GetInt32());              // 7 + 1

        var (refused, _, error) = await Cli(["eval", "--model", trained.Output, "--windows", "--truncation", "tail"]);
        Assert.Equal(2, refused);
        Assert.Single(error.Trim().Split('\n'));
        Assert.Contains("--windows", error);
    }

    [Fact]
    public async Task Predict_streams_a_large_file_in_chunks_and_counts_notes_past_the_first_few()
    {
        // 10,000 lines (more than two chunks), 31 of them empty: every line gets an output line in order, the
        // first 20 notes are listed and the rest counted.
        var file = trained.Dir.File("many.txt");
        var lines = Enumerable.Range(0, 10_000).Select(i => i % 333 == 5 ? "" : i % 2 == 0 ? "great fun, loved it" : "awful and boring").ToList();
        File.WriteAllLines(file, lines);
        var (code, output, error) = await Cli(["predict", "--model", trained.Output, "--file", file]);
        Assert.Equal(0, code);
        var results = output.TrimEnd().Split('\n');
        Assert.Equal(10_000, results.Length);
        Assert.Equal("(empty)", results[5]);
        Assert.StartsWith("positive", results[0]);
        Assert.StartsWith("negative", results[9_999]);
        var notes = error.Trim().Split('\n');
        Assert.Equal(21, notes.Length);
        Assert.Equal("blockbuster predict: 31 empty and 0 truncated texts in all (the first 20 were listed).", notes[^1]);
    }

    [Fact]
    public async Task Average_writes_the_mean_of_the_weights_and_refuses_models_it_cannot_average()
    {
        var soup = trained.Dir.File("soup");
        var (code, _, error) = await Cli(["average", "--model", $"{trained.Base},{trained.Output}", "--output", soup]);
        Assert.True(code == 0, error);
        // Every weight is the mean of the two models' as eval loads them (the second one's LoRA merged).
        using (var a = (await ModelFolder.ForInferenceAsync(trained.Hub, trained.Base)).Model)
        using (var b = (await ModelFolder.ForInferenceAsync(trained.Hub, trained.Output)).Model)
        {
            var (first, second) = (ModelExport.MergedStateDict(a), ModelExport.MergedStateDict(b));
            var averaged = SafetensorsFile.Read(Path.Combine(soup, "model.safetensors"));
            Assert.Equal(first.Keys.Order(), averaged.Keys.Order());
            Assert.Contains(first.Keys, key => !first[key].allclose(second[key], rtol: 0, atol: 0));   // LoRA moved some weights
            foreach (var (key, tensor) in averaged)
                Assert.True(tensor.allclose((first[key] + second[key]) / 2, rtol: 0, atol: 1e-6), key);
        }
        // It keeps their split.json: eval scores the held-out reviews.
        (code, var output, _) = await Cli(["eval", "--model", soup, "--json"]);
        Assert.Equal(0, code);
        Assert.Equal(96, JsonDocument.Parse(output).RootElement.GetProperty("count").GetInt32());

        var refused = trained.Dir.File("refused");
        (code, _, error) = await Cli(["average", "--model", trained.Base, "--output", refused]);
        Assert.Equal(2, code);
        Assert.Equal("blockbuster average: --model takes two or more classifier folders to average, got 1.", error.Trim());
        var otherShape = TinyModels.WriteClassifierFolder(trained.Dir.File("other-shape"), config: TinyModels.Config() with { IntermediateSize = 48 });
        (code, _, error) = await Cli(["average", "--model", trained.Base, "--model", otherShape, "--output", refused]);
        Assert.Equal(1, code);
        Assert.Single(error.Trim().Split('\n'));
        Assert.Contains("bert.encoder.layer.0.intermediate.dense.weight is [48, 16], [32, 16] in", error);
        var noSplit = TinyModels.WriteClassifierFolder(trained.Dir.File("no-split"));
        (code, _, error) = await Cli(["average", "--model", trained.Base, "--model", noSplit, "--output", refused]);
        Assert.Equal(1, code);
        Assert.Contains("split.json differs", error);
        Assert.False(Directory.Exists(refused));   // nothing half-written
    }

    [Fact]
    public async Task Eval_command_prints_json_that_parses()
    {
        var (code, output, _) = await Cli(["eval", "--model", trained.Output, "--json"]);
        Assert.Equal(0, code);
        var json = JsonDocument.Parse(output).RootElement;
        Assert.Equal(96, json.GetProperty("count").GetInt32());
        Assert.InRange(json.GetProperty("f1").GetDouble(), 0.8, 1.0);
        Assert.True(json.GetProperty("reviews_per_second").GetDouble() > 0);
    }

    static async Task<(int Code, string Output, string Error)> Cli(string[] args, string stdin = "")
    {
        var (oldOut, oldErr, oldIn) = (Console.Out, Console.Error, Console.In);
        var output = new StringWriter();
        var error = new StringWriter();
        Console.SetOut(output);
        Console.SetError(error);
        Console.SetIn(new StringReader(stdin));
        var oldStdin = Blockbuster.Cli.Commands.PredictCommand.StandardInput;
        Blockbuster.Cli.Commands.PredictCommand.StandardInput = () => new MemoryStream(System.Text.Encoding.UTF8.GetBytes(stdin));
        try
        {
            int code = await CliApp.RunAsync(args);
            return (code, output.ToString(), error.ToString());
        }
        finally
        {
            Console.SetOut(oldOut);
            Console.SetError(oldErr);
            Console.SetIn(oldIn);
            Blockbuster.Cli.Commands.PredictCommand.StandardInput = oldStdin;
        }
    }

    static void CopyFolder(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var file in Directory.GetFiles(from)) File.Copy(file, Path.Combine(to, Path.GetFileName(file)));
    }
}
