namespace Blockbuster.Tests;

/// <summary>Locations of the repository and of the read-only <c>../shared</c> inputs beside it.</summary>
public static class Paths
{
    public static string RepoRoot { get; } = FindRepoRoot();
    public static string Shared => Path.GetFullPath(Path.Combine(RepoRoot, "..", "shared"));
    public static string MiniLm => Path.Combine(Shared, "models", "all-MiniLM-L6-v2");
    public static string BertTiny => Path.Combine(Shared, "models", "bert-tiny");
    public static string ImdbCsv => Path.Combine(Shared, "data", "imdb.csv");

    static string FindRepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Blockbuster.sln"))) dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("Blockbuster.sln not found above the test folder.");
    }
}

/// <summary>A temporary folder removed when the test ends.</summary>
public sealed class TempDir : IDisposable
{
    public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "blockbuster-tests", Guid.NewGuid().ToString("N"));
    public TempDir() => Directory.CreateDirectory(Path);
    public string File(string name) => System.IO.Path.Combine(Path, name);
    public void Dispose() { try { Directory.Delete(Path, recursive: true); } catch (IOException) { } }
}
