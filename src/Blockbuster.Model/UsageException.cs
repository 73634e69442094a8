namespace Blockbuster.Model;

/// <summary>
/// A value the caller chose is not usable. <see cref="Option"/> names it as the options records do
/// (<c>batch_size</c>); a front end (the CLI) maps that to its own spelling (<c>--batch-size</c>). Any
/// other <see cref="ArgumentException"/> from these libraries is a bug, not a usage error.
/// </summary>
public sealed class UsageException(string option, string problem) : ArgumentException($"{option} {problem}")
{
    public string Option { get; } = option;
    public string Problem { get; } = problem;
}
