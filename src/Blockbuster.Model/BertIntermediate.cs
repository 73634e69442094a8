using static TorchSharp.torch;

namespace Blockbuster.Model;

/// <summary>transformers' BertIntermediate: dense (H → I) and the activation.</summary>
public sealed class BertIntermediate : nn.Module<Tensor, Tensor>
{
    public nn.Module<Tensor, Tensor> dense;   // a Linear; LayerSwap may replace it (LoRA, 4-bit)
    readonly string activation;

    public BertIntermediate(BertConfig config) : base(nameof(BertIntermediate))
    {
        dense = nn.Linear(config.HiddenSize, config.IntermediateSize);
        activation = config.HiddenAct;
        RegisterComponents();
    }

    public override Tensor forward(Tensor hidden) => Activations.Apply(activation, Autocast.Linear(dense, hidden));   // (B, T, I)
}
