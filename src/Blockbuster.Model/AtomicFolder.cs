namespace Blockbuster.Model;

/// <summary>
/// Writes a whole folder as one unit: its contents go into a temporary sibling, which then replaces the old
/// folder by rename, so an interrupted write (even kill -9) leaves either the old folder or the new one.
/// A crash between the two renames leaves the old folder under <c>.NAME.old-*</c>; <see cref="Recover"/>
/// puts it back.
/// </summary>
public static class AtomicFolder
{
    public static void Write(string output, Action<string> writeContents)
    {
        var full = Path.GetFullPath(output);
        var parent = Path.GetDirectoryName(full)!;
        Directory.CreateDirectory(parent);
        Recover(full);
        var temp = Path.Combine(parent, $".{Path.GetFileName(full)}.tmp-{Guid.NewGuid():N}");
        Directory.CreateDirectory(temp);
        try
        {
            writeContents(temp);
            CrashPoints.Reach("save-written");
            Swap(temp, full);
        }
        finally
        {
            if (Directory.Exists(temp)) Directory.Delete(temp, recursive: true);
        }
    }

    /// <summary>Restores a folder a crash left renamed aside, and clears temporary folders of dead writes.</summary>
    public static void Recover(string output)
    {
        var full = Path.GetFullPath(output);
        var parent = Path.GetDirectoryName(full)!;
        if (!Directory.Exists(parent)) return;
        var name = Path.GetFileName(full);
        var aside = Directory.GetDirectories(parent, $".{name}.old-*");
        if (!Directory.Exists(full) && aside.Length > 0) Directory.Move(aside[0], full);
        foreach (var stale in Directory.GetDirectories(parent, $".{name}.old-*")) Directory.Delete(stale, recursive: true);
        foreach (var stale in Directory.GetDirectories(parent, $".{name}.tmp-*")) Directory.Delete(stale, recursive: true);
    }

    static void Swap(string temp, string output)
    {
        if (!Directory.Exists(output))
        {
            Directory.Move(temp, output);
            return;
        }
        var old = Path.Combine(Path.GetDirectoryName(output)!, $".{Path.GetFileName(output)}.old-{Guid.NewGuid():N}");
        Directory.Move(output, old);
        CrashPoints.Reach("save-swap");
        try
        {
            Directory.Move(temp, output);
        }
        catch
        {
            Directory.Move(old, output);
            throw;
        }
        Directory.Delete(old, recursive: true);
    }
}
