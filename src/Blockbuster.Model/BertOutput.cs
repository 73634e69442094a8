using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Blockbuster.Model;

/// <summary>transformers' BertOutput: dense (I → H), dropout, residual, LayerNorm (in fp32).</summary>
public sealed class BertOutput : nn.Module<Tensor, Tensor, Tensor>
{
    public readonly nn.Module<Tensor, Tensor> dense;
    public readonly LayerNorm LayerNorm;
    public readonly FastDropout dropout;

    public BertOutput(BertConfig config, Lora.LoraConfig? lora) : base(nameof(BertOutput))
    {
        dense = LinearLayers.Create(nameof(dense), config.IntermediateSize, config.HiddenSize, lora);
        LayerNorm = nn.LayerNorm(config.HiddenSize, eps: config.LayerNormEps);
        dropout = new FastDropout(config.HiddenDropoutProb);
        RegisterComponents();
    }

    public override Tensor forward(Tensor intermediate, Tensor input) =>
        LayerNorm.call(Autocast.Float(dropout.call(LinearLayers.Apply(dense, intermediate)) + input));
}
