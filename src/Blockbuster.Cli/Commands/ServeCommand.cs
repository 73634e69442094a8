using System.CommandLine;
using Blockbuster.Model.Hub;
using Blockbuster.Serving;
using Microsoft.Extensions.Logging;

namespace Blockbuster.Cli.Commands;

/// <summary><c>blockbuster serve</c>: parse → <see cref="ServeOptions"/> → <see cref="BlockbusterServer"/> until Ctrl+C or SIGTERM.</summary>
public static class ServeCommand
{
    public const string ApiKeyVariable = "BLOCKBUSTER_API_KEY";
    static readonly ServeOptions Defaults = new();

    internal static readonly Option<string> Model = new("--model", "-m") { Description = "trained model folder, Hugging Face classifier folder, PEFT adapter folder or Hub id", DefaultValueFactory = _ => Defaults.Model };
    internal static readonly Option<string> Host = new("--host") { Description = "address to listen on (0.0.0.0 to accept other machines)", DefaultValueFactory = _ => Defaults.Host };
    internal static readonly Option<int> Port = new("--port", "-p") { Description = "TCP port (0: any free port)", DefaultValueFactory = _ => Defaults.Port };
    internal static readonly Option<int> MaxBatchSize = new("--max-batch-size") { Description = "texts scored together at most (dynamic batching; 1 scores one request at a time)", DefaultValueFactory = _ => Defaults.MaxBatchSize };
    internal static readonly Option<int> MaxWait = new("--max-wait-ms") { Description = "milliseconds a queued text waits for others before its batch is scored", DefaultValueFactory = _ => Defaults.MaxWaitMilliseconds };
    internal static readonly Option<int> MaxQueue = new("--max-queue") { Description = "texts waiting or being scored at most; more requests get 429 with Retry-After", DefaultValueFactory = _ => Defaults.MaxQueuedInputs };
    internal static readonly Option<int> MaxClientBatchSize = new("--max-client-batch-size") { Description = "texts one request may send", DefaultValueFactory = _ => Defaults.MaxClientBatchSize };
    internal static readonly Option<long> MaxBodyBytes = new("--max-body-bytes") { Description = "largest request body; larger ones get 413", DefaultValueFactory = _ => Defaults.MaxBodyBytes };
    internal static readonly Option<bool> TruncateByDefault = new("--truncate-by-default") { Description = "cut inputs over the max length when a request does not say (default: refuse them with 422, as text-embeddings-inference)" };
    internal static readonly Option<string?> ApiKey = new("--api-key") { Description = $"require 'Authorization: Bearer KEY' on every request but the demo page (default: ${ApiKeyVariable}, else none)" };
    internal static readonly Option<int> BatchSize = new("--batch-size") { Description = "texts per forward pass inside a batch; two CPU workers take one each, as in eval", DefaultValueFactory = _ => Defaults.InferenceBatchSize };
    internal static readonly Option<string> LogFormat = new Option<string>("--log-format") { Description = "request logs on stdout: json (one object per line) or text", DefaultValueFactory = _ => "json" }.AcceptOnlyFromAmong("json", "text");
    internal static readonly Option<string> Precision = CommonOptions.Precision();
    internal static readonly Option<string> Device = CommonOptions.Device();
    internal static readonly Option<int> Threads = CommonOptions.Threads();
    internal static readonly Option<string?> Quantize = CommonOptions.InferenceQuantize();
    internal static readonly Option<bool> DoubleQuant = CommonOptions.DoubleQuant();

    public static Command Create()
    {
        var command = new Command("serve", """
            Serve a trained classifier over HTTP with text-embeddings-inference's API: POST /predict {"inputs": "text"} or
            {"inputs": ["a", "b"]} → [{"label": "positive", "score": 0.97}, ...]; GET /health, /info, /metrics (Prometheus),
            /openapi/v1.json, and a demo page at /. Concurrent requests are batched; Ctrl+C or SIGTERM finishes accepted requests, then stops.

            Examples:
              blockbuster serve --model ./blockbuster-model --port 8080
              curl -s localhost:8080/predict -H 'Content-Type: application/json' -d '{"inputs": "What a great film!"}'
            """);
        foreach (var option in new Option[] { Model, Host, Port, MaxBatchSize, MaxWait, MaxQueue, MaxClientBatchSize, MaxBodyBytes, TruncateByDefault, ApiKey, BatchSize, LogFormat, Precision, Device, Threads, Quantize, DoubleQuant })
            command.Options.Add(option);
        command.SetAction(RunAsync);
        return command;
    }

    public static ServeOptions ToOptions(ParseResult p) => new(
        p.GetValue(Model)!, p.GetValue(Host)!, p.GetValue(Port), p.GetValue(MaxBatchSize), p.GetValue(MaxWait), p.GetValue(MaxQueue),
        p.GetValue(MaxClientBatchSize), p.GetValue(MaxBodyBytes), p.GetValue(TruncateByDefault),
        p.GetValue(ApiKey) ?? NullIfEmpty(Environment.GetEnvironmentVariable(ApiKeyVariable)), p.GetValue(BatchSize), p.GetValue(Precision)!, p.GetValue(Threads), p.GetValue(Device)!,
        CommonOptions.Int8(p.GetValue(Quantize)), CommonOptions.Nf4(p.GetValue(Quantize), p.GetValue(DoubleQuant)));

    static string? NullIfEmpty(string? s) => string.IsNullOrEmpty(s) ? null : s;

    static Task<int> RunAsync(ParseResult parse, CancellationToken cancellationToken) => CliErrors.RunAsync("serve", async () =>
    {
        var options = ToOptions(parse);
        bool json = parse.GetValue(LogFormat) == "json";
        await using var server = await BlockbusterServer.StartAsync(options, new HubClient(HubOptions.FromEnvironment()), logging =>
        {
            if (json) logging.AddJsonConsole(o => o.IncludeScopes = false);
            else logging.AddSimpleConsole(o => { o.SingleLine = true; o.TimestampFormat = "HH:mm:ss "; });
            logging.AddFilter("Microsoft", LogLevel.Warning);
            // A failed start (port in use) is reported once, as the command's one-line error, not also as the host's stack trace.
            logging.AddFilter("Microsoft.Extensions.Hosting", LogLevel.None);
        }, cancellationToken).ConfigureAwait(false);
        Console.Error.WriteLine($"Serving {server.Options.Model} on {server.Address} ({(server.Quantization is { } q ? q + ", " : "")}max batch {options.MaxBatchSize}, queue {options.MaxQueuedInputs}" +
                                $"{(options.ApiKey is null ? "" : ", API key required")}); Ctrl+C to stop");
        await server.RunUntilCancelledAsync(cancellationToken).ConfigureAwait(false);
        Console.Error.WriteLine("Stopped: accepted requests were answered.");
        return CliApp.Success;
    });
}
