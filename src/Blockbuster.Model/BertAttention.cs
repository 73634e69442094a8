using static TorchSharp.torch;

namespace Blockbuster.Model;

/// <summary>transformers' BertAttention: <c>self</c> then <c>output</c>.</summary>
public sealed class BertAttention : nn.Module<Tensor, Tensor?, Tensor>
{
    public readonly BertSelfAttention self;
    public readonly BertSelfOutput output;

    public BertAttention(BertConfig config, Lora.LoraConfig? lora) : base(nameof(BertAttention))
    {
        self = new BertSelfAttention(config, lora);
        output = new BertSelfOutput(config, lora);
        RegisterComponents();
    }

    public override Tensor forward(Tensor hidden, Tensor? attentionBias) => output.call(self.call(hidden, attentionBias), hidden);
}
