using System.Diagnostics;
using System.Threading.Channels;
using Blockbuster.Training.Tokenization;

namespace Blockbuster.Serving;

/// <summary>
/// Dynamic batching: requests queue their encoded texts; one scoring loop takes the first waiting request, waits up to
/// <c>maxWait</c> for more (until <c>maxBatch</c> texts), scores them in one call of the batched path and hands each
/// request its rows. The queue is bounded in texts: <see cref="TryEnqueue"/> refuses when full (the server answers 429).
/// </summary>
public sealed class ScoringQueue : IAsyncDisposable
{
    sealed record Job(Encoding[] Inputs, TaskCompletionSource<float[][]> Done);

    readonly Channel<Job> channel = Channel.CreateUnbounded<Job>(new UnboundedChannelOptions { SingleReader = true });
    readonly Func<IReadOnlyList<Encoding>, float[][]> score;
    readonly int maxBatch, maxQueued;
    readonly TimeSpan maxWait;
    readonly ServerMetrics metrics;
    readonly Task loop;
    int queued;

    public ScoringQueue(Func<IReadOnlyList<Encoding>, float[][]> score, int maxBatch, TimeSpan maxWait, int maxQueued, ServerMetrics metrics)
    {
        this.score = score;
        this.maxBatch = maxBatch;
        this.maxWait = maxWait;
        this.maxQueued = maxQueued;
        this.metrics = metrics;
        // A thread of its own: scoring blocks for milliseconds at a time and must not starve the request threads.
        loop = Task.Factory.StartNew(Loop, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default).Unwrap();
    }

    public int Queued => Volatile.Read(ref queued);

    /// <summary>Queues the texts, or returns null when the queue is full.</summary>
    public Task<float[][]>? TryEnqueue(Encoding[] inputs)
    {
        int now = Interlocked.Add(ref queued, inputs.Length);
        if (now > maxQueued && now != inputs.Length)   // one request alone is always taken, however large
        {
            Interlocked.Add(ref queued, -inputs.Length);
            return null;
        }
        metrics.QueueSize.Set(Queued);
        var job = new Job(inputs, new TaskCompletionSource<float[][]>(TaskCreationOptions.RunContinuationsAsynchronously));
        if (!channel.Writer.TryWrite(job))
        {
            Interlocked.Add(ref queued, -inputs.Length);
            return null;   // shutting down
        }
        return job.Done.Task;
    }

    async Task Loop()
    {
        var reader = channel.Reader;
        var batch = new List<Job>();
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            batch.Clear();
            int texts = 0;
            var deadline = Stopwatch.StartNew();
            while (texts < maxBatch)
            {
                if (reader.TryRead(out var job)) { batch.Add(job); texts += job.Inputs.Length; continue; }
                var left = maxWait - deadline.Elapsed;
                if (left <= TimeSpan.Zero) break;
                using var timeout = new CancellationTokenSource(left);
                try
                {
                    if (!await reader.WaitToReadAsync(timeout.Token).ConfigureAwait(false)) break;
                }
                catch (OperationCanceledException) { break; }
            }
            if (batch.Count == 0) continue;
            Score(batch, texts);
        }
    }

    void Score(List<Job> batch, int texts)
    {
        var inputs = batch.SelectMany(j => j.Inputs).ToArray();
        var clock = Stopwatch.StartNew();
        try
        {
            var rows = score(inputs);
            metrics.BatchSize.Observe(texts);
            metrics.BatchInferenceSeconds.Observe(clock.Elapsed.TotalSeconds);
            int offset = 0;
            foreach (var job in batch)
            {
                job.Done.SetResult(rows[offset..(offset + job.Inputs.Length)]);
                offset += job.Inputs.Length;
            }
        }
        catch (Exception e)
        {
            foreach (var job in batch) job.Done.TrySetException(e);
        }
        finally
        {
            Interlocked.Add(ref queued, -texts);
            metrics.QueueSize.Set(Queued);
        }
    }

    /// <summary>Stops taking work; what was queued is still scored.</summary>
    public async ValueTask DisposeAsync()
    {
        channel.Writer.TryComplete();
        await loop.ConfigureAwait(false);
    }
}
