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
        catch (Exception e) when (IsUserFacing(e))
        {
            Console.Error.WriteLine($"blockbuster {command}: {OneLine(e.Message)}");
            return e.GetType() == typeof(ArgumentException) ? CliApp.UsageError : CliApp.Failure;
        }
    }

    // Option validation throws plain ArgumentException (a usage error, exit 2); its subclasses
    // (ArgumentNullException, ArgumentOutOfRangeException) mean a bug and keep their stack trace.
    static bool IsUserFacing(Exception e) => e is ModelFormatException or DataFormatException or TorchUnavailableException
        or IOException or UnauthorizedAccessException or FormatException or InvalidDataException
        || e.GetType() == typeof(ArgumentException);

    static string OneLine(string message) => string.Join(' ', message.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
}
