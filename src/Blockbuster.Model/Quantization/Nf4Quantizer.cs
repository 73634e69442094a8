namespace Blockbuster.Model.Quantization;

/// <summary>
/// The 4-bit step over a built, loaded model (bitsandbytes' replace_with_bnb_linear): every linear layer of
/// the encoder and pooler becomes a <see cref="Linear4bit"/>, except the modules trained whole (a fresh
/// pooler); the classifier stays in full precision. Runs before LoRA is injected, which then wraps the
/// 4-bit layers.
/// </summary>
public static class Nf4Quantizer
{
    public static BertForSequenceClassification Quantize(BertForSequenceClassification model, bool doubleQuant, IReadOnlyCollection<string>? keepWhole = null)
    {
        if (model.LoraConfig is not null) throw new InvalidOperationException("quantise the base before injecting LoRA.");
        foreach (var (name, parent, field, linear) in LayerSwap.Linears(model.bert).ToList())
        {
            if (keepWhole is not null && name.Split('.').Any(keepWhole.Contains)) continue;
            var quantized = Linear4bit.FromLinear(linear, doubleQuant);
            LayerSwap.Replace(parent, field, quantized);
            linear.Dispose();
        }
        // The full-precision weights just freed would otherwise stay resident in the heap (NativeMemory), and the
        // 4-bit base would save no memory at all.
        NativeMemory.ReleaseFreePages();
        return model;
    }
}
