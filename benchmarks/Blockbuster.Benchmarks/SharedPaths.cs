namespace Blockbuster.Benchmarks;

/// <summary>The read-only inputs in ../shared beside the repository.</summary>
static class SharedPaths
{
    public static string RepoRoot { get; } = Find();
    public static string Shared => Path.GetFullPath(Path.Combine(RepoRoot, "..", "shared"));
    public static string ImdbCsv => Path.Combine(Shared, "data", "imdb.csv");
    public static string BertTiny => Path.Combine(Shared, "models", "bert-tiny");
    public static string MiniLm => Path.Combine(Shared, "models", "all-MiniLM-L6-v2");

    static string Find()
    {
        foreach (var start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
        {
            var dir = new DirectoryInfo(start);
            while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Blockbuster.sln"))) dir = dir.Parent;
            if (dir is not null) return dir.FullName;
        }
        throw new InvalidOperationException("Run from inside the Blockbuster repository.");
    }
}
