using static TorchSharp.torch;

namespace Blockbuster.Model;

/// <summary>transformers' BertPooler: tanh(dense(hidden state of [CLS])).</summary>
public sealed class BertPooler : nn.Module<Tensor, Tensor>
{
    public readonly nn.Module<Tensor, Tensor> dense;

    public BertPooler(BertConfig config, Lora.LoraConfig? lora) : base(nameof(BertPooler))
    {
        dense = LinearLayers.Create(nameof(dense), config.HiddenSize, config.HiddenSize, lora);
        RegisterComponents();
    }

    /// <param name="hidden">(B, T, H)</param> <returns>(B, H)</returns>
    public override Tensor forward(Tensor hidden) => LinearLayers.Apply(dense, hidden[.., 0]).tanh();
}
