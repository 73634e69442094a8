using System.CommandLine;
using System.Text.Json;
using Blockbuster.Cli.Rendering;
using Blockbuster.Model.Hub;
using Blockbuster.Training.Evaluation;
using Spectre.Console;

namespace Blockbuster.Cli.Commands;

/// <summary><c>blockbuster eval</c>: parse → <see cref="EvalOptions"/> → <see cref="Evaluator"/> → table or JSON.</summary>
public static class EvalCommand
{
    static readonly EvalOptions Defaults = new();

    internal static readonly Option<string> Model = new("--model", "-m") { Description = "trained model folder, Hugging Face classifier folder, PEFT adapter folder or Hub id", DefaultValueFactory = _ => Defaults.Model };
    internal static readonly Option<string?> Data = new("--data") { Description = "labelled CSV to score (default: the held-out split saved by train)" };
    internal static readonly Option<int?> MaxLength = new("--max-length") { Description = "tokens per review (default: as trained, else 512)" };
    internal static readonly Option<int> BatchSize = new("--batch-size") { Description = "reviews per inference batch", DefaultValueFactory = _ => Defaults.BatchSize };
    internal static readonly Option<bool> Json = new("--json") { Description = "print one JSON object instead of tables" };
    internal static readonly Option<string?> Predictions = new("--predictions") { Description = "write text, label, predicted label and probability per review to this CSV" };
    internal static readonly Option<string?> Plot = new("--plot") { Description = "draw the confusion matrix to this PNG (scoring the saved split also writes confusion_matrix.png beside metrics.json)" };
    internal static readonly Option<string> Precision = CommonOptions.Precision();
    internal static readonly Option<string> Device = CommonOptions.Device();
    internal static readonly Option<int> Threads = CommonOptions.Threads();
    internal static readonly Option<string> TextColumn = CommonOptions.TextColumn();
    internal static readonly Option<string> LabelColumn = CommonOptions.LabelColumn();
    internal static readonly Option<bool> SkipInvalidRows = CommonOptions.SkipInvalidRows();
    internal static readonly Option<string> Encoding = CommonOptions.Encoding();
    internal static readonly Option<string> Truncation = CommonOptions.Truncation(null);
    internal static readonly Option<bool> Windows = CommonOptions.Windows();
    internal static readonly Option<string?> Quantize = CommonOptions.InferenceQuantize();
    internal static readonly Option<bool> DoubleQuant = CommonOptions.DoubleQuant();

    public static Command Create()
    {
        var command = new Command("eval", """
            Score a trained model: accuracy, precision, recall and F1 (positive class = positive), confusion matrix,
            ROC AUC, log loss and throughput. Without --data it scores the held-out split that train saved.

            Examples:
              blockbuster eval
              blockbuster eval --model ./blockbuster-model --json
              blockbuster eval --data other-reviews.csv --predictions predictions.csv --plot other-confusion.png
            """);
        foreach (var option in new Option[] { Model, Data, MaxLength, BatchSize, Json, Predictions, Plot, Precision, Device, Threads, TextColumn, LabelColumn, SkipInvalidRows, Encoding, Truncation, Windows, Quantize, DoubleQuant })
            command.Options.Add(option);
        command.SetAction(RunAsync);
        return command;
    }

    public static EvalOptions ToOptions(ParseResult p) => new(
        p.GetValue(Model)!, p.GetValue(Data), p.GetValue(TextColumn)!, p.GetValue(LabelColumn)!, p.GetValue(SkipInvalidRows),
        p.GetValue(MaxLength), p.GetValue(BatchSize), p.GetValue(Device)!, p.GetValue(Threads), p.GetValue(Precision)!, p.GetValue(Predictions), p.GetValue(Plot), p.GetValue(Encoding)!, p.GetValue(Truncation), CommonOptions.Nf4(p.GetValue(Quantize), p.GetValue(DoubleQuant)), CommonOptions.Int8(p.GetValue(Quantize)),
        p.GetValue(Windows));

    static Task<int> RunAsync(ParseResult parse, CancellationToken cancellationToken) => CliErrors.RunAsync("eval", async () =>
    {
        var options = ToOptions(parse);
        var report = await Evaluator.RunAsync(options, new HubClient(HubOptions.FromEnvironment()), null, cancellationToken).ConfigureAwait(false);
        if (parse.GetValue(Json)) Console.WriteLine(ToJson(report).ToJsonString(JsonOutput.Options));
        else Render(report);
        return CliApp.Success;
    });

    /// <summary>The report as one JSON object: the metrics as <see cref="ClassificationMetrics"/> serialises them, plus the run's facts.</summary>
    public static System.Text.Json.Nodes.JsonObject ToJson(EvalReport r)
    {
        var json = new System.Text.Json.Nodes.JsonObject { ["model"] = r.ModelFolder, ["model_kind"] = r.ModelKind, ["data"] = r.Source };
        foreach (var (key, value) in r.Metrics.ToJsonObject()) json[key] = value?.DeepClone();
        json["labels"] = new System.Text.Json.Nodes.JsonArray([.. r.Labels.Select(l => (System.Text.Json.Nodes.JsonNode)l)]);
        json["reviews_per_second"] = Math.Round(r.ReviewsPerSecond, 1);
        json["load_seconds"] = Math.Round(r.LoadTime.TotalSeconds, 3);
        json["score_seconds"] = Math.Round(r.ScoreTime.TotalSeconds, 3);
        json["windows"] = r.Windows;
        json["precision_mode"] = r.Precision;
        json["confusion_matrix_png"] = r.ConfusionMatrixPng;
        json["predictions"] = r.PredictionsPath;
        return json;
    }

    static void Render(EvalReport r)
    {
        AnsiConsole.MarkupLine($"Model [bold]{Markup.Escape(r.ModelFolder)}[/] ({r.ModelKind}) on {Markup.Escape(r.Source)}");
        MetricsTable.Write(AnsiConsole.Console, r.Metrics, "Metrics", r.Labels);
        var windows = r.Windows > r.Metrics.Count ? $", read in {r.Windows:N0} windows" : "";
        AnsiConsole.MarkupLine($"[grey]{r.ReviewsPerSecond:N0} reviews/s ({r.Precision}{windows}); scored in {r.ScoreTime.TotalSeconds:F1} s after {r.LoadTime.TotalSeconds:F1} s loading[/]");
        if (r.ConfusionMatrixPng is { } png) AnsiConsole.MarkupLine($"[grey]confusion matrix: {Markup.Escape(png)}[/]");
        if (r.PredictionsPath is { } predictions) AnsiConsole.MarkupLine($"[grey]predictions: {Markup.Escape(predictions)}[/]");
    }
}
