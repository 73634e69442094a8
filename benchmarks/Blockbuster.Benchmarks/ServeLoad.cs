using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Blockbuster.Training.Data;

namespace Blockbuster.Benchmarks;

/// <summary>
/// <c>serve-load MODEL [--clients 32] [--overload-clients 512] [--seconds 20] [--max-requests 20000] [--rounds 2]</c>:
/// starts <c>blockbuster serve</c> (the built CLI) on loopback and has N concurrent clients send single short reviews
/// (first sentences of IMDB reviews) for a bounded time. Rounds alternate one-at-a-time scoring (<c>--max-batch-size 1</c>)
/// and dynamic batching (the default) at <c>--clients</c>, then load the batching server with <c>--overload-clients</c>.
/// Prints req/s, p50/p95/p99 latency, status codes, the server's peak RSS and the client's CPU share.
/// </summary>
static partial class ServeLoad
{
    sealed record Result(string Label, int Clients, double Seconds, int Ok, Dictionary<int, int> Codes, int Errors, double[] LatenciesMs, long PeakRssBytes, double ClientCpuShare);

    public static async Task<int> Run(string[] args)
    {
        if (args.Length < 2) { Console.Error.WriteLine("usage: serve-load MODEL [--clients 32] [--overload-clients 512] [--seconds 20] [--max-requests 20000] [--rounds 2]"); return 2; }
        string model = Path.GetFullPath(args[1]);
        int clients = Int(args, "--clients") ?? 32, overload = Int(args, "--overload-clients") ?? 512, rounds = Int(args, "--rounds") ?? 2;
        double seconds = Int(args, "--seconds") ?? 20;
        int maxRequests = Int(args, "--max-requests") ?? 20_000;
        var cli = Path.Combine(SharedPaths.RepoRoot, "src", "Blockbuster.Cli", "bin", "Release", "net10.0", "blockbuster.dll");
        if (!File.Exists(cli)) { Console.Error.WriteLine($"{cli} not found: dotnet build -c Release src/Blockbuster.Cli first."); return 2; }
        var reviews = ShortReviews(2000);
        Console.WriteLine($"model {model}; {reviews.Length:N0} short reviews (median {reviews.Select(r => r.Length).Order().ElementAt(reviews.Length / 2)} chars); {Environment.ProcessorCount} cores shared by server and client");

        var results = new List<Result>();
        for (int round = 0; round < rounds; round++)
        {
            results.Add(await Measure(cli, model, "one at a time (--max-batch-size 1)", ["--max-batch-size", "1"], clients, seconds, maxRequests, reviews));
            results.Add(await Measure(cli, model, "dynamic batching (default)", [], clients, seconds, maxRequests, reviews));
        }
        results.Add(await Measure(cli, model, "dynamic batching (default)", [], overload, seconds, maxRequests, reviews));

        Console.WriteLine();
        Console.WriteLine("| server | clients | req/s | p50 ms | p95 ms | p99 ms | 200 | 429 | other | errors | peak RSS | client CPU |");
        Console.WriteLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var r in results)
        {
            var sorted = r.LatenciesMs.Order().ToArray();
            double P(double q) => sorted.Length == 0 ? double.NaN : sorted[Math.Min(sorted.Length - 1, (int)(q * sorted.Length))];
            int other = r.Codes.Where(kv => kv.Key is not (200 or 429)).Sum(kv => kv.Value);
            Console.WriteLine($"| {r.Label} | {r.Clients} | {r.Ok / r.Seconds:F1} | {P(0.5):F1} | {P(0.95):F1} | {P(0.99):F1} | {r.Ok} | {r.Codes.GetValueOrDefault(429)} | {other} | {r.Errors} | {r.PeakRssBytes / 1e6:F0} MB | {r.ClientCpuShare:P0} |");
        }
        var single = results.Where(r => r.Label.StartsWith("one", StringComparison.Ordinal)).Select(r => r.Ok / r.Seconds).ToArray();
        var batched = results.Where(r => r.Label.StartsWith("dynamic", StringComparison.Ordinal) && r.Clients == clients).Select(r => r.Ok / r.Seconds).ToArray();
        Console.WriteLine($"dynamic batching / one at a time at {clients} clients, paired by round: " +
                          string.Join(", ", single.Zip(batched, (s, b) => $"{b / s:F2}×")));
        return 0;
    }

    static async Task<Result> Measure(string cli, string model, string label, string[] extra, int clients, double seconds, int maxRequests, string[] reviews)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var a in new[] { cli, "serve", "--model", model, "--port", "0", "--log-format", "text" }.Concat(extra)) start.ArgumentList.Add(a);
        using var server = Process.Start(start)!;
        server.OutputDataReceived += (_, _) => { };   // request logs: drained, not kept
        server.BeginOutputReadLine();
        Uri? address = null;
        while (address is null)
        {
            var line = await server.StandardError.ReadLineAsync() ?? throw new InvalidOperationException("blockbuster serve exited before listening.");
            if (AddressPattern().Match(line) is { Success: true } m) address = new Uri(m.Groups[1].Value);
        }
        _ = server.StandardError.ReadToEndAsync();
        using var handler = new SocketsHttpHandler { MaxConnectionsPerServer = int.MaxValue, PooledConnectionLifetime = TimeSpan.FromMinutes(5) };
        using var http = new HttpClient(handler) { BaseAddress = address, Timeout = TimeSpan.FromSeconds(60) };
        // Warm up: JIT and the first batches, outside the clock.
        for (int i = 0; i < 20; i++) await http.PostAsync("/predict", Body(reviews[i]));

        var codes = new Dictionary<int, int>();
        var latencies = new List<double>();
        int sent = 0, errors = 0;
        var cpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
        var clock = Stopwatch.StartNew();
        async Task Client(int id)
        {
            var random = new Random(id);
            while (clock.Elapsed.TotalSeconds < seconds && Interlocked.Increment(ref sent) <= maxRequests)
            {
                var t = Stopwatch.GetTimestamp();
                try
                {
                    using var response = await http.PostAsync("/predict", Body(reviews[random.Next(reviews.Length)]));
                    await response.Content.ReadAsByteArrayAsync();
                    double ms = Stopwatch.GetElapsedTime(t).TotalMilliseconds;
                    lock (codes)
                    {
                        codes[(int)response.StatusCode] = codes.GetValueOrDefault((int)response.StatusCode) + 1;
                        if (response.StatusCode == HttpStatusCode.OK) latencies.Add(ms);
                    }
                    if (response.StatusCode == HttpStatusCode.TooManyRequests) await Task.Delay(100);   // a polite client backs off a little
                }
                catch (Exception e) when (e is HttpRequestException or TaskCanceledException) { Interlocked.Increment(ref errors); }
            }
        }
        await Task.WhenAll(Enumerable.Range(0, clients).Select(Client));
        clock.Stop();
        double cpu = (Process.GetCurrentProcess().TotalProcessorTime - cpuBefore).TotalSeconds / (clock.Elapsed.TotalSeconds * Environment.ProcessorCount);
        long peak = PeakRss(server.Id);
        bool alive = !server.HasExited;
        server.Kill(entireProcessTree: true);
        await server.WaitForExitAsync();
        if (!alive) errors++;
        var result = new Result(label, clients, clock.Elapsed.TotalSeconds, codes.GetValueOrDefault(200), codes, errors, [.. latencies], peak, cpu);
        Console.Error.WriteLine($"  {label}, {clients} clients: {result.Ok / result.Seconds:F1} req/s, codes {string.Join(" ", codes.OrderBy(k => k.Key).Select(k => $"{k.Key}×{k.Value}"))}, errors {errors}, peak RSS {peak / 1e6:F0} MB{(alive ? "" : ", SERVER DIED")}");
        return result;
    }

    static StringContent Body(string review) => new(JsonSerializer.Serialize(new { inputs = review }), Encoding.UTF8, "application/json");

    /// <summary>First sentences of IMDB reviews, 20 to 200 characters: short single reviews as a chat or form would send.</summary>
    static string[] ShortReviews(int count) =>
        [.. ReviewCsv.Read(SharedPaths.ImdbCsv).Texts.Select(t => t.Split(". ")[0].Replace("<br />", " ", StringComparison.Ordinal).Trim())
            .Where(s => s.Length is >= 20 and <= 200).Take(count)];

    static long PeakRss(int pid)
    {
        foreach (var line in File.ReadLines($"/proc/{pid}/status"))
            if (line.StartsWith("VmHWM:", StringComparison.Ordinal))
                return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
        return 0;
    }

    static int? Int(string[] args, string name) => Array.IndexOf(args, name) is var i and >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1], CultureInfo.InvariantCulture) : null;

    [GeneratedRegex(@"on (http://\S+?/?) \(")]
    private static partial Regex AddressPattern();
}
