namespace Blockbuster.Model.Hub;

/// <summary>Where the Hugging Face Hub is and how to reach it, as huggingface_hub reads it from the environment.</summary>
/// <param name="Endpoint"><c>HF_ENDPOINT</c>, default https://huggingface.co</param>
/// <param name="Token"><c>HF_TOKEN</c>, sent as a bearer token when set</param>
/// <param name="Offline"><c>HF_HUB_OFFLINE=1</c>: use the cache only</param>
/// <param name="CacheDir"><c>HF_HUB_CACHE</c>, else <c>$HF_HOME/hub</c>, else <c>~/.cache/huggingface/hub</c></param>
public sealed record HubOptions(string Endpoint, string? Token, bool Offline, string CacheDir)
{
    /// <summary>Transient failures (5xx, 408, 429, resets, truncation, stalls) retried this many times, resuming the partial file.</summary>
    public int Retries { get; init; } = 5;
    /// <summary>The first retry's delay; each next one doubles, with jitter.</summary>
    public TimeSpan RetryDelay { get; init; } = TimeSpan.FromSeconds(1);
    /// <summary>A download that receives nothing for this long is dropped and resumed.</summary>
    public TimeSpan StallTimeout { get; init; } = TimeSpan.FromSeconds(60);

    public const string DefaultEndpoint = "https://huggingface.co";

    public static HubOptions FromEnvironment()
    {
        static string? Env(string name) => Environment.GetEnvironmentVariable(name) is { Length: > 0 } v ? v : null;
        var home = Env("HF_HOME") ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache", "huggingface");
        var offline = Env("HF_HUB_OFFLINE") is "1" or "true" or "TRUE" or "yes" or "ON" or "on";
        return new HubOptions(
            (Env("HF_ENDPOINT") ?? DefaultEndpoint).TrimEnd('/'),
            Env("HF_TOKEN"),
            offline,
            Env("HF_HUB_CACHE") ?? Path.Combine(home, "hub"));
    }
}

/// <summary>Bytes of <paramref name="File"/> received so far, of <paramref name="Total"/> when the server said.</summary>
public sealed record DownloadProgress(string Repo, string File, long Bytes, long? Total, bool Done);
