using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Blockbuster.Model;

/// <summary>transformers' BertSelfAttention (eager/sdpa): query, key, value projections and fused attention.</summary>
public sealed class BertSelfAttention : nn.Module<Tensor, Tensor?, Tensor>
{
    public readonly nn.Module<Tensor, Tensor> query;
    public readonly nn.Module<Tensor, Tensor> key;
    public readonly nn.Module<Tensor, Tensor> value;
    public readonly FastDropout dropout;   // on the attention probabilities, as in HF

    readonly int numHeads;
    readonly int headSize;
    readonly double attentionDropout;

    public BertSelfAttention(BertConfig config, Lora.LoraConfig? lora) : base(nameof(BertSelfAttention))
    {
        query = LinearLayers.Create(nameof(query), config.HiddenSize, config.HiddenSize, lora);
        key = LinearLayers.Create(nameof(key), config.HiddenSize, config.HiddenSize, lora);
        value = LinearLayers.Create(nameof(value), config.HiddenSize, config.HiddenSize, lora);
        dropout = new FastDropout(config.AttentionProbsDropoutProb);
        numHeads = config.NumAttentionHeads;
        headSize = config.HeadSize;
        attentionDropout = config.AttentionProbsDropoutProb;
        RegisterComponents();
    }

    /// <param name="hidden">(B, T, H)</param>
    /// <param name="mask">(B, 1, 1, T) bool, true where a key may be attended to; null when nothing is padded</param>
    /// <returns>(B, T, H) in the compute dtype</returns>
    public override Tensor forward(Tensor hidden, Tensor? mask)
    {
        long B = hidden.shape[0], T = hidden.shape[1];
        // Cast once for the three projections instead of once in each (same values, a third of the casts).
        var x = Autocast.Dtype is { } dtype ? hidden.to(dtype) : hidden;
        Tensor Heads(nn.Module<Tensor, Tensor> projection) =>
            LinearLayers.Apply(projection, x).view(B, T, numHeads, headSize).transpose(1, 2);   // (B, nh, T, hs)

        var q = Heads(query);
        var k = Heads(key);
        var v = Heads(value);
        var context = training && attentionDropout > 0
            ? AttentionWithDropout(q, k, v, mask)
            : nn.functional.scaled_dot_product_attention(q, k, v, mask);                         // (B, nh, T, hs)
        return context.transpose(1, 2).reshape(B, T, numHeads * headSize);                        // (B, T, H)
    }

    /// <summary>
    /// softmax(QKᵀ/√d + mask) → dropout → ·V, spelled out: libtorch's fused attention draws its dropout
    /// mask with the slow CPU Bernoulli sampler (7x the cost of the attention itself here). The softmax
    /// runs in fp32 as autocast would; its output is cast once to the compute dtype, where an exact 0/1
    /// mask drops entries, and the 1/(1-p) rescale is applied to the (B, nh, T, hs) result instead of
    /// the (B, nh, T, T) probabilities — the same product, on a tensor T/hs times smaller.
    /// </summary>
    Tensor AttentionWithDropout(Tensor q, Tensor k, Tensor v, Tensor? mask)
    {
        var scores = q.mul(1.0 / Math.Sqrt(headSize)).matmul(k.transpose(-1, -2));                 // (B, nh, T, T)
        if (mask is not null) scores = scores.masked_fill(mask.logical_not(), float.NegativeInfinity);
        var probabilities = scores.softmax(-1, ScalarType.Float32).to(q.dtype);                    // fp32 softmax
        var keep = FastDropout.KeepMask(probabilities.shape, attentionDropout, probabilities.dtype, probabilities.device);
        return (probabilities * keep).matmul(v).mul_(1.0 / (1.0 - attentionDropout));            // (B, nh, T, hs)
    }
}
