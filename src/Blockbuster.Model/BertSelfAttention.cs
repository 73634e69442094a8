using TorchSharp;
using static TorchSharp.torch;

namespace Blockbuster.Model;

/// <summary>
/// transformers' BertSelfAttention (the "eager" implementation): query, key and value projections, then
/// softmax(QKᵀ/√d + bias) → dropout → ·V written out.
/// </summary>
/// <remarks>
/// Written out rather than <c>scaled_dot_product_attention</c>, measured with the attention-grad-probe and
/// int8-probe benchmarks: in bf16, libtorch's fused CPU attention is slower at inference (5.1 against 3.1 ms for
/// B=8, T=288 on one thread) and draws its dropout mask with the slow CPU Bernoulli sampler in training. fp32
/// inference does use it, where its kernel is the faster one (4.5–4.7 against 5.3–6.2 ms there), and so do large bf16
/// batches at inference (<see cref="FusedAboveScores"/>). The softmax runs on the
/// compute dtype: libtorch's CPU kernel loads bf16 rows into fp32, takes max, exp and sum in fp32 and
/// rounds the output once (forward and backward; CUDA's kernel accumulates in fp32 too), so it is
/// autocast's fp32 softmax without an fp32 (B, nh, T, T) copy and two casts each way, which made
/// training attention slower (figures: README, "Why the code is shaped this way").
/// </remarks>
public sealed class BertSelfAttention : nn.Module<Tensor, Tensor?, Tensor>
{
    public nn.Module<Tensor, Tensor> query;   // a Linear; LayerSwap may replace it (LoRA, 4-bit)
    public nn.Module<Tensor, Tensor> key;   // a Linear; LayerSwap may replace it (LoRA, 4-bit)
    public nn.Module<Tensor, Tensor> value;   // a Linear; LayerSwap may replace it (LoRA, 4-bit)
    public readonly FastDropout dropout;   // on the attention probabilities, as in HF

    /// <summary>
    /// Inference in bf16 (or fp16) uses libtorch's fused attention, which works block by block instead of
    /// materialising the (B, nh, T, T) scores, once those scores would pass this many elements (16 MB in bf16).
    /// Below it the written-out path is faster; above it the score tensors cost more memory than they save time
    /// (figures: README, "Why the code is shaped this way").
    /// </summary>
    public const long FusedAboveScores = 1L << 23;

    readonly int numHeads;
    readonly int headSize;
    readonly double attentionDropout;
    readonly Scalar queryScale, dropoutRescale;   // 1/√hs and 1/(1-p), held for the module's life (see Scalars)

    public BertSelfAttention(BertConfig config) : base(nameof(BertSelfAttention))
    {
        query = nn.Linear(config.HiddenSize, config.HiddenSize);
        key = nn.Linear(config.HiddenSize, config.HiddenSize);
        value = nn.Linear(config.HiddenSize, config.HiddenSize);
        dropout = new FastDropout(config.AttentionProbsDropoutProb);
        numHeads = config.NumAttentionHeads;
        headSize = config.HeadSize;
        attentionDropout = config.AttentionProbsDropoutProb;
        queryScale = (1.0 / Math.Sqrt(headSize)).ToScalar();
        dropoutRescale = (1.0 / (1.0 - attentionDropout)).ToScalar();
        RegisterComponents();
    }

    /// <param name="hidden">(B, T, H)</param>
    /// <param name="attentionBias">(B, 1, 1, T) in the compute dtype, 0 where a key may be attended to and
    /// -inf at padding; null when nothing is padded</param>
    /// <returns>(B, T, H) in the compute dtype</returns>
    public override Tensor forward(Tensor hidden, Tensor? attentionBias)
    {
        long B = hidden.shape[0], T = hidden.shape[1];
        // Cast once for the three projections instead of once in each (same values, a third of the casts). int8
        // layers (--quantize int8) compute from fp32, so they take the fp32 hidden states as they are and only
        // their outputs are cast, for the attention matmuls.
        var x = Autocast.Dtype is { } dtype && query is not Quantization.LinearInt8Dynamic ? hidden.to(dtype) : hidden;
        Tensor Heads(nn.Module<Tensor, Tensor> projection) =>
            Autocast.Compute(Autocast.Linear(projection, x)).view(B, T, numHeads, headSize).transpose(1, 2);   // (B, nh, T, hs)

        var q = Heads(query);
        var k = Heads(key);
        var v = Heads(value);
        var context = !training && (q.dtype == ScalarType.Float32 || B * numHeads * T * T > FusedAboveScores)
            ? nn.functional.scaled_dot_product_attention(q, k, v, attentionBias)
            : WrittenOut(q, k, v, attentionBias);                                                 // (B, nh, T, hs)
        return context.transpose(1, 2).reshape(B, T, numHeads * headSize);                        // (B, T, H)
    }

    Tensor WrittenOut(Tensor q, Tensor k, Tensor v, Tensor? attentionBias)
    {
        // Scaling q (B, nh, T, hs) costs T/hs times less than scaling the scores; adding the bias in place is
        // safe for autograd (matmul's backward needs q and k, not its output).
        var scores = q.mul(queryScale).matmul(k.transpose(-1, -2));                             // (B, nh, T, T)
        if (attentionBias is not null) scores.add_(attentionBias, Scalars.One);
        var probabilities = scores.softmax(-1);                                                 // fp32 inside the kernel
        return training && attentionDropout > 0 ? DropoutThenValues(probabilities, v) : probabilities.matmul(v);
    }

    /// <summary>
    /// dropout(P)·V with an exact 0/1 keep mask in the compute dtype; the 1/(1-p) rescale is applied to the
    /// (B, nh, T, hs) result instead of the (B, nh, T, T) probabilities — the same product, on a tensor
    /// T/hs times smaller.
    /// </summary>
    Tensor DropoutThenValues(Tensor probabilities, Tensor v)
    {
        if (probabilities.device.type != TorchSharp.DeviceType.CPU)   // CUDA: libtorch's dropout, on the device
            return nn.functional.dropout(probabilities, attentionDropout, training: true).matmul(v);
        var keep = FastDropout.KeepMask(probabilities.shape, attentionDropout, probabilities.dtype, probabilities.device);
        return (probabilities * keep).matmul(v).mul_(dropoutRescale);
    }
}
