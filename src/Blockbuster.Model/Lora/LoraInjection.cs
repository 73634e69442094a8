namespace Blockbuster.Model.Lora;

/// <summary>
/// PEFT's inject_adapter: after the model is built and its weights are loaded, every linear layer of the
/// encoder and pooler whose name the config targets (query, key, value, dense) becomes a
/// <see cref="LoraLinear"/> around it. The classifier is never wrapped (it is trained whole).
/// </summary>
public static class LoraInjection
{
    /// <returns><paramref name="model"/>, now with the adapter; a null config leaves it as it is</returns>
    public static BertForSequenceClassification Inject(BertForSequenceClassification model, LoraConfig? config)
    {
        if (config is null) return model;
        config.Validate();
        if (model.LoraConfig is not null) throw new InvalidOperationException("the model already has a LoRA adapter.");
        foreach (var (_, parent, field, layer) in LayerSwap.Layers(model.bert).ToList())
            if (config.Targets(field)) LayerSwap.Replace(parent, field, new LoraLinear(layer, config));
        model.LoraConfig = config;
        return model;
    }
}
