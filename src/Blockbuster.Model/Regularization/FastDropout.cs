using TorchSharp;
using System.Runtime.InteropServices;
using static TorchSharp.torch;

namespace Blockbuster.Model;

/// <summary>
/// Inverted dropout (zero with probability p, scale the rest by 1/(1-p)), like nn.Dropout, with masks
/// from <see cref="DropoutRandom"/> instead of libtorch's slow CPU Bernoulli sampler. Off the CPU (CUDA)
/// libtorch's own dropout runs on the device: a mask drawn on the CPU would cost a host-to-device copy per layer.
/// </summary>
public sealed class FastDropout(double p) : nn.Module<Tensor, Tensor>(nameof(FastDropout))
{
    public double P { get; } = p;

    public override Tensor forward(Tensor x) => training && P > 0 ? Apply(x, P) : x;

    public static Tensor Apply(Tensor x, double p, DropoutRandom? random = null)
    {
        if (p <= 0) return x;
        if (p >= 1) return zeros_like(x);
        if (x.device.type != TorchSharp.DeviceType.CPU) return nn.functional.dropout(x, p, training: true);
        random ??= DropoutRandom.Shared;
        if (x.dtype == ScalarType.Float32)
        {
            // fp32: the generator writes the finished mask (0 or 1/(1-p)); one multiply applies it.
            var mask = empty(x.shape, ScalarType.Float32);
            random.FillMask(MemoryMarshal.Cast<byte, float>(mask.bytes), p);
            return x * mask.to(x.device);
        }
        // bf16/fp16 cannot hold 1/(1-p) exactly (bf16 rounds 1.111 to 1.109): exact 0/1 mask, then scale.
        using var rescale = (1.0 / (1.0 - p)).ToScalar();   // kept alive through the call (see Scalars)
        return (x * KeepMask(x.shape, p, x.dtype, x.device, random)).mul_(rescale);
    }

    /// <summary>
    /// A 0/1 keep mask (1 with probability 1-p) in <paramref name="dtype"/>, without the 1/(1-p) scale, for
    /// callers that apply the scale on a smaller tensor. The generator writes straight into the tensor's memory.
    /// </summary>
    public static Tensor KeepMask(long[] shape, double p, ScalarType dtype, Device device, DropoutRandom? random = null)
    {
        random ??= DropoutRandom.Shared;
        ushort? one = dtype switch { ScalarType.BFloat16 => 0x3F80, ScalarType.Float16 => 0x3C00, _ => null };
        if (one is { } bits)
        {
            var mask = empty(shape, dtype);
            random.FillKeep16(MemoryMarshal.Cast<byte, ushort>(mask.bytes), p, bits);
            return mask.to(device);
        }
        var keep = empty(shape, ScalarType.Byte);
        random.FillKeep(keep.bytes, p);
        return keep.to(dtype).to(device);
    }
}
