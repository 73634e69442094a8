using static TorchSharp.torch;

namespace Blockbuster.Training;

/// <summary>
/// Mixed precision as torch.autocast + GradScaler would do it, which TorchSharp lacks: fp32 master
/// weights always; matmuls in bf16 (CPUs with AVX-512 BF16 or AMX) or fp16 (CUDA, with dynamic loss
/// scaling); LayerNorm and the loss in fp32, attention softmax accumulated in fp32. <c>auto</c>: CUDA → fp16, CPU with bf16 → bf16, else fp32.
/// </summary>
public sealed record PrecisionPolicy(string Name, ScalarType? ComputeDtype, bool UsesLossScaling)
{
    public static readonly PrecisionPolicy Fp32 = new("fp32", null, false);
    public static readonly PrecisionPolicy Bf16 = new("bf16", ScalarType.BFloat16, false);
    public static readonly PrecisionPolicy Fp16 = new("fp16", ScalarType.Float16, true);

    public static PrecisionPolicy Resolve(string requested, Device device) => requested switch
    {
        "fp32" => Fp32,
        "bf16" => Bf16,
        "fp16" => Fp16,
        "auto" when device.type == TorchSharp.DeviceType.CUDA => Fp16,
        "auto" => CpuHasBf16() ? Bf16 : Fp32,
        _ => throw new Model.UsageException("precision", $"must be auto, fp32, bf16 or fp16, got '{requested}'."),
    };

    /// <summary>True when the CPU does bf16 arithmetic natively (avx512_bf16 or AMX); elsewhere bf16 is emulated and slower than fp32.</summary>
    public static bool CpuHasBf16()
    {
        try
        {
            if (!File.Exists("/proc/cpuinfo")) return false;
            foreach (var line in File.ReadLines("/proc/cpuinfo"))
                if (line.StartsWith("flags", StringComparison.Ordinal))
                    return line.Contains(" avx512_bf16", StringComparison.Ordinal) || line.Contains(" amx_bf16", StringComparison.Ordinal);
        }
        catch (IOException) { }
        return false;
    }
}
