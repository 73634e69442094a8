using System.Net;
using System.Text.RegularExpressions;

namespace Blockbuster.Model.Hub;

/// <summary>
/// Resolves a model argument to a local folder. A folder that exists is used as is. Otherwise the
/// argument is a Hub repo id (<c>org/name</c>) looked up in the standard Hub cache
/// (<c>models--org--name/refs/main</c> → <c>snapshots/&lt;commit&gt;/file</c>), so a cache that Python
/// transformers filled is reused; missing files are downloaded from <c>{endpoint}/{repo}/resolve/{revision}/{file}</c>
/// into that layout, through a temporary file renamed into place when complete.
/// </summary>
public sealed partial class HubClient(HubOptions options, HttpClient? http = null)
{
    readonly HttpClient http = http ?? new HttpClient { Timeout = TimeSpan.FromMinutes(30) };

    public HubOptions Options => options;

    [GeneratedRegex(@"^[A-Za-z0-9]([A-Za-z0-9._-]{0,94}[A-Za-z0-9])?(/[A-Za-z0-9]([A-Za-z0-9._-]{0,94}[A-Za-z0-9])?)?$")]
    private static partial Regex RepoIdPattern();

    [GeneratedRegex("^[0-9a-f]{40}$")]
    private static partial Regex CommitPattern();

    public static bool LooksLikeLocalPath(string model) =>
        model.StartsWith('.') || model.StartsWith('/') || model.StartsWith('~') || model.Contains('\\') ||
        Path.IsPathRooted(model) || model.Count(c => c == '/') > 1;

    public static void ValidateRepoId(string repo)
    {
        if (!RepoIdPattern().IsMatch(repo) || repo.Contains("..", StringComparison.Ordinal) || repo.Contains("--", StringComparison.Ordinal))
            throw new ModelFormatException($"'{repo}' is neither an existing folder nor a valid Hugging Face repo id (org/name).");
    }

    public static void ValidateFileName(string file)
    {
        if (file.Length == 0 || file.Contains('/') || file.Contains('\\') || file.Contains("..", StringComparison.Ordinal) || file.StartsWith('.'))
            throw new ModelFormatException($"'{file}' is not a valid file name in a Hub repo.");
    }

    public string RepoCacheFolder(string repo) => Path.Combine(options.CacheDir, "models--" + repo.Replace("/", "--", StringComparison.Ordinal));

