using static TorchSharp.torch;

namespace Blockbuster.Model;

/// <summary>transformers' BertIntermediate: dense (H → I) and the activation.</summary>
public sealed class BertIntermediate : nn.Module<Tensor, Tensor>
{
    public readonly nn.Module<Tensor, Tensor> dense;
    readonly string activation;

    public BertIntermediate(BertConfig config, Lora.LoraConfig? lora) : base(nameof(BertIntermediate))
    {
        dense = LinearLayers.Create(nameof(dense), config.HiddenSize, config.IntermediateSize, lora);
        activation = config.HiddenAct;
        RegisterComponents();
    }

    public override Tensor forward(Tensor hidden) => Activations.Apply(activation, LinearLayers.Apply(dense, hidden));   // (B, T, I)
}
