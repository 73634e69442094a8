using Prometheus;

namespace Blockbuster.Serving;

/// <summary>The Prometheus metrics of one server (its own registry), named after text-embeddings-inference's <c>te_*</c> ones.</summary>
public sealed class ServerMetrics
{
    public CollectorRegistry Registry { get; } = Metrics.NewCustomRegistry();
    public Counter Requests { get; }
    public Counter Failures { get; }
    public Histogram RequestSeconds { get; }
    public Histogram BatchSize { get; }
    public Histogram BatchInferenceSeconds { get; }
    public Gauge QueueSize { get; }
    public Counter Inputs { get; }

    public ServerMetrics()
    {
        var factory = Metrics.WithCustomRegistry(Registry);
        Requests = factory.CreateCounter("blockbuster_request_count", "Requests answered, by status code.", "status");
        Failures = factory.CreateCounter("blockbuster_request_failure", "Requests refused or failed, by kind (validation, overloaded, unauthorized, body, inference).", "err");
        RequestSeconds = factory.CreateHistogram("blockbuster_request_duration_seconds", "Time from request to response of /predict.",
            new HistogramConfiguration { Buckets = Histogram.ExponentialBuckets(0.001, 2, 16) });
        BatchSize = factory.CreateHistogram("blockbuster_batch_size", "Texts scored together in one batch.",
            new HistogramConfiguration { Buckets = [1, 2, 4, 8, 16, 32, 64, 128, 256] });
        BatchInferenceSeconds = factory.CreateHistogram("blockbuster_batch_inference_duration_seconds", "Time to score one batch.",
            new HistogramConfiguration { Buckets = Histogram.ExponentialBuckets(0.001, 2, 14) });
        QueueSize = factory.CreateGauge("blockbuster_queue_size", "Texts waiting or being scored.");
        Inputs = factory.CreateCounter("blockbuster_input_count", "Texts scored.");
    }
}
