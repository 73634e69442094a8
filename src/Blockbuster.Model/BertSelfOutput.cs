using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Blockbuster.Model;

/// <summary>transformers' BertSelfOutput: dense, dropout, residual, LayerNorm (in fp32).</summary>
public sealed class BertSelfOutput : nn.Module<Tensor, Tensor, Tensor>
{
    public nn.Module<Tensor, Tensor> dense;   // a Linear; LayerSwap may replace it (LoRA, 4-bit)
    public readonly LayerNorm LayerNorm;
    public readonly FastDropout dropout;

    public BertSelfOutput(BertConfig config) : base(nameof(BertSelfOutput))
    {
        dense = nn.Linear(config.HiddenSize, config.HiddenSize);
        LayerNorm = nn.LayerNorm(config.HiddenSize, eps: config.LayerNormEps);
        dropout = new FastDropout(config.HiddenDropoutProb);
        RegisterComponents();
    }

    public override Tensor forward(Tensor hidden, Tensor input) =>
        LayerNorm.call(Autocast.Float(dropout.call(Autocast.Linear(dense, hidden)).add(input, Scalars.One)));
}
