using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Blockbuster.Model;

/// <summary>
/// Dropout masks from four xoshiro256++ streams (Blackman and Vigna) run side by side in SIMD lanes.
/// libtorch's CPU Bernoulli draws about 150 M values/s, which made dropout cost more than the matmuls of a
/// bert-tiny layer; this writes finished masks at memory speed. Each element keeps when its 16-bit draw is
/// at or above round(p·65536), so p is honoured to within 1/65536. Seeded like torch.manual_seed and saved
/// with checkpoints, so a resumed run draws the same masks.
/// </summary>
public sealed class DropoutRandom
{
    Vector256<ulong> s0, s1, s2, s3;

    public static DropoutRandom Shared { get; } = new(0);

    public DropoutRandom(ulong seed) => Seed(seed);

    /// <summary>SplitMix64 expands the seed into the 4 × 256-bit state, as the authors recommend.</summary>
    public void Seed(ulong seed)
    {
        ulong x = seed;
        ulong Next()
        {
            ulong z = x += 0x9E3779B97F4A7C15UL;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            return z ^ (z >> 31);
        }
        var words = new ulong[16];
        for (int i = 0; i < 16; i++) words[i] = Next();
        SetState(words);
    }

    public ulong[] GetState()
    {
        var words = new ulong[16];
        for (int lane = 0; lane < 4; lane++)
        {
            words[lane] = s0.GetElement(lane);
            words[4 + lane] = s1.GetElement(lane);
            words[8 + lane] = s2.GetElement(lane);
            words[12 + lane] = s3.GetElement(lane);
        }
        return words;
    }

    public void SetState(IReadOnlyList<ulong> words)
    {
        if (words.Count != 16) throw new ArgumentException("the dropout generator's state has 16 words.");
        s0 = Vector256.Create(words[0], words[1], words[2], words[3]);
        s1 = Vector256.Create(words[4], words[5], words[6], words[7]);
        s2 = Vector256.Create(words[8], words[9], words[10], words[11]);
        s3 = Vector256.Create(words[12], words[13], words[14], words[15]);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<ulong> RotateLeft(Vector256<ulong> x, int k) => Vector256.ShiftLeft(x, k) | Vector256.ShiftRightLogical(x, 64 - k);

    /// <summary>256 random bits: one xoshiro256++ step in each of the four lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    Vector256<ulong> Next()
    {
        var result = RotateLeft(s0 + s3, 23) + s0;
        var t = Vector256.ShiftLeft(s1, 17);
        s2 ^= s0;
        s3 ^= s1;
        s1 ^= s2;
        s0 ^= s3;
        s2 ^= t;
        s3 = RotateLeft(s3, 45);
        return result;
    }

    static ushort Threshold(double p) => (ushort)Math.Clamp(Math.Round(p * 65536), 0, 65535);

    /// <summary>Fills <paramref name="mask"/> with 0 (dropped, probability p) or 1/(1-p) (kept).</summary>
    // Fully optimised from the first call: at tier 0 the Vector256 code is not intrinsified and runs 5x slower.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void FillMask(Span<float> mask, double p)
    {
        var threshold = Vector256.Create(Threshold(p));
        var scale = Vector256.Create(BitConverter.SingleToUInt32Bits((float)(1.0 / (1.0 - p))));
        ref float start = ref mask[0];
        int i = 0;
        for (; i + 16 <= mask.Length; i += 16)
        {
            var keep = Vector256.GreaterThanOrEqual(Next().AsUInt16(), threshold).AsInt16();   // 16 lanes of 0 / -1
            var (low, high) = Vector256.Widen(keep);                                              // sign-extended: 0 / 0xFFFFFFFF
            (low.AsUInt32() & scale).AsSingle().StoreUnsafe(ref start, (nuint)i);
            (high.AsUInt32() & scale).AsSingle().StoreUnsafe(ref start, (nuint)(i + 8));
        }
        if (i < mask.Length)
        {
            var draws = Next().AsUInt16();
            float kept = (float)(1.0 / (1.0 - p));
            ushort t = Threshold(p);
            for (int lane = 0; i < mask.Length; i++, lane++) mask[i] = draws.GetElement(lane) >= t ? kept : 0f;
        }
    }

    /// <summary>Fills <paramref name="keep"/> with the 16-bit patterns of <paramref name="one"/> (kept) or 0 (dropped with probability p).</summary>
    // Fully optimised from the first call: at tier 0 the Vector256 code is not intrinsified and runs 5x slower.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void FillKeep16(Span<ushort> keep, double p, ushort one)
    {
        var threshold = Vector256.Create(Threshold(p));
        var oneBits = Vector256.Create(one);
        ref ushort start = ref keep[0];
        int i = 0;
        for (; i + 16 <= keep.Length; i += 16)
            (Vector256.GreaterThanOrEqual(Next().AsUInt16(), threshold) & oneBits).StoreUnsafe(ref start, (nuint)i);
        if (i < keep.Length)
        {
            var draws = Next().AsUInt16();
            ushort t = Threshold(p);
            for (int lane = 0; i < keep.Length; i++, lane++) keep[i] = draws.GetElement(lane) >= t ? one : (ushort)0;
        }
    }

    /// <summary>Fills <paramref name="keep"/> with 1 (kept) or 0 (dropped with probability p).</summary>
    // Fully optimised from the first call: at tier 0 the Vector256 code is not intrinsified and runs 5x slower.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void FillKeep(Span<byte> keep, double p)
    {
        var threshold = Vector256.Create(Threshold(p));
        var one = Vector256.Create((sbyte)1);
        ref byte start = ref keep[0];
        int i = 0;
        for (; i + 32 <= keep.Length; i += 32)
        {
            var a = Vector256.GreaterThanOrEqual(Next().AsUInt16(), threshold).AsInt16();
            var b = Vector256.GreaterThanOrEqual(Next().AsUInt16(), threshold).AsInt16();
            (Vector256.Narrow(a, b) & one).AsByte().StoreUnsafe(ref start, (nuint)i);
        }
        ushort t = Threshold(p);
        while (i < keep.Length)
        {
            var draws = Next().AsUInt16();
            for (int lane = 0; lane < 16 && i < keep.Length; i++, lane++) keep[i] = draws.GetElement(lane) >= t ? (byte)1 : (byte)0;
        }
    }
}
