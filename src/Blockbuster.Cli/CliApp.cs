using System.CommandLine;
using Blockbuster.Cli.Commands;

namespace Blockbuster.Cli;

/// <summary>The <c>blockbuster</c> command tree and its exit codes: 0 success, 1 failure, 2 usage error, 130 interrupted.</summary>
public static class CliApp
{
    public const int Success = 0;
    public const int Failure = 1;
    public const int UsageError = 2;
    public const int Interrupted = 130;

    public static RootCommand BuildRoot()
    {
        var root = new RootCommand("Blockbuster: movie-review sentiment with BERT + LoRA, trained and served in .NET.")
        {
            TrainCommand.Create(),
            EvalCommand.Create(),
            PredictCommand.Create(),
            PretrainCommand.Create(),
            DistillCommand.Create(),
            ExportCommand.Create(),
            AverageCommand.Create(),
            ServeCommand.Create(),
        };
        return root;
    }

    public static async Task<int> RunAsync(string[] args)
    {
        var root = BuildRoot();
        var parse = root.Parse(args);
        if (parse.Errors.Count > 0)
        {
            var command = parse.CommandResult.Command;
            var name = command == root ? "blockbuster" : $"blockbuster {command.Name}";
            // One line: System.CommandLine lists the allowed values of an option one per line, tab-indented.
            var message = System.Text.RegularExpressions.Regex.Replace(parse.Errors[0].Message, @":?\s*\r?\n\t", m => m.Value.StartsWith(':') ? ": " : ", ");
            Console.Error.WriteLine($"{name}: {message} (see '{name} --help')");
            return UsageError;
        }
        // Ctrl+C cancels the action's token; training then saves a checkpoint, which may take a while. SIGTERM
        // (kill, docker stop, a job scheduler) does the same instead of ending the process mid-step.
        var configuration = new InvocationConfiguration { ProcessTerminationTimeout = TimeSpan.FromMinutes(2) };
        using var terminate = new CancellationTokenSource();
        using var sigterm = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGTERM, context =>
        {
            context.Cancel = true;   // keep running until the action has stopped at a safe point
            try { terminate.Cancel(); }
            catch (ObjectDisposedException) { }   // a late signal while the command is already returning
        });
        return await parse.InvokeAsync(configuration, terminate.Token).ConfigureAwait(false);
    }
}
