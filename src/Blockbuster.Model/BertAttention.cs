using static TorchSharp.torch;

namespace Blockbuster.Model;

/// <summary>transformers' BertAttention: <c>self</c> then <c>output</c>.</summary>
public sealed class BertAttention : nn.Module<Tensor, Tensor?, Tensor>
{
    public readonly BertSelfAttention self;
    public readonly BertSelfOutput output;

    public BertAttention(BertConfig config) : base(nameof(BertAttention))
    {
        self = new BertSelfAttention(config);
        output = new BertSelfOutput(config);
        RegisterComponents();
    }

    public override Tensor forward(Tensor hidden, Tensor? attentionBias) => output.call(self.call(hidden, attentionBias), hidden);
}
