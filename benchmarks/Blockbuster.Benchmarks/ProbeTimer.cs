using Blockbuster.Model;
using System.Diagnostics;
using static TorchSharp.torch;

namespace Blockbuster.Benchmarks;

/// <summary>The probes' timer: a few warm-up calls, then the median of <c>reps</c>, each call in its own dispose scope.</summary>
static class ProbeTimer
{
    /// <returns>the median milliseconds, also printed with the tokens per second it means</returns>
    public static double Time(string name, Func<Tensor> f, long tokens, int reps = 20, int warmups = 3)
    {
        for (int i = 0; i < warmups; i++) { using var s = NewDisposeScope(); f(); }
        var times = new double[reps];
        for (int i = 0; i < reps; i++)
        {
            using var s = NewDisposeScope();
            var sw = Stopwatch.StartNew();
            f();
            times[i] = sw.Elapsed.TotalMilliseconds;
        }
        Array.Sort(times);
        Console.WriteLine($"{name,-40} median {times[reps / 2],7:F3} ms  ({tokens / times[reps / 2] * 1000,10:N0} tok/s)");
        return times[reps / 2];
    }

    /// <summary>A random eval batch (B, T) with one padded member, as most eval batches have.</summary>
    public static (Tensor Ids, Tensor Mask, Tensor Types) Batch(long B, long T)
    {
        var ids = randint(1000, 30000, [B, T]);
        var mask = ones(B, T, dtype: ScalarType.Int64);
        mask[0, TensorIndex.Slice(T - 20)] = 0;
        return (ids, mask, zeros(B, T, dtype: ScalarType.Int64));
    }

    /// <summary>The additive attention bias (B, 1, 1, T) a layer takes for <paramref name="mask"/>.</summary>
    public static Tensor Bias(Tensor mask, ScalarType? dtype)
    {
        long B = mask.shape[0], T = mask.shape[1];
        return zeros(B, 1, 1, T, dtype ?? ScalarType.Float32).masked_fill_(mask.eq(0).view(B, 1, 1, T), float.NegativeInfinity);
    }

    /// <summary>bert-tiny's shape with random weights, in eval mode, for the inference probes.</summary>
    public static BertForSequenceClassification RandomBertTiny()
    {
        var model = new BertForSequenceClassification(BertConfig.Load(Path.Combine(SharedPaths.BertTiny, "config.json")));
        model.eval();
        return model;
    }
}
