namespace Blockbuster.Model;

/// <summary>
/// A test hook for crash safety: with <c>BLOCKBUSTER_CRASH_AT=NAME:N</c> in the environment, the process
/// SIGKILLs itself the N-th time it reaches the point called NAME (a training step, the middle of an
/// evaluation, a written but not yet swapped output folder, between the swap's two renames), so tests can
/// kill a real run at moments a timer cannot hit. Without the variable it costs one comparison.
/// </summary>
public static class CrashPoints
{
    static readonly (string Name, int Count)? Target = Parse(Environment.GetEnvironmentVariable("BLOCKBUSTER_CRASH_AT"));
    static int hits;

    public static void Reach(string name)
    {
        if (Target is not { } target || target.Name != name) return;
        if (Interlocked.Increment(ref hits) == target.Count) System.Diagnostics.Process.GetCurrentProcess().Kill();
    }

    static (string, int)? Parse(string? value)
    {
        if (string.IsNullOrEmpty(value)) return null;
        var parts = value.Split(':');
        return (parts[0], parts.Length > 1 && int.TryParse(parts[1], out var n) ? n : 1);
    }
}
