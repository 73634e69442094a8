using System.CommandLine;

namespace Blockbuster.Cli.Commands;

public static class PredictCommand
{
    public static Command Create() => new("predict", "Classify review texts as positive or negative.");
}
