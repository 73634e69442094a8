using static TorchSharp.torch;

namespace Blockbuster.Model.Quantization;

/// <summary>
/// bitsandbytes' NF4 (QLoRA, Dettmers et al. 2023), in TorchSharp ops: the weight is flattened row-major
/// into blocks of 64; each block keeps its fp32 absmax; each value becomes the index of the nearest of 16
/// code values to clamp(w · (1/absmax), -1, 1) (the lower one on an exact midpoint, as bitsandbytes' CUDA
/// kernel and current torch backend); two indices per byte, the first element in the high nibble.
/// Dequantising is <c>code[index] · absmax[block]</c> in fp32. An all-zero block keeps absmax 0 and code 7
/// (0.0), as the torch backend; bitsandbytes' CUDA kernel turns its 0·∞ into code 0, which also dequantises to 0.
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

    /// <summary>
    /// (code[high nibble], code[low nibble]) for every byte value: one gather turns packed bytes into weights,
    /// without unpacking nibbles into index tensors first.
    /// </summary>
    static readonly float[] PairTable = Enumerable.Range(0, 256).SelectMany(b => new[] { Code[b >> 4], Code[b & 15] }).ToArray();

    /// <summary>w (n) fp32 from packed indices and per-block absmax (already recovered from double quantisation).</summary>
    public static Tensor Dequantize(Tensor packed, Tensor absmax, long count, int blockSize = BlockSize)
    {
        using var scope = NewDisposeScope();
        var pairs = tensor(PairTable, device: packed.device).view(256, 2);
        var values = pairs.index_select(0, packed.reshape(-1).to(ScalarType.Int64)).view(-1);        // (2·⌈n/2⌉) fp32
        long blocks = absmax.numel();
        long padded = blocks * blockSize;
        // Per block: values × absmax, in fp32 (bitsandbytes' order), as a (blocks, 64) view instead of a repeated absmax.
        var full = values.numel() >= padded ? values[..(int)padded] : nn.functional.pad(values, [0, padded - values.numel()]);
        var weights = full.view(blocks, blockSize).mul_(absmax.to(ScalarType.Float32).unsqueeze(1)).view(-1);
        return (count == padded ? weights : weights[..(int)count]).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Index of the nearest code value, as bitsandbytes does it on CUDA (dQuantizeNF4's tree of strict
    /// <c>x &gt; midpoint</c> tests, its constants the fp32 midpoints of neighbouring codes) and in its current
    /// pure-torch backend (<c>bucketize</c> against the same midpoints): a value exactly on a midpoint takes the
    /// lower code. (bitsandbytes 0.47–0.49's CPU path took argmin |x − code| instead, which can differ by one
    /// code for values within an ulp of a midpoint.)
    /// </summary>
    public static Tensor NearestCode(Tensor scaled, float[] code)
    {
        var midpoints = new float[code.Length - 1];
        for (int i = 0; i < midpoints.Length; i++) midpoints[i] = (code[i] + code[i + 1]) / 2;
        using var boundaries = tensor(midpoints, device: scaled.device);
        // bucketize(right: false) counts the midpoints strictly below x: how many "x > midpoint" tests hold.
        return bucketize(scaled.contiguous(), boundaries, right: false).to(ScalarType.Byte);
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
