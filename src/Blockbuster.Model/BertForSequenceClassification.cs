using Blockbuster.Model.Lora;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Blockbuster.Model;

/// <summary>
/// transformers' BertForSequenceClassification: <c>bert</c>, <c>dropout</c>, <c>classifier</c> on the pooled output.
/// Built plain; <see cref="LoraInjection.Inject"/> then swaps the targeted linear layers for
/// <see cref="LoraLinear"/>s (their base weights under <c>….base_layer.weight</c>, as in PEFT).
/// </summary>
public sealed class BertForSequenceClassification : nn.Module<Tensor, Tensor, Tensor, Tensor>
{
    public readonly BertModel bert;
    public readonly FastDropout dropout;
    public readonly Linear classifier;

    public BertConfig Config { get; }
    /// <summary>The adapter injected into this model, if any.</summary>
    public LoraConfig? LoraConfig { get; internal set; }

    /// <param name="initialize">false skips BERT's random init, for models whose weights are loaded next</param>
    public BertForSequenceClassification(BertConfig config, bool initialize = true) : base(nameof(BertForSequenceClassification))
    {
        config.Validate();
        Config = config;
        bert = new BertModel(config);
        dropout = new FastDropout(config.ClassifierDropout ?? config.HiddenDropoutProb);
        classifier = nn.Linear(config.HiddenSize, config.NumLabels);
        RegisterComponents();
        if (initialize) BertInit.Apply(this, config);
    }

    /// <returns>logits (B, num_labels), fp32</returns>
    public override Tensor forward(Tensor inputIds, Tensor attentionMask, Tensor tokenTypeIds) =>
        Head(bert.Encode(inputIds, attentionMask, tokenTypeIds));

    /// <summary>Pooler, dropout and classifier over an encoder output (pretraining's teacher reuses the states it already has).</summary>
    /// <param name="lastHiddenState">(B, T, H)</param> <returns>logits (B, num_labels), fp32</returns>
    public Tensor Head(Tensor lastHiddenState)
    {
        var pooled = Autocast.Float(bert.pooler!.call(lastHiddenState));   // (B, H), fp32 as BertModel returns it
        return Autocast.Float(Autocast.Linear(classifier, dropout.call(pooled)));
    }

    public IEnumerable<LoraLinear> LoraLayers() => modules().OfType<LoraLinear>();

}
