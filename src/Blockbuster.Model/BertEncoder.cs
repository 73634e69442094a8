using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Blockbuster.Model;

/// <summary>transformers' BertEncoder: <c>layer.0 … layer.N-1</c>.</summary>
public sealed class BertEncoder : nn.Module<Tensor, Tensor?, Tensor>
{
    public readonly ModuleList<BertLayer> layer;

    public BertEncoder(BertConfig config) : base(nameof(BertEncoder))
    {
        layer = nn.ModuleList(Enumerable.Range(0, config.NumHiddenLayers).Select(_ => new BertLayer(config)).ToArray());
        RegisterComponents();
    }

    public override Tensor forward(Tensor hidden, Tensor? attentionBias)
    {
        foreach (var block in layer) hidden = block.call(hidden, attentionBias);
        return hidden;
    }
}
