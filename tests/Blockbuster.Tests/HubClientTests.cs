using System.Net;
using System.Net.Sockets;
using Blockbuster.Model;
using Blockbuster.Model.Hub;

namespace Blockbuster.Tests;

/// <summary>
/// A tiny Hub on 127.0.0.1 serving <c>/{repo}/resolve/{revision}/{file}</c> from a folder, with the
/// X-Repo-Commit header the real Hub sends. Counts requests so tests can see the cache at work.
/// </summary>
sealed class LoopbackHub : IDisposable
{
    public const string Commit = "0123456789abcdef0123456789abcdef01234567";
    readonly HttpListener listener = new();
    readonly string root;
    readonly string repo;
    public int Requests;
    public string? LastAuthorization;
    public string Endpoint { get; }

    public LoopbackHub(string repo, string root)
    {
        this.repo = repo;
        this.root = root;
        int port = FreePort();
        Endpoint = $"http://127.0.0.1:{port}";
        listener.Prefixes.Add(Endpoint + "/");
        listener.Start();
        _ = Task.Run(Serve);
    }

    static int FreePort()
    {
        var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        int port = ((IPEndPoint)l.LocalEndpoint).Port;
        l.Stop();
        return port;
    }

    async Task Serve()
    {
        while (listener.IsListening)
        {
            HttpListenerContext context;
            try { context = await listener.GetContextAsync(); } catch { return; }
            Interlocked.Increment(ref Requests);
            LastAuthorization = context.Request.Headers["Authorization"];
            var prefix = $"/{repo}/resolve/main/";
            var path = context.Request.Url!.AbsolutePath;
            var file = path.StartsWith(prefix, StringComparison.Ordinal) ? Path.Combine(root, path[prefix.Length..]) : null;
            if (!path.StartsWith($"/{repo}/", StringComparison.Ordinal))
            {
                context.Response.StatusCode = 404;
                context.Response.Headers["X-Error-Code"] = "RepoNotFound";
            }
            else if (file is null || !File.Exists(file))
            {
                context.Response.StatusCode = 404;
                context.Response.Headers["X-Repo-Commit"] = Commit;
                context.Response.Headers["X-Error-Code"] = "EntryNotFound";
            }
            else
            {
                var bytes = await File.ReadAllBytesAsync(file);
                context.Response.Headers["X-Repo-Commit"] = Commit;
                if (Etags || WrongEtag)
                    context.Response.Headers["X-Linked-Etag"] = $"\"{(WrongEtag ? new string('0', 64) : Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(bytes)))}\"";
                bool faulty = Path.GetFileName(file) == FaultyFile;
                if (faulty && Interlocked.Decrement(ref FailNext) >= 0)
                {
                    context.Response.StatusCode = 503;
                    context.Response.Close();
                    continue;
                }
                long from = 0;
                if (context.Request.Headers["Range"] is { } range && range.StartsWith("bytes=", StringComparison.Ordinal) && range.EndsWith('-'))
                {
                    from = long.Parse(range["bytes=".Length..^1]);
                    Interlocked.Increment(ref RangeRequests);
                    context.Response.StatusCode = 206;
                    context.Response.Headers["Content-Range"] = $"bytes {from}-{bytes.Length - 1}/{bytes.Length}";
                }
                context.Response.ContentLength64 = bytes.Length - from;
                bool cut = faulty && Interlocked.Decrement(ref TruncateNext) >= 0;
                bool stall = !cut && faulty && Interlocked.Decrement(ref StallNext) >= 0;
                if (cut || stall)
                {
                    // Half of what is left, then the connection drops (cut) or goes silent (stall).
                    await context.Response.OutputStream.WriteAsync(bytes.AsMemory((int)from, (int)(bytes.Length - from) / 2));
                    await context.Response.OutputStream.FlushAsync();
                    if (stall) await Task.Delay(StallFor);
                    context.Response.Abort();
                    continue;
                }
                await context.Response.OutputStream.WriteAsync(bytes.AsMemory((int)from));
            }
            context.Response.Close();
        }
    }

    /// <summary>The file the failure modes below apply to.</summary>
    public string FaultyFile = "model.safetensors";
    public int FailNext, TruncateNext, StallNext, RangeRequests;
    public TimeSpan StallFor = TimeSpan.FromSeconds(3);
    public bool Etags, WrongEtag;

    public void Dispose() => listener.Close();
}

