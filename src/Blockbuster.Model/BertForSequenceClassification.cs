using Blockbuster.Model.Lora;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Blockbuster.Model;

/// <summary>
/// transformers' BertForSequenceClassification: <c>bert</c>, <c>dropout</c>, <c>classifier</c> on the pooled output.
/// With a <see cref="LoraConfig"/>, the targeted linear layers are <see cref="LoraLinear"/>s from the start
/// (their base weights live under <c>….base_layer.weight</c>, as in PEFT).
/// </summary>
public sealed class BertForSequenceClassification : nn.Module<Tensor, Tensor, Tensor, Tensor>
{
    public readonly BertModel bert;
    public readonly FastDropout dropout;
    public readonly Linear classifier;

    public BertConfig Config { get; }
    public LoraConfig? LoraConfig { get; }

    /// <param name="initialize">false skips BERT's random init, for models whose weights are loaded next</param>
    public BertForSequenceClassification(BertConfig config, LoraConfig? lora = null, bool initialize = true) : base(nameof(BertForSequenceClassification))
    {
        config.Validate();
        lora?.Validate();
        Config = config;
        LoraConfig = lora;
        bert = new BertModel(config, lora);
        dropout = new FastDropout(config.ClassifierDropout ?? config.HiddenDropoutProb);
        classifier = nn.Linear(config.HiddenSize, config.NumLabels);
        RegisterComponents();
        if (initialize) InitWeights();
    }

    /// <returns>logits (B, num_labels), fp32</returns>
    public override Tensor forward(Tensor inputIds, Tensor attentionMask, Tensor tokenTypeIds)
    {
        var (_, pooled) = bert.call(inputIds, attentionMask, tokenTypeIds);
        return Autocast.Float(Autocast.Linear(classifier, dropout.call(pooled)));
    }

    public IEnumerable<LoraLinear> LoraLayers() => modules().OfType<LoraLinear>();

    /// <summary>BERT's _init_weights: normal(0, initializer_range) for linear and embedding weights,
    /// zero biases and padding row, LayerNorm weight 1 / bias 0. LoRA A/B keep their own init.</summary>
    void InitWeights()
    {
        using var _ = no_grad();
        double std = Config.InitializerRange;
        foreach (var module in modules())
        {
            switch (module)
            {
                case LoraLinear:
                    break;
                case Linear linear when !IsLoraFactor(linear):
                    nn.init.normal_(linear.weight!, 0, std);
                    if (linear.bias is { } bias) nn.init.zeros_(bias);
                    break;
                case Embedding embedding:
                    nn.init.normal_(embedding.weight!, 0, std);
                    break;
                case LayerNorm norm:
                    nn.init.ones_(norm.weight!);
                    nn.init.zeros_(norm.bias!);
                    break;
            }
        }
        bert.embeddings.word_embeddings.weight![Config.PadTokenId].zero_();
    }

    bool IsLoraFactor(Linear linear) => LoraLayers().Any(l => ReferenceEquals(l.lora_A, linear) || ReferenceEquals(l.lora_B, linear));
}
