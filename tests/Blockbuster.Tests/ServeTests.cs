using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Blockbuster.Serving;
using Blockbuster.Training.Evaluation;

namespace Blockbuster.Tests;

/// <summary>
/// <c>blockbuster serve</c> over real HTTP on loopback: text-embeddings-inference's /predict shapes and status codes,
/// dynamic batching, the queue bound (429), the API key, /info, /metrics, OpenAPI, graceful shutdown and the demo page
/// in headless Chromium.
/// </summary>
[Collection("torch-global-state")]
public class ServeTests(TrainedTinyModel trained) : IClassFixture<TrainedTinyModel>
{
    ServeOptions Options => new(trained.Output, Port: 0, Threads: 2, Precision: "fp32");

    async Task<(BlockbusterServer Server, HttpClient Client)> Start(ServeOptions options)
    {
        var server = await BlockbusterServer.StartAsync(options, trained.Hub);
        return (server, new HttpClient { BaseAddress = server.Address });
    }

    static StringContent Json(string body) => new(body, Encoding.UTF8, "application/json");

    [Fact]
    public async Task Predict_answers_as_text_embeddings_inference_with_the_classifiers_probabilities()
    {
        var (server, client) = await Start(Options);
        await using var _ = server;
        using var classifier = await SentimentClassifier.LoadAsync(new PredictOptions(trained.Output, Threads: 1, Precision: "fp32"), trained.Hub);
        string[] texts = ["i loved this film , it was great fun !", "boring plot and bad acting . i hated it"];
        var expected = classifier.Predict(texts);

        // One text: one list of label scores, best first.
        var single = await (await client.PostAsync("/predict", Json(JsonSerializer.Serialize(new { inputs = texts[0] })))).Content.ReadFromJsonAsync<JsonArray>();
        Assert.Equal(expected[0].Label, single![0]!["label"]!.GetValue<string>());
        Assert.Equal(expected[0].Probability, single[0]!["score"]!.GetValue<double>(), 5);
        Assert.Equal(1.0, single.Sum(s => s!["score"]!.GetValue<double>()), 5);

        // A batch: one list per text, in order.
        var batch = await (await client.PostAsync("/predict", Json(JsonSerializer.Serialize(new { inputs = texts })))).Content.ReadFromJsonAsync<JsonArray>();
        Assert.Equal(2, batch!.Count);
        for (int i = 0; i < 2; i++)
            foreach (var score in batch[i]!.AsArray())
                Assert.Equal(expected[i].Probabilities[score!["label"]!.GetValue<string>()], score["score"]!.GetValue<double>(), 5);

        // raw_scores: logits, whose softmax is the probability.
        var raw = await (await client.PostAsync("/predict", Json(JsonSerializer.Serialize(new { inputs = texts[0], raw_scores = true })))).Content.ReadFromJsonAsync<JsonArray>();
        double a = raw![0]!["score"]!.GetValue<double>(), b = raw[1]!["score"]!.GetValue<double>();
        Assert.Equal(expected[0].Probability, 1 / (1 + Math.Exp(b - a)), 5);
    }

    [Theory]
    [InlineData("nf4")]
    [InlineData("int8")]
    public async Task Quantised_serving_scores_as_predict_does_with_the_same_quantisation_and_says_so_in_info(string quantization)
    {
        var nf4 = quantization == "nf4" ? new Blockbuster.Model.Quantization.Nf4Options(DoubleQuant: true) : null;
        bool int8 = quantization == "int8";
        var (server, client) = await Start(Options with { Nf4 = nf4, Int8 = int8 });
        await using var _ = server;
        Assert.Equal(quantization, server.Quantization);
        using var classifier = await SentimentClassifier.LoadAsync(new PredictOptions(trained.Output, Threads: 1, Precision: "fp32", Quantize: nf4, Int8: int8), trained.Hub);
        Assert.Equal(quantization, classifier.Quantization);
        const string text = "i loved this film , it was great fun !";
        var expected = classifier.Predict(text);

        var scores = await (await client.PostAsync("/predict", Json(JsonSerializer.Serialize(new { inputs = text })))).Content.ReadFromJsonAsync<JsonArray>();
        foreach (var score in scores!)   // one text: one list of label scores
            Assert.Equal(expected.Probabilities[score!["label"]!.GetValue<string>()], score["score"]!.GetValue<double>(), 5);
        var info = await client.GetFromJsonAsync<JsonObject>("/info");
        Assert.Equal(quantization, info!["quantization"]!.GetValue<string>());
    }

