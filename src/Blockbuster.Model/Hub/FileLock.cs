namespace Blockbuster.Model.Hub;

/// <summary>
/// An exclusive advisory lock on a file (flock on Linux via <see cref="FileShare.None"/>), waited for: two
/// processes filling the same cache take turns per file. The kernel drops it when its holder dies.
/// </summary>
public static class FileLock
{
    public static async Task<IDisposable> AcquireAsync(string path, CancellationToken cancellationToken)
    {
        while (true)
        {
            try
            {
                return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException) when (File.Exists(path))
            {
                await Task.Delay(200, cancellationToken).ConfigureAwait(false);
            }
        }
    }
}
