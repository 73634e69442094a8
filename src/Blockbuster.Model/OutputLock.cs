namespace Blockbuster.Model;

/// <summary>
/// One writer per output folder: an exclusive advisory lock (flock on Linux, taken by .NET for
/// <see cref="FileShare.None"/>) on <c>.NAME.lock</c> beside the folder, held for the whole run. The
/// kernel drops the lock when its process dies, so a lock file left by a killed run is simply taken over.
/// </summary>
public sealed class OutputLock : IDisposable
{
    readonly FileStream stream;
    readonly string path;

    OutputLock(FileStream stream, string path) { this.stream = stream; this.path = path; }

    public static string LockPath(string output)
    {
        var full = Path.GetFullPath(output).TrimEnd(Path.DirectorySeparatorChar);
        return Path.Combine(Path.GetDirectoryName(full)!, $".{Path.GetFileName(full)}.lock");
    }

    public static OutputLock Acquire(string output, string command)
    {
        var path = LockPath(output);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        for (int attempt = 0; ; attempt++)
        {
            FileStream stream;
            try
            {
                stream = new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException)
            {
                throw new IOException($"{output} is in use by another running 'blockbuster' (lock {path}); wait for it to finish or stop it.");
            }
            // A finishing run deletes its lock file; if that happened between our open and our lock, the file we
            // hold is no longer the one at the path: try again on the new one.
            if (!File.Exists(path) && attempt < 3) { stream.Dispose(); continue; }
            stream.SetLength(0);
            using (var writer = new StreamWriter(stream, leaveOpen: true)) writer.Write($"{Environment.ProcessId} blockbuster {command}\n");
            stream.Flush();
            return new OutputLock(stream, path);
        }
    }

    public void Dispose()
    {
        try { File.Delete(path); } catch (IOException) { }
        stream.Dispose();
    }
}
