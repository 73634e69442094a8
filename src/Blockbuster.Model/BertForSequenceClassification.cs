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
    public LoraConfig? LoraConfig { get; internal set; }

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
        if (initialize) BertInit.Apply(this, config);
    }

    /// <returns>logits (B, num_labels), fp32</returns>
    public override Tensor forward(Tensor inputIds, Tensor attentionMask, Tensor tokenTypeIds)
    {
        var (_, pooled) = bert.call(inputIds, attentionMask, tokenTypeIds);
        return Autocast.Float(Autocast.Linear(classifier, dropout.call(pooled)));
    }

    public IEnumerable<LoraLinear> LoraLayers() => modules().OfType<LoraLinear>();

}
