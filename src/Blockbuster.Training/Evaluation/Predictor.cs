using System.Runtime.ExceptionServices;
using Blockbuster.Model;
using Blockbuster.Training.Data;
using Blockbuster.Training.Tokenization;
using static TorchSharp.torch;

namespace Blockbuster.Training.Evaluation;

/// <summary>
/// Batched inference: texts are tokenized once, batched in length order (little padding), run under
/// no_grad in eval mode with one dispose scope per batch, and softmax probabilities (fp32) come back in
/// the input order.
/// </summary>
/// <remarks>
/// On CPU with two or more threads, two workers take batches side by side, each with half the threads.
/// A bert-tiny forward pass is many small ops (128-wide matmuls, LayerNorms, casts), and splitting each
/// one across both cores left them idle at every op boundary: on 2 cores, two single-threaded workers
/// scored the 10k held-out reviews in 18.4 s where one two-threaded loop took 21.5 s
/// (<c>Blockbuster.Benchmarks workers-probe</c>). Training keeps one loop: its larger backward matmuls
/// split well, and two workers were no faster there (<c>train-workers-probe</c>).
/// </remarks>
/// <param name="workers">batches scored side by side; null: two on CPU with two or more threads, else one</param>
public sealed class Predictor(BertForSequenceClassification model, BertWordPieceTokenizer tokenizer, Device device,
                              PrecisionPolicy precision, int maxLength, int batchSize = 32, int? workers = null)
{
    public BertForSequenceClassification Model => model;
    public IReadOnlyList<string> Labels => model.Config.Labels;

    /// <summary>Probabilities (N, num_labels) for encoded texts.</summary>
    public float[][] Probabilities(IReadOnlyList<Encoding> encodings, IProgress<int>? progress = null, CancellationToken cancellationToken = default)
    {
        var result = new float[encodings.Count][];
        if (encodings.Count == 0) return result;
        var batches = LengthBucketSampler.Sorted(encodings.Select(e => e.Ids.Length).ToArray(), batchSize);
        int threads = get_num_threads();
        int parallel = Math.Min(workers ?? (device.type == TorchSharp.DeviceType.CPU && threads >= 2 ? 2 : 1), batches.Count);
        int next = -1, done = 0;
        var progressLock = new object();

        void Work()
        {
            using var _ = no_grad();
            using var cast = Autocast.Enable(precision.ComputeDtype);
            int b;
            while ((b = Interlocked.Increment(ref next)) < batches.Count)
            {
                cancellationToken.ThrowIfCancellationRequested();
                Score(batches[b], encodings, result);
                lock (progressLock)   // counted and reported together, so the reported totals only grow
                {
                    done += batches[b].Length;
                    progress?.Report(done);
                }
            }
        }

        bool wasTraining = model.training;
        model.eval();
        try
        {
            if (parallel == 1) Work();
            else RunWorkers(parallel, Math.Max(1, threads / parallel), Work);
        }
        finally
        {
            model.train(wasTraining);
        }
        return result;
    }

    /// <summary>One batch: (B, C) probabilities written to <paramref name="result"/> at the members' positions.</summary>
    void Score(int[] members, IReadOnlyList<Encoding> encodings, float[][] result)
    {
        using var scope = NewDisposeScope();
        var inputs = Batch.Collate(members.Select(i => encodings[i].Ids).ToArray(), null, tokenizer.PadId, device, maxLength);
        var logits = model.call(inputs.InputIds, inputs.AttentionMask, inputs.TokenTypeIds);   // (B, C) fp32
        var probabilities = nn.functional.softmax(logits, 1).cpu().data<float>().ToArray();
        int classes = (int)logits.shape[1];
        for (int b = 0; b < members.Length; b++)
            result[members[b]] = probabilities.AsSpan(b * classes, classes).ToArray();
    }

    /// <summary>
    /// Runs <paramref name="work"/> on the calling thread and <paramref name="count"/> - 1 new ones, each
    /// limited to <paramref name="threadsEach"/> intra-op threads (LibTorch's count is per calling thread),
    /// and rethrows the first failure. The calling thread takes part so that only one new thread allocates:
    /// glibc gives each allocating thread its own heap arena, which keeps its peak.
    /// </summary>
    static void RunWorkers(int count, int threadsEach, Action work)
    {
        ExceptionDispatchInfo? failure = null;
        void Guarded()
        {
            try
            {
                set_num_threads(threadsEach);
                work();
            }
            catch (Exception e)
            {
                Interlocked.CompareExchange(ref failure, ExceptionDispatchInfo.Capture(e), null);
            }
        }
        int restore = get_num_threads();
        var helpers = Enumerable.Range(1, count - 1).Select(_ => new Thread(Guarded) { IsBackground = true }).ToList();
        helpers.ForEach(t => t.Start());
        Guarded();
        helpers.ForEach(t => t.Join());
        set_num_threads(restore);
        failure?.Throw();
    }

    /// <summary>Scores labelled encodings; positive class = label 1.</summary>
    public (ClassificationMetrics Metrics, float[][] Probabilities) Evaluate(IReadOnlyList<Encoding> encodings, IReadOnlyList<int> labels,
                                                                           IProgress<int>? progress = null, CancellationToken cancellationToken = default)
    {
        var probabilities = Probabilities(encodings, progress, cancellationToken);
        var metrics = ClassificationMetrics.Compute(labels, probabilities.Select(p => (double)p[1]).ToArray());
        return (metrics, probabilities);
    }
}
