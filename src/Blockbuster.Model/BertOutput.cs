using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Blockbuster.Model;

/// <summary>transformers' BertOutput: dense (I → H), dropout, residual, LayerNorm (in fp32).</summary>
public sealed class BertOutput : nn.Module<Tensor, Tensor, Tensor>
{
    public nn.Module<Tensor, Tensor> dense;   // a Linear; LayerSwap may replace it (LoRA, 4-bit)
    public readonly LayerNorm LayerNorm;
    public readonly FastDropout dropout;

    public BertOutput(BertConfig config) : base(nameof(BertOutput))
    {
        dense = nn.Linear(config.IntermediateSize, config.HiddenSize);
        LayerNorm = nn.LayerNorm(config.HiddenSize, eps: config.LayerNormEps);
        dropout = new FastDropout(config.HiddenDropoutProb);
        RegisterComponents();
    }

    public override Tensor forward(Tensor intermediate, Tensor input) =>
        LayerNorm.call(Autocast.Float(dropout.call(Autocast.Linear(dense, intermediate)).add(input, Scalars.One)));
}
