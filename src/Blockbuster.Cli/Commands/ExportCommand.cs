using System.CommandLine;
using Blockbuster.Model.Hub;
using Blockbuster.Training.Export;
using Spectre.Console;

namespace Blockbuster.Cli.Commands;

/// <summary><c>blockbuster export</c>: parse → <see cref="ExportOptions"/> → <see cref="OnnxExporter"/> → one summary.</summary>
public static class ExportCommand
{
    static readonly ExportOptions Defaults = new();

    internal static readonly Option<string> Model = new("--model", "-m") { Description = "trained model folder, Hugging Face classifier folder, PEFT adapter folder or Hub id", DefaultValueFactory = _ => Defaults.Model };
    internal static readonly Option<string> Format = new("--format") { Description = "export format", DefaultValueFactory = _ => Defaults.Format };
    internal static readonly Option<string> Output = new("--output", "-o") { Description = "folder to write (model.onnx, config.json and the tokenizer files)", DefaultValueFactory = _ => Defaults.Output };
    internal static readonly Option<bool> Int8 = new("--int8") { Description = "dynamically quantised graph for CPUs: MatMul weights int8 per output column, activations quantised at run time (as Optimum's ORTQuantizer)" };
    internal static readonly Option<bool> Overwrite = new("--overwrite") { Description = "replace an existing output folder" };

    public static Command Create()
    {
        Format.AcceptOnlyFromAmong("onnx");
        var command = new Command("export", """
            Export a trained classifier (LoRA merged) as ONNX for ONNX Runtime, Optimum's ORTModelForSequenceClassification and
            transformers.js: model.onnx (opset 17; inputs input_ids, attention_mask, token_type_ids; output logits), config.json,
            vocab.txt, tokenizer_config.json and Hugging Face's tokenizer.json.

            Examples:
              blockbuster export --model ./blockbuster-model --format onnx --output ./blockbuster-onnx
              blockbuster export --model ./blockbuster-model --format onnx --int8 --output ./blockbuster-onnx-int8
            """);
        foreach (var option in new Option[] { Model, Format, Output, Int8, Overwrite }) command.Options.Add(option);
        command.SetAction(RunAsync);
        return command;
    }

    public static ExportOptions ToOptions(ParseResult p) =>
        new(p.GetValue(Model)!, p.GetValue(Format)!, p.GetValue(Output)!, p.GetValue(Int8), p.GetValue(Overwrite));

    static Task<int> RunAsync(ParseResult parse, CancellationToken cancellationToken) => CliErrors.RunAsync("export", async () =>
    {
        var report = await OnnxExporter.RunAsync(ToOptions(parse), new HubClient(HubOptions.FromEnvironment()), cancellationToken).ConfigureAwait(false);
        AnsiConsole.MarkupLine($"Exported [bold]{Markup.Escape(report.ModelKind)}[/] to [bold]{Markup.Escape(report.Output)}[/]: " +
                               $"ONNX opset {report.Opset}{(report.Int8 ? ", int8 dynamic quantisation" : ", fp32")}, {report.ModelBytes / 1e6:F1} MB, " +
                               $"labels {Markup.Escape(string.Join(", ", report.Labels))}, max length {report.MaxLength}");
        AnsiConsole.MarkupLine($"[grey]{Markup.Escape(string.Join("  ", report.Files))}[/]");
        return CliApp.Success;
    });
}
