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
/// one across both cores left them idle at every op boundary; two single-threaded workers are faster
/// (<c>Blockbuster.Benchmarks workers-probe</c>). Small batches score as fast as large ones and hold far less
/// memory. Training keeps one loop: its larger backward matmuls split well, and two workers were no faster
/// there (<c>train-workers-probe</c>). The figures are in the README, "Why the code is shaped this way".
/// </remarks>
/// <param name="workers">batches scored side by side, 1 or 2; null: two on CPU with two or more threads, else one</param>
public sealed class Predictor(BertForSequenceClassification model, BertWordPieceTokenizer tokenizer, Device device,
                              PrecisionPolicy precision, int maxLength, int batchSize = 16, int? workers = null)
{
    public BertForSequenceClassification Model => model;
    public IReadOnlyList<string> Labels => model.Config.Labels;

    /// <summary>Probabilities (N, num_labels) for encoded texts.</summary>
    public float[][] Probabilities(IReadOnlyList<Encoding> encodings, IProgress<int>? progress = null, CancellationToken cancellationToken = default) =>
        Run(encodings, raw: false, progress, cancellationToken);

    /// <summary>
    /// Probabilities (N, num_labels) of texts read in one or more windows each (<see cref="BertWordPieceTokenizer.EncodeWindows"/>):
    /// every window is scored in the same length-sorted batches, and a text's probabilities are the mean of its windows'.
    /// Progress counts texts, in proportion to the windows scored.
    /// </summary>
    public float[][] Probabilities(IReadOnlyList<Encoding[]> windows, IProgress<int>? progress = null, CancellationToken cancellationToken = default)
    {
        var flat = windows.SelectMany(w => w).ToArray();
        var perWindow = Probabilities(flat, progress is null ? null : new SyncProgress<int>(done => progress.Report((int)((long)done * windows.Count / flat.Length))),
                                      cancellationToken);
        var result = new float[windows.Count][];
        int at = 0;
        for (int i = 0; i < windows.Count; i++)
        {
            int count = windows[i].Length;
            if (count == 0) throw new ArgumentException($"text {i} has no window to read.", nameof(windows));
            var mean = new float[perWindow[at].Length];
            for (int w = 0; w < count; w++)
                for (int c = 0; c < mean.Length; c++) mean[c] += perWindow[at + w][c] / count;
            result[i] = mean;
            at += count;
        }
        return result;
    }

    /// <summary>Logits (N, num_labels), fp32, before the softmax (TEI's <c>raw_scores</c>).</summary>
    public float[][] Logits(IReadOnlyList<Encoding> encodings, CancellationToken cancellationToken = default) =>
        Run(encodings, raw: true, null, cancellationToken);

    float[][] Run(IReadOnlyList<Encoding> encodings, bool raw, IProgress<int>? progress, CancellationToken cancellationToken)
    {
        var result = new float[encodings.Count][];
        if (encodings.Count == 0) return result;
        var batches = LengthBucketSampler.Sorted(encodings.Select(e => e.Ids.Length).ToArray(), batchSize);
        int threads = get_num_threads();
        if (workers is not (null or 1 or 2)) throw new ArgumentOutOfRangeException(nameof(workers), "one or two workers");
        int parallel = Math.Min(workers ?? (device.type == TorchSharp.DeviceType.CPU && threads >= 2 ? 2 : 1), batches.Count);
        int next = -1, done = 0;
        bool failed = false;
        var progressLock = new object();

        void Work()
        {
            using var _ = no_grad();
            using var cast = Autocast.Enable(precision.ComputeDtype);
            int b;
            while ((b = Interlocked.Increment(ref next)) < batches.Count && !Volatile.Read(ref failed))
            {
                cancellationToken.ThrowIfCancellationRequested();
                try
                {
                    Score(batches[b], encodings, result, raw);
                }
                catch
                {
                    Volatile.Write(ref failed, true);   // the other worker stops at its next batch
                    throw;
                }
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
            else RunSideBySide(Math.Max(1, threads / 2), Work);
        }
        finally
        {
            model.train(wasTraining);
        }
        return result;
    }

    /// <summary>One batch: (B, C) probabilities (or logits) written to <paramref name="result"/> at the members' positions.</summary>
    void Score(int[] members, IReadOnlyList<Encoding> encodings, float[][] result, bool raw)
    {
        using var scope = NewDisposeScope();
        var inputs = Batch.Collate(members.Select(i => encodings[i].Ids).ToArray(), null, tokenizer.PadId, device, maxLength);
        var logits = model.call(inputs.InputIds, inputs.AttentionMask, inputs.TokenTypeIds);   // (B, C) fp32
        var probabilities = (raw ? logits : nn.functional.softmax(logits, 1)).cpu().data<float>().ToArray();
        int classes = (int)logits.shape[1];
        for (int b = 0; b < members.Length; b++)
            result[members[b]] = probabilities.AsSpan(b * classes, classes).ToArray();
    }

    /// <summary>
    /// Runs <paramref name="work"/> on the calling thread and on <see cref="InferenceHelperThread"/>, each
    /// limited to <paramref name="threadsEach"/> intra-op threads (LibTorch's count is per calling thread);
    /// rethrows this thread's failure, else the helper's.
    /// </summary>
    static void RunSideBySide(int threadsEach, Action work)
    {
        void Limited()
        {
            set_num_threads(threadsEach);
            work();
        }
        int restore = get_num_threads();
        var helper = InferenceHelperThread.Run(Limited);
        try
        {
            Limited();
        }
        finally
        {
            // The helper finishes its batch before anything else touches the model, whether or not this thread failed.
            ((IAsyncResult)helper).AsyncWaitHandle.WaitOne();
            set_num_threads(restore);
        }
        helper.GetAwaiter().GetResult();   // the helper's failure, as thrown
    }

    /// <summary>Scores labelled encodings (1 = positive); the model's positive class is found by name in its id2label.</summary>
    public (ClassificationMetrics Metrics, float[][] Probabilities) Evaluate(IReadOnlyList<Encoding> encodings, IReadOnlyList<int> labels,
                                                                           IProgress<int>? progress = null, CancellationToken cancellationToken = default)
    {
        var probabilities = Probabilities(encodings, progress, cancellationToken);
        int positive = SentimentLabel.PositiveIndex(Labels);
        var metrics = ClassificationMetrics.Compute(labels, probabilities.Select(p => (double)p[positive]).ToArray());
        return (metrics, probabilities);
    }
}