[Collection("torch-global-state")]
public class HubClientTests
{
    [Fact]
    public async Task Downloads_into_the_standard_cache_layout_then_serves_from_cache()
    {
        using var dir = new TempDir();
        var served = TinyModels.WriteBaseFolder(dir.File("served"));
        using var hub = new LoopbackHub("org/tiny-bert", served);
        var cache = dir.File("cache");
        var client = new HubClient(new HubOptions(hub.Endpoint, "secret", Offline: false, cache));
        var reports = new List<DownloadProgress>();

        var folder = await ModelFolder.ResolveBaseAsync(client, "org/tiny-bert", fromScratch: false, new Blockbuster.Training.SyncProgress<DownloadProgress>(reports.Add));

        var snapshot = Path.Combine(cache, "models--org--tiny-bert", "snapshots", LoopbackHub.Commit);
        Assert.Equal(snapshot, folder);
        Assert.Equal(LoopbackHub.Commit, File.ReadAllText(Path.Combine(cache, "models--org--tiny-bert", "refs", "main")));
        Assert.Equal(File.ReadAllBytes(Path.Combine(served, "model.safetensors")), File.ReadAllBytes(Path.Combine(snapshot, "model.safetensors")));
        Assert.Empty(Directory.GetFiles(snapshot, "*.incomplete"));
        Assert.Contains(reports, r => r.File == "model.safetensors" && r.Done && r.Bytes == r.Total);
        Assert.Equal("Bearer secret", hub.LastAuthorization);

        using var loaded = ModelFolder.ForTraining(folder, ModelFolder.SentimentLabels, null, fromScratch: false).Model;

        // Second resolve: everything is cached except the optional tokenizer_config.json, which the cache
        // has no record of, so only that one request goes out. Offline, nothing goes out at all.
        int before = hub.Requests;
        await ModelFolder.ResolveBaseAsync(client, "org/tiny-bert", fromScratch: false, null);
        Assert.True(hub.Requests - before <= 1);
        var offline = new HubClient(new HubOptions(hub.Endpoint, null, Offline: true, cache));
        before = hub.Requests;
        Assert.Equal(snapshot, await ModelFolder.ResolveBaseAsync(offline, "org/tiny-bert", fromScratch: false, null));
        Assert.Equal(before, hub.Requests);
    }

    [Fact]
    public async Task Reuses_a_cache_that_python_filled()
    {
        using var dir = new TempDir();
        var cache = dir.File("hub");
        var snapshot = Path.Combine(cache, "models--prajjwal1--bert-tiny", "snapshots", "abc");
        TinyModels.WriteBaseFolder(snapshot);
        Directory.CreateDirectory(Path.Combine(cache, "models--prajjwal1--bert-tiny", "refs"));
        File.WriteAllText(Path.Combine(cache, "models--prajjwal1--bert-tiny", "refs", "main"), "abc");
        var client = new HubClient(new HubOptions("http://127.0.0.1:9", null, Offline: true, cache));
        Assert.Equal(snapshot, await ModelFolder.ResolveBaseAsync(client, "prajjwal1/bert-tiny", fromScratch: false, null));
    }

    [Fact]
    public async Task Offline_without_cache_is_one_clear_error()
    {
        using var dir = new TempDir();
        var client = new HubClient(new HubOptions("http://127.0.0.1:9", null, Offline: true, dir.File("cache")));
        var e = await Assert.ThrowsAsync<ModelFormatException>(() => ModelFolder.ResolveBaseAsync(client, "prajjwal1/bert-tiny", false, null));
        Assert.Contains("not in the Hugging Face cache", e.Message);
        Assert.Contains("`model` PATH", e.Message);
    }

    [Fact]
    public async Task Unreachable_hub_suggests_a_local_folder()
    {
        using var dir = new TempDir();
        // Port 9 (discard) on loopback: nothing listens, the connection is refused at once.
        var client = new HubClient(new HubOptions("http://127.0.0.1:9", null, Offline: false, dir.File("cache")));
        var e = await Assert.ThrowsAsync<ModelFormatException>(() => ModelFolder.ResolveBaseAsync(client, "prajjwal1/bert-tiny", false, null));
        Assert.StartsWith("Could not reach the Hugging Face Hub at http://127.0.0.1:9", e.Message);
        Assert.Contains("pass a local model folder with `model` PATH", e.Message);
    }

    [Fact]
    public async Task Unknown_repo_and_missing_weights_are_clear_errors()
    {
        using var dir = new TempDir();
        var served = dir.File("served");
        Directory.CreateDirectory(served);
        File.WriteAllText(Path.Combine(served, "config.json"), "{}");
        File.WriteAllText(Path.Combine(served, "vocab.txt"), "[PAD]");
        using var hub = new LoopbackHub("org/no-weights", served);
        var client = new HubClient(new HubOptions(hub.Endpoint, null, false, dir.File("cache")));
        var e = await Assert.ThrowsAsync<ModelFormatException>(() => ModelFolder.ResolveBaseAsync(client, "org/no-weights", false, null));
        Assert.Equal("org/no-weights: the repo has none of model.safetensors, pytorch_model.bin.", e.Message);
        e = await Assert.ThrowsAsync<ModelFormatException>(() => ModelFolder.ResolveBaseAsync(client, "org/other", false, null));
        Assert.Contains("org/other", e.Message);
    }

    static HubClient Client(LoopbackHub hub, TempDir dir) => new(new HubOptions(hub.Endpoint, null, Offline: false, dir.File("cache"))
    {
        Retries = 4, RetryDelay = TimeSpan.FromMilliseconds(20), StallTimeout = TimeSpan.FromMilliseconds(700),
    });

    static string Cached(TempDir dir) => Path.Combine(dir.File("cache"), "models--org--tiny-bert", "snapshots", LoopbackHub.Commit, "model.safetensors");

