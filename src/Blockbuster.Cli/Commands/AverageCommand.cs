using System.CommandLine;
using Blockbuster.Model.Hub;
using Blockbuster.Training.Averaging;
using Spectre.Console;

namespace Blockbuster.Cli.Commands;

/// <summary><c>blockbuster average</c>: parse → <see cref="AverageOptions"/> → <see cref="ModelAverager"/> → one summary.</summary>
public static class AverageCommand
{
    internal static readonly Option<string[]> Model = new("--model", "-m")
    {
        Description = "classifier folders to average (two or more, comma-separated or repeated): one shape, vocabulary and split, fine-tuned from the same start",
        AllowMultipleArgumentsPerToken = true,
        Required = true,
        CustomParser = r => r.Tokens.SelectMany(t => t.Value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).ToArray(),
    };
    internal static readonly Option<string> Output = new("--output", "-o") { Description = "folder to write the averaged classifier to", DefaultValueFactory = _ => new AverageOptions([]).Output };
    internal static readonly Option<bool> Overwrite = new("--overwrite") { Description = "replace an existing output folder" };

    public static Command Create()
    {
        var command = new Command("average", """
            Average the weights of classifiers fine-tuned from the same start into one model of the same size (a uniform
            "model soup", Wortsman et al. 2022; mergekit's linear merge): e.g. two students distilled from one base with
            other options. The output is an ordinary classifier folder that eval, predict, serve and export load; it keeps
            the models' shared split.json, so eval scores their held-out reviews.

            Examples:
              blockbuster average --model ./student-a,./student-b --output ./student-soup
              blockbuster eval --model ./student-soup
            """);
        foreach (var option in new Option[] { Model, Output, Overwrite }) command.Options.Add(option);
        command.SetAction(RunAsync);
        return command;
    }

    public static AverageOptions ToOptions(ParseResult p) => new(p.GetValue(Model) ?? [], p.GetValue(Output)!, p.GetValue(Overwrite));

    static Task<int> RunAsync(ParseResult parse, CancellationToken cancellationToken) => CliErrors.RunAsync("average", async () =>
    {
        var report = await ModelAverager.RunAsync(ToOptions(parse), new HubClient(HubOptions.FromEnvironment()), cancellationToken).ConfigureAwait(false);
        AnsiConsole.MarkupLine($"Averaged {report.Models.Count} models into [bold]{Markup.Escape(report.Output)}[/]: {report.Parameters:N0} parameters, " +
                               $"labels {Markup.Escape(string.Join(", ", report.Labels))}" +
                               (report.SplitKept ? ", their split.json kept (eval scores its held-out reviews)" : ", no split.json (eval needs --data)"));
        return CliApp.Success;
    });
}
