using Blockbuster.Model.Lora;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Blockbuster.Model;

/// <summary>
/// BERT's _init_weights: normal(0, initializer_range) for linear and embedding weights, zero biases and
/// padding row, LayerNorm weight 1 / bias 0. LoRA layers keep their own init (A kaiming, B zero).
/// </summary>
public static class BertInit
{
    public static void Apply(nn.Module root, BertConfig config)
    {
        using var _ = no_grad();
        var loraFactors = new HashSet<nn.Module>(root.modules().OfType<LoraLinear>().SelectMany(l => new nn.Module[] { l.lora_A, l.lora_B }),
                                                 ReferenceEqualityComparer.Instance);
        double std = config.InitializerRange;
        foreach (var module in root.modules())
        {
            switch (module)
            {
                case Linear linear when !loraFactors.Contains(linear):
                    nn.init.normal_(linear.weight!, 0, std);
                    if (linear.bias is { } bias) nn.init.zeros_(bias);
                    break;
                case Embedding embedding:
                    nn.init.normal_(embedding.weight!, 0, std);
                    if (embedding == FindWordEmbeddings(root)) embedding.weight![config.PadTokenId].zero_();
                    break;
                case LayerNorm norm:
                    nn.init.ones_(norm.weight!);
                    nn.init.zeros_(norm.bias!);
                    break;
            }
        }
    }

    static Embedding? FindWordEmbeddings(nn.Module root) =>
        root.named_modules().FirstOrDefault(m => m.name.EndsWith("word_embeddings", StringComparison.Ordinal)).module as Embedding;
}
