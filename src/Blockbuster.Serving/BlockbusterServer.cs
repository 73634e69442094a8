using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Blockbuster.Model;
using Blockbuster.Model.Hub;
using Blockbuster.Training.Evaluation;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Prometheus;

namespace Blockbuster.Serving;

/// <summary>
/// <c>blockbuster serve</c>: a trained classifier behind Kestrel with text-embeddings-inference's sequence-classification
/// API — <c>POST /predict</c>, <c>GET /health</c>, <c>GET /info</c>, <c>GET /metrics</c> (Prometheus), the OpenAPI
/// document at <c>/openapi/v1.json</c> and a demo page at <c>/</c>. Concurrent requests are scored together by
/// <see cref="ScoringQueue"/>.
/// </summary>
public sealed class BlockbusterServer : IAsyncDisposable
{
    static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,   // `inputs` and "quotes" stay readable
    };

    readonly WebApplication app;
    readonly SentimentClassifier classifier;
    readonly ScoringQueue queue;

    public ServerMetrics Metrics { get; }
    public ServeOptions Options { get; }

    /// <summary>The address the server listens on (the real port when <see cref="ServeOptions.Port"/> is 0).</summary>
    public Uri Address { get; }

    /// <summary>How the served encoder's weights are held: "nf4", "int8", or null for full precision.</summary>
    public string? Quantization => classifier.Quantization;

    BlockbusterServer(WebApplication app, SentimentClassifier classifier, ScoringQueue queue, ServerMetrics metrics, ServeOptions options, Uri address)
    {
        this.app = app;
        this.classifier = classifier;
        this.queue = queue;
        Metrics = metrics;
        Options = options;
        Address = address;
    }

    /// <summary>Loads the model and starts listening; <paramref name="configureLogging"/> chooses where request logs go.</summary>
    public static async Task<BlockbusterServer> StartAsync(ServeOptions o, HubClient hub, Action<ILoggingBuilder>? configureLogging = null, CancellationToken ct = default)
    {
        Validate(o);
        var classifier = await SentimentClassifier.LoadAsync(
            new PredictOptions(o.Model, null, o.InferenceBatchSize, o.Device, o.Threads, o.Precision, Quantize: o.Nf4, Int8: o.Int8), hub, ct).ConfigureAwait(false);
        try
        {
            var metrics = new ServerMetrics();
            var queue = new ScoringQueue(encodings => classifier.Logits(encodings), o.MaxBatchSize, TimeSpan.FromMilliseconds(o.MaxWaitMilliseconds), o.MaxQueuedInputs, metrics);
            var builder = WebApplication.CreateSlimBuilder();
            builder.Logging.ClearProviders();
            configureLogging?.Invoke(builder.Logging);
            builder.WebHost.ConfigureKestrel(k =>
            {
                k.Limits.MaxRequestBodySize = o.MaxBodyBytes;
                k.AddServerHeader = false;
            });
            builder.WebHost.UseUrls($"http://{(o.Host.Contains(':') ? $"[{o.Host}]" : o.Host)}:{o.Port}");
            builder.Services.Configure<HostOptions>(h => h.ShutdownTimeout = TimeSpan.FromSeconds(30));
            builder.Services.AddOpenApi();
            // The caller owns Ctrl+C and SIGTERM (the token of RunUntilCancelledAsync); the host must not handle them too.
            builder.Services.AddSingleton<IHostLifetime, CallerOwnedLifetime>();
            var app = builder.Build();
            var server = new ServerEndpoints(classifier, queue, metrics, o, app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Blockbuster.Serving.Requests"));
            server.Map(app);
            await app.StartAsync(ct).ConfigureAwait(false);
            var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
            return new BlockbusterServer(app, classifier, queue, metrics, o, new Uri(address));
        }
        catch
        {
            classifier.Dispose();
            throw;
        }
    }

    /// <summary>Serves until <paramref name="ct"/> is cancelled (Ctrl+C, SIGTERM), then drains accepted requests and stops.</summary>
    public async Task RunUntilCancelledAsync(CancellationToken ct)
    {
        try { await Task.Delay(Timeout.Infinite, ct).ConfigureAwait(false); }
        catch (OperationCanceledException) { }
        await app.StopAsync(CancellationToken.None).ConfigureAwait(false);
    }

    static void Validate(ServeOptions o)
    {
        if (o.Port is < 0 or > 65535) throw new UsageException("port", $"must be between 0 and 65535, got {o.Port}.");
        if (o.MaxBatchSize < 1) throw new UsageException("max_batch_size", $"must be positive, got {o.MaxBatchSize}.");
        if (o.MaxWaitMilliseconds < 0) throw new UsageException("max_wait_milliseconds", $"must be 0 or more, got {o.MaxWaitMilliseconds}.");
        if (o.MaxQueuedInputs < 1) throw new UsageException("max_queued_inputs", $"must be positive, got {o.MaxQueuedInputs}.");
        if (o.MaxClientBatchSize < 1) throw new UsageException("max_client_batch_size", $"must be positive, got {o.MaxClientBatchSize}.");
        if (o.MaxBodyBytes < 1) throw new UsageException("max_body_bytes", $"must be positive, got {o.MaxBodyBytes}.");
        if (o.ApiKey is { Length: 0 }) throw new UsageException("api_key", "is empty.");
    }

    public async ValueTask DisposeAsync()
    {
        await app.StopAsync(CancellationToken.None).ConfigureAwait(false);
        await queue.DisposeAsync().ConfigureAwait(false);
        await app.DisposeAsync().ConfigureAwait(false);
        classifier.Dispose();
    }

    /// <summary>The routes and the request pipeline.</summary>
    sealed class ServerEndpoints(SentimentClassifier classifier, ScoringQueue queue, ServerMetrics metrics, ServeOptions o, ILogger requests)
    {
        readonly byte[]? apiKey = o.ApiKey is null ? null : Encoding.UTF8.GetBytes("Bearer " + o.ApiKey);
        readonly string page = ReadPage();

        public void Map(WebApplication app)
        {
            app.Use(LogAndAuthorize);
            app.MapGet("/", () => Results.Content(page, "text/html; charset=utf-8")).ExcludeFromDescription();
            app.MapGet("/health", () => Results.Json(new { status = "ok" })).WithTags("blockbuster").WithSummary("Liveness: 200 while the model is loaded.");
            app.MapGet("/info", Info).WithTags("blockbuster").WithSummary("The model, its labels, max input length, precision and the batching limits.");
            app.MapPost("/predict", (Delegate)(Func<HttpContext, Task>)Predict)
               .WithTags("blockbuster")
               .WithSummary("Scores one text or a batch: {\"inputs\": \"text\"} or {\"inputs\": [\"a\", \"b\"]}, optional raw_scores and truncate.")
               .Accepts<PredictRequestDocument>("application/json")
               .Produces<LabelScore[]>(StatusCodes.Status200OK)
               .Produces<ErrorBody>(StatusCodes.Status400BadRequest)
               .Produces<ErrorBody>(StatusCodes.Status413PayloadTooLarge)
               .Produces<ErrorBody>(StatusCodes.Status422UnprocessableEntity)
               .Produces<ErrorBody>(StatusCodes.Status429TooManyRequests);
            app.MapMetrics("/metrics", metrics.Registry);
            app.MapOpenApi();
        }

        async Task LogAndAuthorize(HttpContext context, RequestDelegate next)
        {
            var clock = Stopwatch.StartNew();
            if (apiKey is not null && context.Request.Path != "/" && !Authorized(context.Request))
            {
                metrics.Failures.WithLabels("unauthorized").Inc();
                await Error(context, StatusCodes.Status401Unauthorized, "missing or wrong API key: send 'Authorization: Bearer KEY'.", "unauthorized").ConfigureAwait(false);
            }
            else await next(context).ConfigureAwait(false);
            metrics.Requests.WithLabels(context.Response.StatusCode.ToString(System.Globalization.CultureInfo.InvariantCulture)).Inc();
            requests.LogInformation("{Method} {Path} {Status} {ElapsedMs:F1} ms {Inputs} inputs", context.Request.Method, context.Request.Path.Value,
                                    context.Response.StatusCode, clock.Elapsed.TotalMilliseconds, context.Items["inputs"] ?? 0);
        }

        bool Authorized(HttpRequest request) =>
            request.Headers.Authorization.ToString() is var header && CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(header), apiKey);

        IResult Info() => Results.Json(new
        {
            model_id = classifier.Folder,
            model_type = new { classifier = new { id2label = classifier.Labels.Select((l, i) => (l, i)).ToDictionary(x => x.i.ToString(System.Globalization.CultureInfo.InvariantCulture), x => x.l),
                                                  label2id = classifier.Labels.Select((l, i) => (l, i)).ToDictionary(x => x.l, x => x.i) } },
            model_kind = classifier.Kind,
            model_dtype = classifier.Precision,
            quantization = classifier.Quantization,
            max_input_length = classifier.MaxLength,
            truncation = classifier.Truncation.ToString().ToLowerInvariant(),
            truncate_by_default = o.TruncateByDefault,
            max_batch_requests = o.MaxBatchSize,
            max_client_batch_size = o.MaxClientBatchSize,
            max_concurrent_requests = o.MaxQueuedInputs,
            version = BlockbusterVersion.Current,
        }, Json);

        async Task Predict(HttpContext context)
        {
            var clock = Stopwatch.StartNew();
            PredictRequest request;
            try
            {
                using var body = await JsonDocument.ParseAsync(context.Request.Body, cancellationToken: context.RequestAborted).ConfigureAwait(false);
                request = PredictRequest.Parse(body.RootElement, o.MaxClientBatchSize);
            }
            catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
            {
                metrics.Failures.WithLabels("body").Inc();
                await Error(context, 413, $"request body over {o.MaxBodyBytes:N0} bytes.", "validation").ConfigureAwait(false);
                return;
            }
            catch (JsonException e)
            {
                metrics.Failures.WithLabels("json").Inc();
                await Error(context, 400, $"malformed JSON: {e.Message.Split('\n')[0]}", "validation").ConfigureAwait(false);
                return;
            }
            catch (RequestValidationException e)
            {
                metrics.Failures.WithLabels("validation").Inc();
                await Error(context, 422, e.Message, "validation").ConfigureAwait(false);
                return;
            }
            context.Items["inputs"] = request.Inputs.Length;

            bool truncate = request.Truncate ?? o.TruncateByDefault;
            var encodings = new Training.Tokenization.Encoding[request.Inputs.Length];
            for (int i = 0; i < encodings.Length; i++)
            {
                encodings[i] = classifier.Encode(request.Inputs[i]);
                if (encodings[i].Truncated && !truncate)
                {
                    metrics.Failures.WithLabels("validation").Inc();
                    var which = request.Batched ? $"`inputs[{i}]`" : "`inputs`";
                    await Error(context, 422, $"{which} must have at most {classifier.MaxLength} tokens. Given: {classifier.CountTokens(request.Inputs[i])}; pass \"truncate\": true to cut it.", "validation").ConfigureAwait(false);
                    return;
                }
            }

            var scoring = queue.TryEnqueue(encodings);
            if (scoring is null)
            {
                metrics.Failures.WithLabels("overloaded").Inc();
                context.Response.Headers.RetryAfter = "1";
                await Error(context, 429, "model is overloaded: the queue is full; retry after a second.", "overloaded").ConfigureAwait(false);
                return;
            }
            float[][] logits;
            try { logits = await scoring.ConfigureAwait(false); }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                metrics.Failures.WithLabels("inference").Inc();
                await Error(context, 500, $"inference failed: {e.Message.Split('\n')[0]}", "backend").ConfigureAwait(false);
                return;
            }
            metrics.Inputs.Inc(encodings.Length);
            var results = logits.Select(row => Scores(row, request.RawScores)).ToArray();
            metrics.RequestSeconds.Observe(clock.Elapsed.TotalSeconds);
            await context.Response.WriteAsJsonAsync<object>(request.Batched ? results : results[0], Json).ConfigureAwait(false);
        }

        LabelScore[] Scores(float[] logits, bool raw)
        {
            var values = raw ? logits : Softmax(logits);
            return values.Select((v, i) => new LabelScore(classifier.Labels[i], v)).OrderByDescending(s => s.Score).ToArray();
        }

        static float[] Softmax(float[] logits)
        {
            float max = logits.Max();
            var e = logits.Select(l => MathF.Exp(l - max)).ToArray();
            float sum = e.Sum();
            return e.Select(x => x / sum).ToArray();
        }

        static Task Error(HttpContext context, int status, string message, string type)
        {
            context.Response.StatusCode = status;
            return context.Response.WriteAsJsonAsync(new ErrorBody(message, type), Json);
        }

        static string ReadPage()
        {
            using var stream = typeof(BlockbusterServer).Assembly.GetManifestResourceStream("Blockbuster.Serving.index.html")!;
            return new StreamReader(stream).ReadToEnd();
        }
    }

    sealed class CallerOwnedLifetime : IHostLifetime
    {
        public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;
        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }

    /// <summary>The request body as the OpenAPI document describes it.</summary>
    sealed record PredictRequestDocument(object Inputs, bool? RawScores, bool? Truncate);
}
