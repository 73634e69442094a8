using Blockbuster.Model.Lora;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Blockbuster.Model.Quantization;

/// <summary>
/// The int8 step over a loaded classifier for CPU inference, as PyTorch's
/// <c>quantize_dynamic(model, {nn.Linear}, dtype=torch.qint8)</c> and Optimum's dynamic ORTQuantizer do: every
/// linear layer of the encoder becomes a <see cref="LinearInt8Dynamic"/> (LoRA merged into its base first).
/// Attention's two matmuls, LayerNorm, GELU, the pooler and the classifier keep the compute dtype.
/// </summary>
public static class Int8DynamicQuantizer
{
    public static BertForSequenceClassification Quantize(BertForSequenceClassification model)
    {
        if (model.bert.encoder.parameters().Any(p => p.device.type != TorchSharp.DeviceType.CPU))
            throw new UsageException("quantize", "int8 runs on the CPU (FBGEMM kernels); use --device cpu or drop --quantize int8.");
        var modules = model.bert.encoder.named_modules().ToDictionary(m => m.name, m => m.module);
        modules[""] = model.bert.encoder;
        using var _ = no_grad();
        foreach (var (name, module) in modules.ToList())
        {
            if (name.Length == 0 || name.Contains(".base_layer") || name.Contains(".lora_")) continue;
            var linear = module switch
            {
                Linear plain => plain,
                LoraLinear { base_layer: Linear } lora => Merged(lora),
                LoraLinear or Linear4bit => throw new UsageException("quantize", "int8 cannot be combined with nf4: the encoder is already 4-bit."),
                _ => null,
            };
            if (linear is null) continue;
            int dot = name.LastIndexOf('.');
            LayerSwap.Replace(modules[dot < 0 ? "" : name[..dot]], name[(dot + 1)..], LinearInt8Dynamic.FromLinear(linear));
            module.Dispose();
        }
        NativeMemory.ReleaseFreePages();
        return model;
    }

    static Linear Merged(LoraLinear lora)
    {
        lora.Merge();
        return (Linear)lora.base_layer;
    }
}
