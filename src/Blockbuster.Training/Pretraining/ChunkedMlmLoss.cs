using Blockbuster.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace Blockbuster.Training.Pretraining;

/// <summary>The masked-LM loss of a training step, its prediction head run in chunks of positions.</summary>
public static class ChunkedMlmLoss
{
    /// <summary>Positions the head takes at once: one shape per chunk, as the batch's positions are padded to it.</summary>
    public const int ChunkRows = MlmMasking.PadPositionsTo;

    /// <summary>
    /// A training step's forward and backward; returns the mean cross-entropy over the masked positions. The 30,522-word
    /// head is the memory of a step: for ~2,500 positions its (N, V) bf16 logits, their fp32 copy, the log-softmax and
    /// their gradients, all alive until backward, took ~1.5 GB, and pretraining peaked at 3.3 GB. So the head runs on
    /// <paramref name="chunkRows"/> positions at a time, each chunk's forward and backward before the next (as Liger
    /// Kernel's fused linear cross-entropy does), on a detached copy of the encoder's masked hidden states that
    /// gathers their gradient; one backward through the encoder from that gradient ends the step. The same loss and
    /// gradients as one pass, summed in a different order.
    /// </summary>
    public static double Backward(BertForMaskedLM model, MaskedBatch batch, int rows, int length, Device device, PrecisionPolicy precision,
                                  DynamicLossScaler? scaler, int chunkRows = ChunkRows) =>
        Backward(model, batch, rows, length, device, precision, scaler, extraLoss: null, chunkRows).Mlm;

    /// <summary>
    /// The same step with a second loss over every layer's states (hidden-state distillation): <paramref name="extraLoss"/>
    /// gets the input ids (B, T) and the student's states (embeddings first) and returns an fp32 scalar, already
    /// weighted; its gradient joins the masked-LM one in the single backward through the encoder.
    /// </summary>
    /// <returns>the masked-LM loss and the extra loss</returns>
    public static (double Mlm, double Extra) Backward(BertForMaskedLM model, MaskedBatch batch, int rows, int length, Device device, PrecisionPolicy precision,
                                                      DynamicLossScaler? scaler, Func<Tensor, Tensor[], Tensor>? extraLoss, int chunkRows = ChunkRows)
    {
        var ids = tensor(batch.InputIds, [rows, length], device: device);
        var positions = tensor(batch.Positions, device: device);
        var labels = tensor(batch.Labels, device: device);
        Tensor hidden;
        Tensor[]? states = null;
        using (Autocast.Enable(precision.ComputeDtype))
        {
            if (extraLoss is null) hidden = model.MaskedHidden(ids, ones_like(ids), zeros_like(ids), positions);   // (N, H)
            else
            {
                states = model.bert.EncodeAllLayers(ids, ones_like(ids), zeros_like(ids));
                hidden = states[^1].reshape(-1, model.Config.HiddenSize).index_select(0, positions);           // (N, H)
            }
        }
        var leaf = hidden.detach().requires_grad_(true);
        using var realPositions = ((double)Math.Max(batch.Count, 1)).ToScalar();
        long n = leaf.shape[0];
        double loss = 0;
        for (long start = 0; start < n; start += chunkRows)
        {
            using var chunkScope = NewDisposeScope();
            long end = Math.Min(n, start + chunkRows);
            Tensor logits;
            using (Autocast.Enable(precision.ComputeDtype))
                logits = model.Predict(leaf.narrow(0, start, end - start));   // (rows, V) fp32
            // Summed and divided by all real positions: the chunks add up to the mean over the whole batch.
            var chunkLoss = nn.functional.cross_entropy(logits, labels.narrow(0, start, end - start), ignore_index: MlmMasking.IgnoreIndex,
                                                        reduction: nn.Reduction.Sum).div(realPositions);
            (scaler is null ? chunkLoss : scaler.ScaleLoss(chunkLoss)).backward();
            loss += chunkLoss.item<float>();
        }
        // d(loss)/d(hidden) is now in leaf.grad (scaled like the chunks' losses); carry it through the encoder,
        // with the extra loss's own gradient when there is one.
        if (extraLoss is null)
        {
            autograd.backward([hidden], [leaf.grad!]);
            return (loss, 0);
        }
        var extra = extraLoss(ids, states!);
        var scaled = scaler is null ? extra : scaler.ScaleLoss(extra);
        autograd.backward([hidden, scaled], [leaf.grad!, ones_like(scaled)]);
        return (loss, extra.item<float>());
    }
}