    /// <summary>
    /// Returns a folder holding the model's files. <paramref name="required"/> must all exist; of each
    /// group in <paramref name="anyOf"/> the first one found is enough; <paramref name="optional"/> are fetched when present.
    /// </summary>
    public async Task<string> ResolveAsync(string model, IReadOnlyList<string> required, IReadOnlyList<string[]> anyOf,
        IReadOnlyList<string> optional, IProgress<DownloadProgress>? progress = null, string revision = "main",
        CancellationToken cancellationToken = default)
    {
        var expanded = model.StartsWith('~')
            ? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), model.TrimStart('~').TrimStart('/'))
            : model;
        if (Directory.Exists(expanded)) return Path.GetFullPath(expanded);
        if (File.Exists(expanded)) throw new ModelFormatException($"{model}: expected a model folder, found a file.");
        if (LooksLikeLocalPath(model)) throw new ModelFormatException($"{model}: model folder not found.");
        ValidateRepoId(model);
        if (revision.Contains('/') || revision.Contains("..", StringComparison.Ordinal))
            throw new ModelFormatException($"'{revision}' is not a valid revision.");

        string? snapshot = null;
        async Task<bool> Fetch(string file)
        {
            ValidateFileName(file);
            var (path, folder) = await EnsureFileAsync(model, file, revision, progress, cancellationToken).ConfigureAwait(false);
            snapshot ??= folder;
            return path is not null;
        }

        foreach (var file in required)
            if (!await Fetch(file).ConfigureAwait(false))
                throw new ModelFormatException($"{model}: the repo has no {file}.");
        foreach (var group in anyOf)
        {
            bool found = false;
            foreach (var file in group)
                if (await Fetch(file).ConfigureAwait(false)) { found = true; break; }
            if (!found) throw new ModelFormatException($"{model}: the repo has none of {string.Join(", ", group)}.");
        }
        foreach (var file in optional) await Fetch(file).ConfigureAwait(false);
        return snapshot ?? throw new ModelFormatException($"{model}: nothing to resolve.");
    }

    /// <summary>(path of the file or null when the repo lacks it, snapshot folder).</summary>
    async Task<(string? Path, string? Snapshot)> EnsureFileAsync(string repo, string file, string revision,
        IProgress<DownloadProgress>? progress, CancellationToken cancellationToken)
    {
        var repoFolder = RepoCacheFolder(repo);
        var cachedCommit = CachedCommit(repoFolder, revision);
        var cachedPath = cachedCommit is null ? null : Path.Combine(repoFolder, "snapshots", cachedCommit, file);
        if (cachedPath is not null && File.Exists(cachedPath)) return (cachedPath, Path.GetDirectoryName(cachedPath));
        if (cachedCommit is not null && File.Exists(Path.Combine(repoFolder, ".no_exist", cachedCommit, file)))
            return (null, Path.Combine(repoFolder, "snapshots", cachedCommit));

        if (options.Offline)
        {
            if (cachedCommit is null)
                throw new ModelFormatException($"{repo} is not in the Hugging Face cache ({repoFolder}) and HF_HUB_OFFLINE is set; pass a local model folder with --model PATH.");
            return (null, Path.Combine(repoFolder, "snapshots", cachedCommit));
        }

        var url = $"{options.Endpoint}/{repo}/resolve/{Uri.EscapeDataString(revision)}/{file}";
        using var request = new HttpRequestMessage(HttpMethod.Get, url);
        if (options.Token is { } token) request.Headers.Authorization = new("Bearer", token);
        HttpResponseMessage response;
        try
        {
            response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
        {
            throw new ModelFormatException($"Could not reach the Hugging Face Hub at {options.Endpoint} for {repo} ({e.Message}), and {file} is not in the cache; pass a local model folder with --model PATH.");
        }
        using (response)
        {
            var commit = response.Headers.TryGetValues("X-Repo-Commit", out var values) ? values.First() : null;
            if (commit is null || !CommitPattern().IsMatch(commit)) commit = cachedCommit ?? (CommitPattern().IsMatch(revision) ? revision : null);
            if (response.StatusCode == HttpStatusCode.NotFound)
            {
                if (commit is not null) return (null, Path.Combine(repoFolder, "snapshots", commit));
                var body = response.Headers.TryGetValues("X-Error-Code", out var codes) ? codes.First() : "";
                if (body == "RepoNotFound") throw new ModelFormatException($"{repo}: no such repo on {options.Endpoint}.");
                return (null, null);
            }
            if (response.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden)
                throw new ModelFormatException($"{repo}: the Hub refused access ({(int)response.StatusCode}); set HF_TOKEN for private or gated repos.");
            if (!response.IsSuccessStatusCode)
                throw new ModelFormatException($"{repo}: downloading {file} failed with HTTP {(int)response.StatusCode} from {options.Endpoint}.");
            commit ??= "0000000000000000000000000000000000000000";

            var snapshot = Path.Combine(repoFolder, "snapshots", commit);
            Directory.CreateDirectory(snapshot);
            var target = Path.Combine(snapshot, file);
            var temp = target + $".{Guid.NewGuid():N}.incomplete";
            long? total = response.Content.Headers.ContentLength;
            try
            {
                await using (var source = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false))
                await using (var destination = new FileStream(temp, FileMode.CreateNew, FileAccess.Write))
                {
                    var buffer = new byte[1 << 16];
                    long received = 0;
                    int read;
                    while ((read = await source.ReadAsync(buffer, cancellationToken).ConfigureAwait(false)) > 0)
                    {
                        await destination.WriteAsync(buffer.AsMemory(0, read), cancellationToken).ConfigureAwait(false);
                        received += read;
                        progress?.Report(new DownloadProgress(repo, file, received, total, false));
                    }
                    if (total is { } expected && received != expected)
                        throw new ModelFormatException($"{repo}: download of {file} ended after {received} of {expected} bytes.");
                    progress?.Report(new DownloadProgress(repo, file, received, total, true));
                }
                File.Move(temp, target, overwrite: true);
            }
            finally
            {
                if (File.Exists(temp)) File.Delete(temp);
            }
            Directory.CreateDirectory(Path.Combine(repoFolder, "refs"));
            if (!CommitPattern().IsMatch(revision)) AtomicFile.WriteAllText(Path.Combine(repoFolder, "refs", revision), commit);
            return (target, snapshot);
        }
    }

    static string? CachedCommit(string repoFolder, string revision)
    {
        if (CommitPattern().IsMatch(revision) && Directory.Exists(Path.Combine(repoFolder, "snapshots", revision))) return revision;
        var reference = Path.Combine(repoFolder, "refs", revision);
        if (!File.Exists(reference)) return null;
        var commit = File.ReadAllText(reference).Trim();
        return commit.Length > 0 ? commit : null;
    }
}