    [Fact]
    public async Task Bad_requests_get_text_embeddings_inferences_status_codes_with_one_line_errors()
    {
        var (server, client) = await Start(Options with { MaxClientBatchSize = 3, MaxBodyBytes = 10_000 });
        await using var _ = server;
        async Task Expect(HttpStatusCode status, string body, string? message = null)
        {
            var response = await client.PostAsync("/predict", Json(body));
            Assert.Equal(status, response.StatusCode);
            var error = await response.Content.ReadFromJsonAsync<JsonObject>();
            var text = error!["error"]!.GetValue<string>();
            Assert.DoesNotContain('\n', text);
            if (message is not null) Assert.Equal(message, text);
        }
        await Expect(HttpStatusCode.BadRequest, "{\"inputs\": ");
        await Expect(HttpStatusCode.UnprocessableEntity, "{\"inputs\": 5}", "`inputs` must be a string or an array of strings, got a number.");
        await Expect(HttpStatusCode.UnprocessableEntity, "{\"inputs\": [\"good\", 7]}", "`inputs[1]` must be a string, got a number.");
        await Expect(HttpStatusCode.UnprocessableEntity, "{\"inputs\": \"  \"}", "`inputs` cannot be empty.");
        await Expect(HttpStatusCode.UnprocessableEntity, "{\"inputs\": []}", "`inputs` cannot be empty.");
        await Expect(HttpStatusCode.UnprocessableEntity, "{\"text\": \"good\"}", "`inputs` is missing.");
        await Expect(HttpStatusCode.UnprocessableEntity, "{\"inputs\": [\"a\", \"b\", \"c\", \"d\"]}", "`inputs` must have at most 3 elements (max_client_batch_size). Given: 4.");
        await Expect(HttpStatusCode.UnprocessableEntity, "{\"inputs\": \"good\", \"truncate\": \"yes\"}", "`truncate` must be true or false, got a string.");
        var longText = string.Join(' ', Enumerable.Repeat("good", 40));   // 42 tokens with [CLS] and [SEP]; the model reads 32
        await Expect(HttpStatusCode.UnprocessableEntity, JsonSerializer.Serialize(new { inputs = longText }),
                     "`inputs` must have at most 32 tokens. Given: 42; pass \"truncate\": true to cut it.");
        Assert.Equal(HttpStatusCode.OK, (await client.PostAsync("/predict", Json(JsonSerializer.Serialize(new { inputs = longText, truncate = true })))).StatusCode);
        await Expect(HttpStatusCode.RequestEntityTooLarge, JsonSerializer.Serialize(new { inputs = new string('a', 20_000) }));

        var (lenient, lenientClient) = await Start(Options with { TruncateByDefault = true });
        await using var __ = lenient;
        Assert.Equal(HttpStatusCode.OK, (await lenientClient.PostAsync("/predict", Json(JsonSerializer.Serialize(new { inputs = longText })))).StatusCode);
    }

    [Fact]
    public async Task A_full_queue_answers_429_with_retry_after()
    {
        // The first text waits 3 s for company; the queue holds 2 texts, so a request of 2 more is refused at once.
        var (server, client) = await Start(Options with { MaxQueuedInputs = 2, MaxWaitMilliseconds = 3000 });
        await using var _ = server;
        var first = client.PostAsync("/predict", Json("{\"inputs\": \"great film\"}"));
        await Task.Delay(300);
        var refused = await client.PostAsync("/predict", Json("{\"inputs\": [\"bad\", \"awful\"]}"));
        Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
        Assert.Equal("1", refused.Headers.GetValues("Retry-After").Single());
        Assert.Equal(HttpStatusCode.OK, (await first).StatusCode);
        Assert.Contains("blockbuster_request_failure{err=\"overloaded\"} 1", await client.GetStringAsync("/metrics"));
    }