    [Fact]
    public async Task Server_errors_are_retried_with_backoff()
    {
        using var dir = new TempDir();
        var served = TinyModels.WriteBaseFolder(dir.File("served"));
        using var hub = new LoopbackHub("org/tiny-bert", served) { FailNext = 3, Etags = true };
        await ModelFolder.ResolveBaseAsync(Client(hub, dir), "org/tiny-bert", fromScratch: false, null);
        Assert.Equal(File.ReadAllBytes(Path.Combine(served, "model.safetensors")), File.ReadAllBytes(Cached(dir)));
    }

    [Fact]
    public async Task A_truncated_or_stalled_download_resumes_with_a_range_request()
    {
        using var dir = new TempDir();
        var served = TinyModels.WriteBaseFolder(dir.File("served"));
        using var hub = new LoopbackHub("org/tiny-bert", served) { TruncateNext = 1, StallNext = 1, Etags = true };
        await ModelFolder.ResolveBaseAsync(Client(hub, dir), "org/tiny-bert", fromScratch: false, null);
        Assert.Equal(File.ReadAllBytes(Path.Combine(served, "model.safetensors")), File.ReadAllBytes(Cached(dir)));
        Assert.Equal(2, hub.RangeRequests);   // the second and third tries asked only for what was missing
        Assert.Empty(Directory.GetFiles(dir.File("cache"), "*.incomplete", SearchOption.AllDirectories));
    }

    [Fact]
    public async Task A_hash_that_does_not_match_the_hubs_sha256_is_discarded_with_one_clear_error()
    {
        using var dir = new TempDir();
        var served = TinyModels.WriteBaseFolder(dir.File("served"));
        using var hub = new LoopbackHub("org/tiny-bert", served) { WrongEtag = true };
        var e = await Assert.ThrowsAsync<ModelFormatException>(() => ModelFolder.ResolveBaseAsync(Client(hub, dir), "org/tiny-bert", fromScratch: false, null));
        Assert.Contains("but the Hub says 000000000000", e.Message);
        Assert.False(File.Exists(Cached(dir)));
        Assert.Empty(Directory.GetFiles(dir.File("cache"), "*.incomplete", SearchOption.AllDirectories));
    }

    [Fact]
    public async Task Persistent_failure_gives_up_after_the_retries_and_keeps_the_partial_file_for_next_time()
    {
        using var dir = new TempDir();
        var served = TinyModels.WriteBaseFolder(dir.File("served"));
        using var hub = new LoopbackHub("org/tiny-bert", served) { TruncateNext = 100 };
        var e = await Assert.ThrowsAsync<ModelFormatException>(() => ModelFolder.ResolveBaseAsync(Client(hub, dir), "org/tiny-bert", fromScratch: false, null));
        Assert.Contains("failed 5 times", e.Message);
        Assert.DoesNotContain('\n', e.Message);
        hub.TruncateNext = 0;
        await ModelFolder.ResolveBaseAsync(Client(hub, dir), "org/tiny-bert", fromScratch: false, null);   // the next run resumes
        Assert.Equal(File.ReadAllBytes(Path.Combine(served, "model.safetensors")), File.ReadAllBytes(Cached(dir)));
    }

    [Fact]
    public async Task Two_clients_filling_one_cache_take_turns_per_file()
    {
        using var dir = new TempDir();
        var served = TinyModels.WriteBaseFolder(dir.File("served"));
        using var hub = new LoopbackHub("org/tiny-bert", served) { StallNext = 1, StallFor = TimeSpan.FromMilliseconds(300), Etags = true };
        var both = await Task.WhenAll(
            Task.Run(() => ModelFolder.ResolveBaseAsync(Client(hub, dir), "org/tiny-bert", fromScratch: false, null)),
            Task.Run(() => ModelFolder.ResolveBaseAsync(Client(hub, dir), "org/tiny-bert", fromScratch: false, null)));
        Assert.Equal(both[0], both[1]);
        Assert.Equal(File.ReadAllBytes(Path.Combine(served, "model.safetensors")), File.ReadAllBytes(Cached(dir)));
    }

    [Theory]
    [InlineData("../../etc")]
    [InlineData("org/../../x")]
    [InlineData("org/name/extra/more")]
    [InlineData("bad--name/x")]
    [InlineData("-org/name")]
    public async Task Path_traversal_and_invalid_ids_are_refused(string id)
    {
        using var dir = new TempDir();
        var client = new HubClient(new HubOptions("http://127.0.0.1:9", null, Offline: true, dir.File("cache")));
        var e = await Assert.ThrowsAsync<ModelFormatException>(() => ModelFolder.ResolveBaseAsync(client, id, false, null));
        Assert.DoesNotContain('\n', e.Message);
        Assert.False(Directory.Exists(dir.File("cache")));
    }

    [Theory]
    [InlineData("../config.json")]
    [InlineData("a/b")]
    [InlineData(".hidden")]
    public void File_names_are_validated(string file) =>
        Assert.Throws<ModelFormatException>(() => HubClient.ValidateFileName(file));
}
