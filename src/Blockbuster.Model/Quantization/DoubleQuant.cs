using TorchSharp;
using static TorchSharp.torch;

namespace Blockbuster.Model.Quantization;

/// <summary>
/// QLoRA's double quantisation of the NF4 block absmax values: offset = mean(absmax); (absmax − offset) is
/// quantised blockwise (blocks of 256) to bitsandbytes' signed 8-bit dynamic map; recovered as
/// <c>code[index] · nested_absmax[block] + offset</c>. 4.125 → ~4.127 bits per weight.
/// </summary>
public static class DoubleQuant
{
    public const int BlockSize = 256;

    /// <summary>bitsandbytes' create_dynamic_map(signed=True, max_exponent_bits=7, total_bits=8): 256 ascending values.</summary>
    public static float[] DynamicMap { get; } = CreateDynamicMap();

    static float[] CreateDynamicMap()
    {
        const int maxExponentBits = 7, nonSignBits = 7;
        var data = new List<float>();
        for (int i = 0; i < maxExponentBits; i++)
        {
            int fractionItems = (1 << (i + nonSignBits - maxExponentBits)) + 1;
            // torch.linspace(0.1, 1, fractionItems) in fp32, then midpoints of neighbours, scaled by 10^(i-6).
            var boundaries = Linspace(0.1f, 1f, fractionItems);
            double scale = Math.Pow(10, -(maxExponentBits - 1) + i);
            for (int k = 0; k + 1 < boundaries.Length; k++)
            {
                float mean = (boundaries[k] + boundaries[k + 1]) / 2.0f;
                data.Add((float)(scale * mean));
                data.Add((float)(-scale * mean));
            }
        }
        data.Add(0f);
        data.Add(1.0f);
        data.Sort();
        if (data.Count != 256) throw new InvalidOperationException($"dynamic map has {data.Count} values");
        return [.. data];
    }

    /// <summary>torch.linspace in fp32: start + i·step for the first half, end − (n−1−i)·step for the rest.</summary>
    static float[] Linspace(float start, float end, int steps)
    {
        using var t = linspace(start, end, steps, dtype: ScalarType.Float32);
        return t.data<float>().ToArray();
    }

    /// <summary>(indices (n) uint8, nested absmax (⌈n/256⌉) fp32, offset) for the fp32 absmax values.</summary>
    public static (Tensor Codes, Tensor NestedAbsmax, float Offset) Quantize(Tensor absmax)
    {
        using var scope = NewDisposeScope();
        var values = absmax.to(ScalarType.Float32).reshape(-1);
        float offset = values.mean().item<float>();
        var centred = values - offset;
        long n = centred.numel();
        long blocks = (n + BlockSize - 1) / BlockSize;
        var padded = nn.functional.pad(centred, [0, blocks * BlockSize - n]).view(blocks, BlockSize);
        var nested = padded.abs().amax([1]);
        var scaled = (padded * nested.reciprocal().nan_to_num(0, 0, 0).unsqueeze(1)).clamp(-1, 1).reshape(-1)[..(int)n];
        var codes = Nf4.NearestCode(scaled, DynamicMap);
        return (codes.MoveToOuterDisposeScope(), nested.MoveToOuterDisposeScope(), offset);
    }

    public static Tensor Dequantize(Tensor codes, Tensor nestedAbsmax, float offset, float[]? quantMap = null)
    {
        using var scope = NewDisposeScope();
        long n = codes.numel();
        var map = tensor(quantMap ?? DynamicMap, device: codes.device);
        var values = map.index_select(0, codes.reshape(-1).to(ScalarType.Int64));
        var perElement = nestedAbsmax.repeat_interleave(BlockSize)[..(int)n];
        using var offsetScalar = offset.ToScalar();   // kept alive through the call (see Scalars)
        return (values * perElement).add_(offsetScalar, Scalars.One).MoveToOuterDisposeScope();
    }
}
