using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Blockbuster.Model;

/// <summary>transformers' BertSelfAttention (eager/sdpa): query, key, value projections and fused attention.</summary>
public sealed class BertSelfAttention : nn.Module<Tensor, Tensor, Tensor>
{
    public readonly nn.Module<Tensor, Tensor> query;
    public readonly nn.Module<Tensor, Tensor> key;
    public readonly nn.Module<Tensor, Tensor> value;
    public readonly Dropout dropout;

    readonly int numHeads;
    readonly int headSize;
    readonly double attentionDropout;

    public BertSelfAttention(BertConfig config, Lora.LoraConfig? lora) : base(nameof(BertSelfAttention))
    {
        query = LinearLayers.Create(nameof(query), config.HiddenSize, config.HiddenSize, lora);
        key = LinearLayers.Create(nameof(key), config.HiddenSize, config.HiddenSize, lora);
        value = LinearLayers.Create(nameof(value), config.HiddenSize, config.HiddenSize, lora);
        dropout = nn.Dropout(config.AttentionProbsDropoutProb);   // no weights; kept so the module tree matches HF
        numHeads = config.NumAttentionHeads;
        headSize = config.HeadSize;
        attentionDropout = config.AttentionProbsDropoutProb;
        RegisterComponents();
    }

    /// <param name="hidden">(B, T, H)</param>
    /// <param name="mask">(B, 1, 1, T) bool, true where a key may be attended to</param>
    /// <returns>(B, T, H) in the compute dtype</returns>
    public override Tensor forward(Tensor hidden, Tensor mask)
    {
        long B = hidden.shape[0], T = hidden.shape[1];
        Tensor Heads(nn.Module<Tensor, Tensor> projection) =>
            LinearLayers.Apply(projection, hidden).view(B, T, numHeads, headSize).transpose(1, 2);   // (B, nh, T, hs)

        var q = Heads(query);
        var k = Heads(key);
        var v = Heads(value);
        var context = nn.functional.scaled_dot_product_attention(
            q, k, v, mask, p: training ? attentionDropout : 0.0);                                    // (B, nh, T, hs)
        return context.transpose(1, 2).reshape(B, T, numHeads * headSize);                        // (B, T, H)
    }
}
