using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Security.Cryptography;
using Polly;
using Polly.Retry;
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
                throw new ModelFormatException($"{repo} is not in the Hugging Face cache ({repoFolder}) and HF_HUB_OFFLINE is set; pass a local model folder with `model` PATH.");
            return (null, Path.Combine(repoFolder, "snapshots", cachedCommit));
        }

        // One process downloads a file at a time (a lock beside its partial file); a second one waits, then finds it cached.
        var partial = Path.Combine(repoFolder, "downloads", Uri.EscapeDataString(revision), file + ".incomplete");
        Directory.CreateDirectory(Path.GetDirectoryName(partial)!);
        using (await FileLock.AcquireAsync(partial + ".lock", cancellationToken).ConfigureAwait(false))
        {
            cachedCommit = CachedCommit(repoFolder, revision);
            cachedPath = cachedCommit is null ? null : Path.Combine(repoFolder, "snapshots", cachedCommit, file);
            if (cachedPath is not null && File.Exists(cachedPath)) return (cachedPath, Path.GetDirectoryName(cachedPath));

            var retry = new ResiliencePipelineBuilder().AddRetry(new RetryStrategyOptions
            {
                ShouldHandle = new PredicateBuilder().Handle<TransientDownloadException>(),
                MaxRetryAttempts = Math.Max(options.Retries, 1), BackoffType = DelayBackoffType.Exponential, UseJitter = true, Delay = options.RetryDelay,
            }).Build();
            try
            {
                return await retry.ExecuteAsync(async token =>
                    await DownloadAttemptAsync(repo, file, revision, repoFolder, cachedCommit, partial, progress, token).ConfigureAwait(false),
                    cancellationToken).ConfigureAwait(false);
            }
            catch (TransientDownloadException e)
            {
                throw new ModelFormatException($"{repo}: downloading {file} from {options.Endpoint} failed {options.Retries + 1} times ({ExceptionText.Clause(e)}); the partial file is kept and the next run resumes it.");
            }
        }
    }

    /// <summary>
    /// One try: resume <paramref name="partial"/> with a Range request when it has bytes, stream the rest with a
    /// stall timeout, check the length and (for LFS files, whose X-Linked-Etag is the sha256) the hash, then move
    /// the file into its snapshot. Transient failures throw <see cref="TransientDownloadException"/>.
    /// </summary>
    async Task<(string? Path, string? Snapshot)> DownloadAttemptAsync(string repo, string file, string revision, string repoFolder, string? cachedCommit,
        string partial, IProgress<DownloadProgress>? progress, CancellationToken cancellationToken)
    {
        var url = $"{options.Endpoint}/{repo}/resolve/{Uri.EscapeDataString(revision)}/{file}";
        long have = File.Exists(partial) ? new FileInfo(partial).Length : 0;
        using var request = new HttpRequestMessage(HttpMethod.Get, url);
        if (options.Token is { } token) request.Headers.Authorization = new("Bearer", token);
        if (have > 0) request.Headers.Range = new RangeHeaderValue(have, null);
        HttpResponseMessage response;
        try
        {
            response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
        }
        catch (HttpRequestException e) when (e.InnerException is SocketException { SocketErrorCode: SocketError.ConnectionRefused or SocketError.HostNotFound or SocketError.TryAgain })
        {
            throw new ModelFormatException($"Could not reach the Hugging Face Hub at {options.Endpoint} for {repo} ({ExceptionText.Clause(e)}), and {file} is not in the cache; pass a local model folder with `model` PATH.");
        }
        catch (Exception e) when (e is HttpRequestException or IOException || (e is TaskCanceledException && !cancellationToken.IsCancellationRequested))
        {
            throw new TransientDownloadException(e.Message, e);
        }
        using (response)
        {
            var commit = response.Headers.TryGetValues("X-Repo-Commit", out var values) ? values.First() : null;
            if (commit is null || !CommitPattern().IsMatch(commit)) commit = cachedCommit ?? (CommitPattern().IsMatch(revision) ? revision : null);
            int status = (int)response.StatusCode;
            if (response.StatusCode == HttpStatusCode.NotFound)
            {
                if (commit is not null) return (null, Path.Combine(repoFolder, "snapshots", commit));
                var body = response.Headers.TryGetValues("X-Error-Code", out var codes) ? codes.First() : "";
                if (body == "RepoNotFound") throw new ModelFormatException($"{repo}: no such repo on {options.Endpoint}.");
                return (null, null);
            }
            if (response.StatusCode is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden)
                throw new ModelFormatException($"{repo}: the Hub refused access ({status}); set HF_TOKEN for private or gated repos.");
            if (response.StatusCode == HttpStatusCode.RequestedRangeNotSatisfiable)
            {
                File.Delete(partial);   // the partial file is no prefix of this file: start over
                throw new TransientDownloadException($"HTTP {status} for bytes {have}-");
            }
            if (status >= 500 || status is 408 or 429) throw new TransientDownloadException($"HTTP {status}");
            if (!response.IsSuccessStatusCode)
                throw new ModelFormatException($"{repo}: downloading {file} failed with HTTP {status} from {options.Endpoint}.");
            commit ??= "0000000000000000000000000000000000000000";

            bool resumed = response.StatusCode == HttpStatusCode.PartialContent && response.Content.Headers.ContentRange?.From == have;
            if (!resumed) have = 0;
            long? total = response.Content.Headers.ContentLength is { } length ? have + length : null;
            long received = have;
            var buffer = new byte[1 << 16];
            try
            {
                await using var source = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
                await using var destination = new FileStream(partial, resumed ? FileMode.Append : FileMode.Create, FileAccess.Write);
                while (true)
                {
                    // A read that brings nothing for StallTimeout is a stalled connection: drop it and resume.
                    using var stall = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                    stall.CancelAfter(options.StallTimeout);
                    int read;
                    try { read = await source.ReadAsync(buffer, stall.Token).ConfigureAwait(false); }
                    catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                    {
                        throw new TransientDownloadException($"no data for {options.StallTimeout.TotalSeconds:0.#} s after {received} bytes");
                    }
                    if (read == 0) break;
                    await destination.WriteAsync(buffer.AsMemory(0, read), cancellationToken).ConfigureAwait(false);
                    received += read;
                    progress?.Report(new DownloadProgress(repo, file, received, total, false));
                }
            }
            catch (IOException e)
            {
                throw new TransientDownloadException($"connection lost after {received} bytes ({ExceptionText.Clause(e)})", e);
            }
            if (total is { } expected && received != expected)
                throw new TransientDownloadException($"ended after {received} of {expected} bytes");

            // LFS files: X-Linked-Etag is the sha256 of the content (huggingface_hub checks it too).
            var etag = (response.Headers.TryGetValues("X-Linked-Etag", out var etags) ? etags.First() : null)?.Trim('"');
            if (etag is { Length: 64 } && etag.All(Uri.IsHexDigit))
            {
                string actual;
                await using (var check = File.OpenRead(partial)) actual = Convert.ToHexStringLower(await SHA256.HashDataAsync(check, cancellationToken).ConfigureAwait(false));
                if (!string.Equals(actual, etag, StringComparison.OrdinalIgnoreCase))
                {
                    File.Delete(partial);
                    throw new ModelFormatException($"{repo}: {file} downloaded with sha256 {actual[..12]}… but the Hub says {etag[..12]}…; the file was discarded, try again.");
                }
            }
            progress?.Report(new DownloadProgress(repo, file, received, total, true));

            var snapshot = Path.Combine(repoFolder, "snapshots", commit);
            Directory.CreateDirectory(snapshot);
            var target = Path.Combine(snapshot, file);
            File.Move(partial, target, overwrite: true);
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
