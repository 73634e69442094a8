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

    /// <param name="hidden">(B, T, H), the embeddings' output</param>
    /// <param name="attentionBias">(B, 1, 1, T) or null (see <see cref="BertModel"/>)</param>
    public override Tensor forward(Tensor hidden, Tensor? attentionBias)
    {
        if (is_grad_enabled())
        {
            // Training: autograd keeps most of a layer's intermediates for backward anyway; the step's one scope frees them.
            foreach (var block in layer) hidden = block.call(hidden, attentionBias);
            return hidden;
        }
        // Inference: nothing needs a layer's intermediates once its output exists, but the caller's one scope per
        // batch would hold every layer's (scores, probabilities, the 4H activations: ~55 MB a layer for MiniLM at
        // 16 × 128) until the batch ends; predict on MiniLM peaked at 1.1 GB that way. So each layer gets its own
        // scope here, the one place that does this, and only its output leaves it.
        Tensor? previous = null;
        foreach (var block in layer)
        {
            using (NewDisposeScope())
                hidden = block.call(hidden, attentionBias).MoveToOuterDisposeScope();
            previous?.Dispose();   // the last layer's output, made here; the embeddings' output is the caller's
            previous = hidden;
        }
        return hidden;
    }
}
