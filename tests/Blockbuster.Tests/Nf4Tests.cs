using Blockbuster.Model.Quantization;
using static TorchSharp.torch;

namespace Blockbuster.Tests;

/// <summary>
/// NF4 against bitsandbytes' definitions, worked out here by a second route: scalar C# loops (nearest code
/// by brute force, ties to the lower index), hand-packed bytes, hand-computed absmax.
/// </summary>
[Collection("torch-global-state")]
public class Nf4Tests
{
    // The table as the issue quotes it from bitsandbytes' functional.py.
    static readonly double[] Table =
    [
        -1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453, -0.28444138169288635, -0.18477343022823334,
        -0.09105003625154495, 0.0, 0.07958029955625534, 0.16093020141124725, 0.24611230194568634, 0.33791524171829224,
        0.44070982933044434, 0.5626170039176941, 0.7229568362236023, 1.0,
    ];

    // bitsandbytes' NF4 thresholds (csrc/kernels.cu dQuantizeNF4, a tree of strict "x > t" tests): the code is how many
    // of them x exceeds. Taken as doubles and rounded to fp32 as the comparisons run in fp32 (a decimal parsed straight
    // to float can land one ulp away: -0.8480964004993439 sits almost exactly between two floats).
    static readonly float[] KernelThresholds = new[]
    {
        -0.8480964004993439, -0.6106329262256622, -0.4599952697753906, -0.33967943489551544, -0.23460740596055984,
        -0.13791173323988914, -0.045525018125772476, 0.03979014977812767, 0.1202552504837513, 0.2035212516784668,
        0.2920137718319893, 0.3893125355243683, 0.5016634166240692, 0.6427869200706482, 0.8614784181118011,
    }.Select(t => (float)t).ToArray();

    static int BruteForceNearest(float x) => KernelThresholds.Count(t => x > t);

    [Fact]
    public void The_code_table_is_bitsandbytes_nf4()
    {
        Assert.Equal(Table.Select(v => (float)v), Nf4.Code);
    }

    [Fact]
    public void Values_map_to_the_nearest_code_and_midpoints_to_the_lower_one()
    {
        var xs = new List<float>();
        for (int i = 0; i < 15; i++)
        {
            float mid = KernelThresholds[i];
            xs.Add(mid);
            xs.Add(MathF.BitIncrement(mid));
            xs.Add(MathF.BitDecrement(mid));
        }
        xs.AddRange([-1f, 1f, 0f, 0.3f, -0.3f]);
        using var indices = Nf4.NearestCode(tensor(xs.ToArray()), Nf4.Code);
        var got = indices.data<byte>().ToArray();
        for (int k = 0; k < xs.Count; k++) Assert.True(BruteForceNearest(xs[k]) == got[k], $"x = {xs[k]:R} ({BitConverter.SingleToInt32Bits(xs[k]):X8}): expected {BruteForceNearest(xs[k])}, got {got[k]}");
        // On each midpoint: the lower code; an ulp above: the upper; an ulp below: the lower.
        for (int i = 0; i < 15; i++) Assert.Equal((i, i + 1, i), (got[3 * i], got[3 * i + 1], got[3 * i + 2]));
    }

    [Fact]
    public void The_first_element_goes_in_the_high_nibble()
    {
        // absmax 1: 1.0 → 15, -1.0 → 0, 0.0 → 7, 0.5 → 12 (0.4407 is nearer than 0.5626), 0.2 → 9 (0.1609).
        using var w = tensor(new[] { 1.0f, -1.0f, 0.0f, 0.5f, 0.2f }).view(1, 5);
        var (packed, absmax) = Nf4.Quantize(w);
        Assert.Equal(new byte[] { 0xF0, 0x7C, 0x90 }, packed.data<byte>().ToArray());   // the odd last element: low nibble 0
        Assert.Equal(new[] { 1.0f }, absmax.data<float>().ToArray());
        using var back = Nf4.Dequantize(packed, absmax, 5);
        Assert.Equal(new[] { 1.0f, -1.0f, 0.0f, Nf4.Code[12], Nf4.Code[9] }, back.data<float>().ToArray());
    }

    [Fact]
    public void A_block_of_zeros_stays_zero()
    {
        var values = new float[128];
        values[64 + 3] = 0.25f;
        using var w = tensor(values).view(2, 64);
        var (packed, absmax) = Nf4.Quantize(w);
        Assert.Equal(new[] { 0f, 0.25f }, absmax.data<float>().ToArray());
        Assert.All(packed.data<byte>().ToArray()[..32], b => Assert.Equal(0x77, b));   // code 7 = 0.0, both nibbles
        using var back = Nf4.Dequantize(packed, absmax, 128).view(2, 64);
        Assert.True(back.eq(w).all().item<bool>());
    }

