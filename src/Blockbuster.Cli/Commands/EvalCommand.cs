using System.CommandLine;

namespace Blockbuster.Cli.Commands;

public static class EvalCommand
{
    public static Command Create() => new("eval", "Score a trained model on its held-out split or any labelled CSV.");
}
