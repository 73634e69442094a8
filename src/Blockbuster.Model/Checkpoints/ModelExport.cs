using Blockbuster.Model.Lora;
using Blockbuster.Model.Quantization;
using static TorchSharp.torch;

namespace Blockbuster.Model.Checkpoints;

/// <summary>
/// State dicts in the shapes Hugging Face tools expect: a plain <c>BertForSequenceClassification</c>
/// (LoRA merged in, <c>base_layer</c> gone) and a PEFT adapter (<c>base_model.model.…lora_A.weight</c>
/// plus the classifier, which PEFT saves as a module to save).
/// </summary>
public static class ModelExport
{
    public const string PeftPrefix = "base_model.model.";

    /// <summary>
    /// transformers keys → tensors (fp32 copies), LoRA deltas folded into the base weights; a 4-bit base layer
    /// is exported dequantised, so the file equals what was trained and loads without bitsandbytes.
    /// </summary>
    public static Dictionary<string, Tensor> MergedStateDict(BertForSequenceClassification model)
    {
        using var _ = no_grad();
        var quantized = model.named_modules().Where(m => m.module is Linear4bit).ToDictionary(m => m.name, m => (Linear4bit)m.module);
        var state = model.state_dict();
        var result = new Dictionary<string, Tensor>();
        foreach (var (key, tensor) in state)
        {
            if (CheckpointLoader.IsLoraFactor(key) || quantized.Keys.Any(q => key.StartsWith(q + ".", StringComparison.Ordinal))) continue;
            result[CheckpointLoader.CheckpointKey(key)] = DetachedCopy.Of(tensor);
        }
        foreach (var (name, layer) in quantized)
        {
            var key = CheckpointLoader.CheckpointKey(name + ".");
            result[key + "weight"] = layer.DequantizedWeight();
            if (layer.bias is { } bias) result[key + "bias"] = DetachedCopy.Of(bias);
        }
        foreach (var (name, module) in model.named_modules())
        {
            if (module is not LoraLinear lora || lora.Merged) continue;
            using var delta = lora.DeltaWeight();
            result[$"{name}.weight"].add_(delta);
        }
        return result;
    }

    /// <summary>PEFT's adapter_model.safetensors content: LoRA factors and the modules saved whole (the classifier, a fresh pooler).</summary>
    public static Dictionary<string, Tensor> AdapterStateDict(BertForSequenceClassification model)
    {
        var result = new Dictionary<string, Tensor>();
        foreach (var (key, tensor) in model.state_dict())
        {
            if (CheckpointLoader.IsLoraFactor(key) || SavedWhole(model, key))
                result[PeftPrefix + CheckpointLoader.CheckpointKey(key)] = DetachedCopy.Of(tensor);
        }
        return result;
    }

    static bool SavedWhole(BertForSequenceClassification model, string key) =>
        key.StartsWith("classifier.", StringComparison.Ordinal) || model.LoraConfig?.SavesWhole(key) == true;

    /// <summary>Copies an adapter state dict (PEFT keys) into a model built with the same LoRA config. Strict.</summary>
    public static void LoadAdapter(BertForSequenceClassification model, IReadOnlyDictionary<string, Tensor> adapter, string source)
    {
        var targets = model.state_dict()
            .Where(kv => CheckpointLoader.IsLoraFactor(kv.Key) || SavedWhole(model, kv.Key))
            .ToDictionary(kv => PeftPrefix + (CheckpointLoader.IsLoraFactor(kv.Key) ? kv.Key : CheckpointLoader.CheckpointKey(kv.Key)), kv => kv.Value);
        var remaining = new HashSet<string>(targets.Keys);
        using var _ = no_grad();
        foreach (var (rawKey, tensor) in adapter)
        {
            // PEFT writes the classifier of a SEQ_CLS adapter as …classifier.weight; some versions keep
            // "modules_to_save.default" in the name.
            var key = rawKey.Replace(".modules_to_save.default.", ".", StringComparison.Ordinal)
                            .Replace(".default.", ".", StringComparison.Ordinal);
            if (!targets.TryGetValue(key, out var target))
                throw new ModelFormatException($"{source}: unexpected adapter tensor '{rawKey}' of shape {CheckpointLoader.Shape(tensor.shape)}.");
            if (!tensor.shape.SequenceEqual(target.shape))
                throw new ModelFormatException($"{source}: adapter tensor '{rawKey}' has shape {CheckpointLoader.Shape(tensor.shape)} but the model expects {CheckpointLoader.Shape(target.shape)}.");
            target.copy_(tensor.to(target.dtype));
            remaining.Remove(key);
        }
        if (remaining.Count > 0)
            throw new ModelFormatException($"{source}: missing adapter tensor '{remaining.First()}'" + (remaining.Count > 1 ? $" (and {remaining.Count - 1} more)." : "."));
    }
}
