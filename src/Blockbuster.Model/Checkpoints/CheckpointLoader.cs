using Blockbuster.Model.Lora;
using static TorchSharp.torch;

namespace Blockbuster.Model.Checkpoints;

/// <summary>What a load did beyond copying every expected tensor.</summary>
/// <param name="FreshKeys">Model tensors left at their initialisation (a new classifier head, LoRA factors).</param>
/// <param name="IgnoredKeys">Checkpoint tensors deliberately skipped (pretraining heads, position_ids buffers).</param>
public sealed record LoadReport(IReadOnlyList<string> FreshKeys, IReadOnlyList<string> IgnoredKeys)
{
    public bool ClassifierIsFresh => FreshKeys.Any(k => k.StartsWith("classifier.", StringComparison.Ordinal));
    /// <summary>The checkpoint had no pooler (a masked-LM checkpoint): it starts fresh and must be trained.</summary>
    public bool PoolerIsFresh => FreshKeys.Any(k => k.StartsWith("bert.pooler.", StringComparison.Ordinal));
}

/// <summary>
/// Copies a Hugging Face BERT state dict into <see cref="BertForSequenceClassification"/>, strictly: every
/// model tensor must come from the checkpoint with its exact shape, except the classifier head (when
/// <c>allowFreshClassifier</c>) and LoRA factors, which a base checkpoint cannot have. Accepts keys with
/// or without the <c>bert.</c> prefix and the old <c>LayerNorm.gamma/beta</c> names; ignores <c>cls.*</c>
/// pretraining heads and <c>position_ids</c> buffers. Anything else missing, unexpected or mis-shaped is
/// an error that names the key and both shapes.
/// </summary>
public static class CheckpointLoader
{
    public static LoadReport Load(BertForSequenceClassification model, string checkpointPath, bool allowFreshClassifier = true)
    {
        var tensors = StateDictFile.Read(checkpointPath);
        try
        {
            return Load(model, tensors, checkpointPath, allowFreshClassifier);
        }
        finally
        {
            foreach (var t in tensors.Values) t.Dispose();
        }
    }

    public static LoadReport Load(BertForSequenceClassification model, IReadOnlyDictionary<string, Tensor> checkpoint,
                                  string source, bool allowFreshClassifier = true)
    {
        // A masked-LM checkpoint has no pooler (transformers builds BertForMaskedLM without one): as
        // transformers does, the pooler then starts fresh beside the classifier.
        bool hasPooler = checkpoint.Keys.Any(k => k.Contains("pooler.", StringComparison.Ordinal));
        return Load(model, checkpoint, source,
            ignore: key => key.StartsWith("cls.", StringComparison.Ordinal),
            mayStartFresh: key => (allowFreshClassifier && key.StartsWith("classifier.", StringComparison.Ordinal))
                                  || (!hasPooler && key.StartsWith("bert.pooler.", StringComparison.Ordinal)),
            what: "a BERT classifier");
    }

    /// <summary>Into a <see cref="BertForMaskedLM"/>: the pooler is ignored; a checkpoint without an MLM head gets a fresh one.</summary>
    public static LoadReport Load(BertForMaskedLM model, IReadOnlyDictionary<string, Tensor> checkpoint, string source) =>
        Load(model, checkpoint, source,
            ignore: key => key.Contains("pooler.", StringComparison.Ordinal) || key.StartsWith("classifier.", StringComparison.Ordinal)
                           || key == "cls.predictions.decoder.weight" || key == "cls.predictions.decoder.bias",   // tied to the word embeddings / bias
            mayStartFresh: key => key.StartsWith("cls.", StringComparison.Ordinal),
            what: "a BERT masked-LM");

    static LoadReport Load(nn.Module model, IReadOnlyDictionary<string, Tensor> checkpoint, string source,
                           Func<string, bool> ignore, Func<string, bool> mayStartFresh, string what)
    {
        var ignored = new List<string>();
        var normalized = new Dictionary<string, (string Original, Tensor Tensor)>();
        foreach (var (key, tensor) in checkpoint)
        {
            if (key.EndsWith("position_ids", StringComparison.Ordinal) || ignore(key)) { ignored.Add(key); continue; }
            var name = Normalize(key);
            if (!normalized.TryAdd(name, (key, tensor)))
                throw new ModelFormatException($"{source}: tensors '{normalized[name].Original}' and '{key}' both map to '{name}'.");
        }

        var targets = model.state_dict();
        var fresh = new List<string>();
        var copies = new List<(Tensor Target, Tensor Source)>();
        // 4-bit layers already came whole from a bitsandbytes checkpoint (Nf4Checkpoint); their tensors are not looked up here.
        var quantized = model.named_modules().Where(m => m.module is Quantization.Linear4bit).Select(m => m.name + ".").ToList();
        foreach (var (modelKey, target) in targets)
        {
            if (IsLoraFactor(modelKey) || quantized.Any(q => modelKey.StartsWith(q, StringComparison.Ordinal))) { if (IsLoraFactor(modelKey)) fresh.Add(modelKey); continue; }
            var key = CheckpointKey(modelKey);
            if (!normalized.Remove(key, out var found))
            {
                if (mayStartFresh(key)) { fresh.Add(modelKey); continue; }
                if (key.StartsWith("classifier.", StringComparison.Ordinal))
                    throw new ModelFormatException($"{source}: no '{key}'; this is a base or masked-LM model, not a sentiment classifier: fine-tune it with 'blockbuster train --model' first.");
                throw new ModelFormatException($"{source}: missing tensor '{key}' (model expects shape {Shape(target.shape)}).");
            }
            if (!found.Tensor.shape.SequenceEqual(target.shape))
                throw new ModelFormatException($"{source}: tensor '{found.Original}' has shape {Shape(found.Tensor.shape)} but the model expects {Shape(target.shape)}.");
            copies.Add((target, found.Tensor));
        }
        if (normalized.Count > 0)
        {
            var (name, (original, tensor)) = normalized.First();
            var more = normalized.Count > 1 ? $" (and {normalized.Count - 1} more)" : "";
            throw new ModelFormatException($"{source}: unexpected tensor '{original}' of shape {Shape(tensor.shape)}{more}; it is not part of {what}.");
        }

        // Only copy once everything checked out, so a failed load leaves the model untouched.
        using (no_grad())
        {
            foreach (var (target, src) in copies) target.copy_(src.to(target.dtype));
        }
        return new LoadReport(fresh, ignored);
    }

    /// <summary>Model key → checkpoint key: a LoRA-wrapped layer keeps its base weight under <c>base_layer</c>.</summary>
    public static string CheckpointKey(string modelKey) => modelKey.Replace(".base_layer.", ".", StringComparison.Ordinal);

    public static bool IsLoraFactor(string modelKey) =>
        modelKey.Contains(".lora_A.", StringComparison.Ordinal) || modelKey.Contains(".lora_B.", StringComparison.Ordinal);

    static string Normalize(string key)
    {
        key = key.Replace("LayerNorm.gamma", "LayerNorm.weight", StringComparison.Ordinal)
                 .Replace("LayerNorm.beta", "LayerNorm.bias", StringComparison.Ordinal);
        if (key.StartsWith("bert.", StringComparison.Ordinal) || key.StartsWith("classifier.", StringComparison.Ordinal) || key.StartsWith("cls.", StringComparison.Ordinal)) return key;
        return "bert." + key;
    }

    public static string Shape(long[] shape) => $"[{string.Join(", ", shape)}]";
}
