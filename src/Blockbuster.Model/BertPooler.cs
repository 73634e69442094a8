using static TorchSharp.torch;

namespace Blockbuster.Model;

/// <summary>transformers' BertPooler: tanh(dense(hidden state of [CLS])).</summary>
public sealed class BertPooler : nn.Module<Tensor, Tensor>
{
    public nn.Module<Tensor, Tensor> dense;   // a Linear; LayerSwap may replace it (LoRA, 4-bit)

    public BertPooler(BertConfig config) : base(nameof(BertPooler))
    {
        dense = nn.Linear(config.HiddenSize, config.HiddenSize);
        RegisterComponents();
    }

    /// <param name="hidden">(B, T, H)</param> <returns>(B, H)</returns>
    public override Tensor forward(Tensor hidden) => Autocast.Linear(dense, hidden[.., 0]).tanh();
}
