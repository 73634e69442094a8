using static TorchSharp.torch;

namespace Blockbuster.Model;

/// <summary>transformers' BertLayer: attention, intermediate, output.</summary>
public sealed class BertLayer : nn.Module<Tensor, Tensor?, Tensor>
{
    public readonly BertAttention attention;
    public readonly BertIntermediate intermediate;
    public readonly BertOutput output;

    public BertLayer(BertConfig config) : base(nameof(BertLayer))
    {
        attention = new BertAttention(config);
        intermediate = new BertIntermediate(config);
        output = new BertOutput(config);
        RegisterComponents();
    }

    public override Tensor forward(Tensor hidden, Tensor? attentionBias)
    {
        var attended = attention.call(hidden, attentionBias);     // (B, T, H)
        return output.call(intermediate.call(attended), attended);
    }
}
