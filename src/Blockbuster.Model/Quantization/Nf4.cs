using static TorchSharp.torch;

namespace Blockbuster.Model.Quantization;

/// <summary>
/// bitsandbytes' NF4 (QLoRA, Dettmers et al. 2023), in TorchSharp ops: the weight is flattened row-major
/// into blocks of 64; each block keeps its fp32 absmax; each value becomes the index of the nearest of 16
/// code values to clamp(w · (1/absmax), -1, 1), by fp32 distance with the lower index on a tie, as the
/// default (CPU) backend's <c>argmin(|x − code|)</c>; two indices per byte, the first element in the high
/// nibble. Dequantising is <c>code[index] · absmax[block]</c> in fp32.
/// </summary>
public static class Nf4
{
    public const int BlockSize = 64;

    /// <summary>bitsandbytes' NF4 code values, index 0 … 15.</summary>
    public static readonly float[] Code =
    [
        -1.0f, -0.6961928009986877f, -0.5250730514526367f, -0.39491748809814453f, -0.28444138169288635f, -0.18477343022823334f,
        -0.09105003625154495f, 0.0f, 0.07958029955625534f, 0.16093020141124725f, 0.24611230194568634f, 0.33791524171829224f,
        0.44070982933044434f, 0.5626170039176941f, 0.7229568362236023f, 1.0f,
    ];

    /// <summary>(packed (⌈n/2⌉) uint8, absmax (⌈n/64⌉) fp32) for a weight of n elements.</summary>
    public static (Tensor Packed, Tensor Absmax) Quantize(Tensor weight, int blockSize = BlockSize)
    {
        using var scope = NewDisposeScope();
        var flat = weight.detach().to(ScalarType.Float32).reshape(-1);
        long n = flat.numel();
        long blocks = (n + blockSize - 1) / blockSize;
        var padded = nn.functional.pad(flat, [0, blocks * blockSize - n]).view(blocks, blockSize);   // zeros change no absmax
        var absmax = padded.abs().amax([1]);                                                      // (blocks)
        // A block of zeros has absmax 0: its values scale to 0 (code 7, value 0.0) instead of 0·∞ = NaN.
        var reciprocal = absmax.reciprocal().nan_to_num(0, 0, 0);
        var scaled = (padded * reciprocal.unsqueeze(1)).clamp(-1, 1).reshape(-1)[..(int)n];
        var indices = NearestCode(scaled, Code);                                                  // (n) uint8
        var packed = Pack(indices);
        return (packed.MoveToOuterDisposeScope(), absmax.MoveToOuterDisposeScope());
    }

    /// <summary>w (n) fp32 from packed indices and per-block absmax (already recovered from double quantisation).</summary>
    public static Tensor Dequantize(Tensor packed, Tensor absmax, long count, int blockSize = BlockSize)
    {
        using var scope = NewDisposeScope();
        var indices = Unpack(packed, count);
        var code = tensor(Code, device: packed.device);
        var values = code.index_select(0, indices.to(ScalarType.Int64));
        long blocks = absmax.numel();
        var perElement = absmax.to(ScalarType.Float32).repeat_interleave(blockSize)[..(int)count];
        return (values * perElement).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Index of the nearest code value, as bitsandbytes' default backend: argmin of |x − code| in fp32, the first
    /// (lower) index on a tie. (Its CUDA kernel compares against midpoint constants instead; the two differ only
    /// for values that land exactly on a float midpoint.) Chunked so the (n, codes) distances stay small.
    /// </summary>
    public static Tensor NearestCode(Tensor scaled, float[] code)
    {
        using var codes = tensor(code, device: scaled.device);
        var flat = scaled.reshape(-1).to(ScalarType.Float32);
        long chunk = Math.Max(1, (1L << 22) / code.Length);
        var parts = new List<Tensor>();
        for (long start = 0; start < flat.numel(); start += chunk)
        {
            using var scope = NewDisposeScope();
            var x = flat[(int)start..(int)Math.Min(flat.numel(), start + chunk)];
            parts.Add((x.unsqueeze(1) - codes).abs_().argmin(1).to(ScalarType.Byte).MoveToOuterDisposeScope());
        }
        var result = parts.Count == 1 ? parts[0] : cat(parts, 0);
        if (parts.Count > 1) foreach (var p in parts) p.Dispose();
        return result;
    }

    /// <summary>Two 4-bit indices a byte: element 2i in the high nibble, 2i+1 in the low one (0 for an odd count).</summary>
    public static Tensor Pack(Tensor indices)
    {
        var i = indices.to(ScalarType.Int32);
        if (i.numel() % 2 == 1) i = nn.functional.pad(i, [0, 1]);
        var pairs = i.view(-1, 2);
        return (pairs[.., 0].bitwise_left_shift(4).bitwise_or(pairs[.., 1])).to(ScalarType.Byte);
    }

    public static Tensor Unpack(Tensor packed, long count)
    {
        var bytes = packed.reshape(-1).to(ScalarType.Int32);
        var high = bytes.bitwise_right_shift(4);
        var low = bytes.bitwise_and(15);
        return stack([high, low], 1).reshape(-1)[..(int)count].to(ScalarType.Byte);
    }
}
