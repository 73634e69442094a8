using static TorchSharp.torch;

namespace Blockbuster.Model;

/// <summary>transformers' BertLayer: attention, intermediate, output.</summary>
public sealed class BertLayer : nn.Module<Tensor, Tensor?, Tensor>
{
    public readonly BertAttention attention;
    public readonly BertIntermediate intermediate;
    public readonly BertOutput output;

    public BertLayer(BertConfig config, Lora.LoraConfig? lora) : base(nameof(BertLayer))
    {
        attention = new BertAttention(config, lora);
        intermediate = new BertIntermediate(config, lora);
        output = new BertOutput(config, lora);
        RegisterComponents();
    }

    public override Tensor forward(Tensor hidden, Tensor? attentionBias)
    {
        var attended = attention.call(hidden, attentionBias);     // (B, T, H)
        return output.call(intermediate.call(attended), attended);
    }
}