    [Fact]
    public async Task Concurrent_requests_are_scored_together()
    {
        var (server, client) = await Start(Options with { MaxWaitMilliseconds = 300 });
        await using var _ = server;
        var responses = await Task.WhenAll(Enumerable.Range(0, 12).Select(i => client.PostAsync("/predict", Json(JsonSerializer.Serialize(new { inputs = $"great film number {i}" })))));
        Assert.All(responses, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
        var metrics = await client.GetStringAsync("/metrics");
        double Value(string name) => double.Parse(metrics.Split('\n').Single(l => l.StartsWith(name + " ", StringComparison.Ordinal)).Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture);
        Assert.Equal(12, Value("blockbuster_batch_size_sum"));
        Assert.True(Value("blockbuster_batch_size_count") < 12, $"{Value("blockbuster_batch_size_count")} batches for 12 requests");
        Assert.Contains("blockbuster_request_count{status=\"200\"} 12", metrics);
        Assert.Contains("blockbuster_request_duration_seconds_bucket", metrics);
        Assert.Contains("blockbuster_queue_size 0", metrics);
    }

    [Fact]
    public async Task Info_health_openapi_and_the_api_key()
    {
        var (server, client) = await Start(Options with { ApiKey = "s3cret" });
        await using var _ = server;
        Assert.Equal(HttpStatusCode.Unauthorized, (await client.GetAsync("/health")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await client.PostAsync("/predict", Json("{\"inputs\": \"good\"}"))).StatusCode);
        client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", "wrong");
        Assert.Equal(HttpStatusCode.Unauthorized, (await client.GetAsync("/info")).StatusCode);
        using var anonymous = new HttpClient { BaseAddress = server.Address };
        Assert.Contains("<title>Blockbuster", await anonymous.GetStringAsync("/"));   // the page holds no data; its calls need the key

        client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", "s3cret");
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/health")).StatusCode);
        var info = await client.GetFromJsonAsync<JsonObject>("/info");
        Assert.Equal(32, info!["max_input_length"]!.GetValue<int>());
        Assert.Equal("positive", info["model_type"]!["classifier"]!["id2label"]!["1"]!.GetValue<string>());
        Assert.Equal("fp32", info["model_dtype"]!.GetValue<string>());
        Assert.Null(info["quantization"]);   // full precision
        var openApi = await client.GetFromJsonAsync<JsonObject>("/openapi/v1.json");
        var predict = openApi!["paths"]!["/predict"]!["post"]!;
        Assert.NotNull(predict["requestBody"]);
        foreach (var status in new[] { "200", "400", "413", "422", "429" }) Assert.NotNull(predict["responses"]![status]);
    }

    [Fact]
    public async Task Stopping_answers_every_accepted_request_first()
    {
        var server = await BlockbusterServer.StartAsync(Options with { MaxWaitMilliseconds = 800 }, trained.Hub);
        using var client = new HttpClient { BaseAddress = server.Address };
        var requests = Enumerable.Range(0, 8).Select(i => client.PostAsync("/predict", Json(JsonSerializer.Serialize(new { inputs = $"fun film {i}" })))).ToArray();
        await Task.Delay(300);   // accepted and queued, waiting for the batch window
        using var stop = new CancellationTokenSource();
        var running = server.RunUntilCancelledAsync(stop.Token);
        stop.Cancel();
        await running;
        var responses = await Task.WhenAll(requests);
        Assert.All(responses, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
        await server.DisposeAsync();
        await Assert.ThrowsAnyAsync<HttpRequestException>(() => client.GetAsync("/health"));
    }

    [ChromiumFact]
    public async Task The_demo_page_scores_a_review_in_headless_chromium()
    {
        const string chromium = ChromiumFactAttribute.Chromium;
        var (server, _) = await Start(Options);
        await using var __ = server;
        using var playwright = await Microsoft.Playwright.Playwright.CreateAsync();
        await using var browser = await playwright.Chromium.LaunchAsync(new() { ExecutablePath = chromium, Headless = true, Args = ["--no-sandbox"] });
        var page = await browser.NewPageAsync();
        await page.GotoAsync(server.Address.ToString());
        await page.FillAsync("#review", "i loved this film , it was great fun !");
        await page.ClickAsync("#score");
        await page.WaitForFunctionAsync("document.getElementById('label').textContent.length > 0");
        var label = await page.TextContentAsync("#label");
        Assert.Matches(@"^positive — \d+\.\d%$", label);
        var width = await page.EvalOnSelectorAsync<string>("#fill", "e => e.style.width");
        Assert.EndsWith("%", width);
        Assert.True(double.Parse(width.TrimEnd('%'), System.Globalization.CultureInfo.InvariantCulture) > 50);
        Assert.Contains("fp32", await page.TextContentAsync("#model"));
    }
}

/// <summary>A test that needs Debian's Chromium: skipped, saying so, where it is not installed.</summary>
public sealed class ChromiumFactAttribute : FactAttribute
{
    public const string Chromium = "/usr/bin/chromium";

    public ChromiumFactAttribute()
    {
        if (!File.Exists(Chromium)) Skip = $"{Chromium} is not installed (.ci/run installs Debian's chromium package): the demo page was not tested in a browser.";
    }
}
