using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Blockbuster.Model;

/// <summary>transformers' BertSelfOutput: dense, dropout, residual, LayerNorm (in fp32).</summary>
public sealed class BertSelfOutput : nn.Module<Tensor, Tensor, Tensor>
{
    public readonly nn.Module<Tensor, Tensor> dense;
    public readonly LayerNorm LayerNorm;
    public readonly FastDropout dropout;

    public BertSelfOutput(BertConfig config, Lora.LoraConfig? lora) : base(nameof(BertSelfOutput))
    {
        dense = LinearLayers.Create(nameof(dense), config.HiddenSize, config.HiddenSize, lora);
        LayerNorm = nn.LayerNorm(config.HiddenSize, eps: config.LayerNormEps);
        dropout = new FastDropout(config.HiddenDropoutProb);
        RegisterComponents();
    }

    public override Tensor forward(Tensor hidden, Tensor input) =>
        LayerNorm.call(Autocast.Float(dropout.call(LinearLayers.Apply(dense, hidden)) + input));
}
