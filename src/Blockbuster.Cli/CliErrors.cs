using Blockbuster.Model;
using Blockbuster.Training.Data;

namespace Blockbuster.Cli;

/// <summary>Known failures become one line on stderr and an exit code; only a bug shows a stack trace.</summary>
public static class CliErrors
{
    public static async Task<int> RunAsync(string command, Func<Task<int>> action)
    {
        try
        {
            return await action().ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            Console.Error.WriteLine($"blockbuster {command}: interrupted.");
            return CliApp.Interrupted;
        }
        catch (UsageException e)
        {
            Console.Error.WriteLine($"blockbuster {command}: {Flag(e.Option)} {OneLine(Flags(e.Problem))}");
            return CliApp.UsageError;
        }
        catch (Exception e) when (IsUserFacing(e))
        {
            Console.Error.WriteLine($"blockbuster {command}: {OneLine(Flags(e.Message))}");
            return CliApp.Failure;
        }
    }

    // Usage errors are UsageException (exit 2); any other ArgumentException from the libraries is a bug and
    // keeps its stack trace.
    static bool IsUserFacing(Exception e) => e is ModelFormatException or DataFormatException or TorchUnavailableException
        or IOException or UnauthorizedAccessException or FormatException or InvalidDataException;

    /// <summary>An options-record name (batch_size) as this CLI spells the flag (--batch-size).</summary>
    public static string Flag(string option) => option switch
    {
        "learning_rate" => "--lr",
        "gradient_accumulation_steps" => "--gradient-accumulation",
        "metric_for_best_model" => "--best-metric",
        _ => "--" + option.Replace('_', '-'),
    };

    /// <summary>The libraries name options as the records do, in backquotes (`from_scratch`); here they become flags.</summary>
    static string Flags(string problem) => System.Text.RegularExpressions.Regex.Replace(problem, "`([a-z0-9_]+)`", m => Flag(m.Groups[1].Value));

    static string OneLine(string message) => string.Join(' ', message.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
}