    [Theory]
    [InlineData(3, 50)]     // 150 elements: blocks of 64, 64 and 22
    [InlineData(7, 9)]      // 63: one partial block, odd count
    [InlineData(128, 512)]  // bert-tiny's intermediate dense
    public void Shapes_not_divisible_by_64_match_a_scalar_reference(int rows, int columns)
    {
        manual_seed(rows * 1000 + columns);
        using var w = randn(rows, columns) * 0.05f;
        var values = w.data<float>().ToArray();
        int n = values.Length, blocks = (n + 63) / 64;

        var expectedAbsmax = new float[blocks];
        var expectedIndices = new int[n];
        for (int b = 0; b < blocks; b++)
        {
            int start = b * 64, end = Math.Min(n, start + 64);
            for (int i = start; i < end; i++) expectedAbsmax[b] = Math.Max(expectedAbsmax[b], Math.Abs(values[i]));
            float reciprocal = 1f / expectedAbsmax[b];
            for (int i = start; i < end; i++) expectedIndices[i] = BruteForceNearest(Math.Clamp(values[i] * reciprocal, -1f, 1f));
        }
        var expectedPacked = new byte[(n + 1) / 2];
        for (int i = 0; i < n; i++) expectedPacked[i / 2] |= (byte)(i % 2 == 0 ? expectedIndices[i] << 4 : expectedIndices[i]);

        var (packed, absmax) = Nf4.Quantize(w);
        Assert.Equal(expectedAbsmax, absmax.data<float>().ToArray());
        Assert.Equal(expectedPacked, packed.data<byte>().ToArray());

        // Error bound: half the widest gap between neighbouring codes, times the block's absmax.
        double halfGap = Enumerable.Range(0, 15).Max(i => Nf4.Code[i + 1] - Nf4.Code[i]) / 2.0;
        var back = Nf4.Dequantize(packed, absmax, n).data<float>().ToArray();
        for (int i = 0; i < n; i++) Assert.True(Math.Abs(back[i] - values[i]) <= halfGap * expectedAbsmax[i / 64] + 1e-7);
    }

    [Fact]
    public void The_dynamic_map_is_bitsandbytes_signed_8_bit_map()
    {
        var map = DoubleQuant.DynamicMap;
        Assert.Equal(256, map.Length);
        Assert.Equal(map.OrderBy(v => v), map);
        Assert.Contains(0f, map);
        Assert.Equal(1f, map[^1]);
        // Exponent 0: linspace(0.1, 1, 2) → one mean, 0.55, scaled by 1e-6; exponent 6: 64 means of linspace(0.1, 1, 65), scaled by 1.
        Assert.Equal((float)(1e-6 * 0.55f), map.Where(v => v > 0).Min());
        Assert.Equal(-(float)(1e-6 * 0.55f), map.Where(v => v < 0).Max());
        Assert.Equal((1f + (1f - 0.9f / 64)) / 2, map.Where(v => v < 1).Max(), 6);
        Assert.Equal(127, map.Count(v => v < 0));
    }

    [Fact]
    public void Double_quantisation_recovers_the_absmax_within_its_own_error()
    {
        manual_seed(7);
        using var w = randn(384, 1536) * 0.04f;   // all-MiniLM's intermediate: 9,216 blocks, 36 nested blocks
        var (packed, absmax) = Nf4.Quantize(w);
        var (codes, nested, offset) = DoubleQuant.Quantize(absmax);
        Assert.Equal(absmax.data<float>().Average(), offset, 5);
        using var recovered = DoubleQuant.Dequantize(codes, nested, offset);
        // Each recovered value is the nearest map value (times its block's scale) plus the offset: off by at most
        // half the widest gap of the map times that scale.
        var map = DoubleQuant.DynamicMap;
        double halfGap = Enumerable.Range(0, 255).Max(i => map[i + 1] - map[i]) / 2.0;
        var a = absmax.data<float>().ToArray();
        var r = recovered.data<float>().ToArray();
        var scales = nested.data<float>().ToArray();
        for (int i = 0; i < a.Length; i++) Assert.True(Math.Abs(a[i] - r[i]) <= halfGap * scales[i / 256] + 1e-6, $"block {i}: {a[i]} vs {r[i]}");

        // The layer: dequantised weights within the NF4 bound taken over the recovered absmax, plus the absmax error.
        using var linear = nn.Linear(1536, 384);
        using (no_grad()) linear.weight!.copy_(w);
        using var layer = Linear4bit.FromLinear(linear, doubleQuant: true);
        var deq = layer.DequantizedWeight().data<float>().ToArray();
        var original = w.data<float>().ToArray();
        double nf4HalfGap = Enumerable.Range(0, 15).Max(i => Nf4.Code[i + 1] - Nf4.Code[i]) / 2.0;
        for (int i = 0; i < original.Length; i += 97)
            Assert.True(Math.Abs(deq[i] - original[i]) <= nf4HalfGap * a[i / 64] + Math.Abs(a[i / 64] - r[i / 64]) + 1e-6);
        // 4 bits per weight + 8 bits per 64 weights + 32 bits per 256 blocks: 4.127 bits, QLoRA's figure.
        double bits = (layer.Packed.numel() * 8.0 + layer.Absmax.numel() * 8 + layer.NestedAbsmax!.numel() * 32 + 32) / original.Length;
        Assert.InRange(bits, 4.12, 4.135);
    }
}
