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
public sealed class Predictor(BertForSequenceClassification model, BertWordPieceTokenizer tokenizer, Device device,
                              PrecisionPolicy precision, int maxLength, int batchSize = 64)
{
    public BertForSequenceClassification Model => model;
    public IReadOnlyList<string> Labels => model.Config.Labels;

    /// <summary>Probabilities (N, num_labels) for encoded texts.</summary>
    public float[][] Probabilities(IReadOnlyList<Encoding> encodings, IProgress<int>? progress = null, CancellationToken cancellationToken = default)
    {
        var result = new float[encodings.Count][];
        if (encodings.Count == 0) return result;
        bool wasTraining = model.training;
        model.eval();
        try
        {
            int done = 0;
            var lengths = encodings.Select(e => e.Ids.Length).ToArray();
            foreach (var batch in LengthBucketSampler.Sorted(lengths, batchSize))
            {
                cancellationToken.ThrowIfCancellationRequested();
                using var scope = NewDisposeScope();
                using var _ = no_grad();
                using var cast = Autocast.Enable(precision.ComputeDtype);
                var inputs = Batch.Collate(batch.Select(i => encodings[i].Ids).ToArray(), null, tokenizer.PadId, device, maxLength);
                var logits = model.call(inputs.InputIds, inputs.AttentionMask, inputs.TokenTypeIds);   // (B, C) fp32
                var probabilities = nn.functional.softmax(logits, 1).cpu().data<float>().ToArray();
                int classes = (int)logits.shape[1];
                for (int b = 0; b < batch.Length; b++)
                    result[batch[b]] = probabilities.AsSpan(b * classes, classes).ToArray();
                done += batch.Length;
                progress?.Report(done);
            }
        }
        finally
        {
            model.train(wasTraining);
        }
        return result;
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
