using System.Diagnostics;
using Blockbuster.Model;
using static TorchSharp.torch;

namespace Blockbuster.Benchmarks;

/// <summary>Inference attention core only: explicit bf16 softmax vs libtorch's fused SDPA, by batch and length.</summary>
static class InferenceAttentionProbe
{
    public static int Run()
    {
        TorchRuntime.EnsureLoaded();
        using var _ = no_grad();
        var dtype = ScalarType.BFloat16;
        foreach (var (B, T) in new (long, long)[] { (64, 128), (64, 256), (64, 320), (64, 384), (64, 448), (64, 512), (16, 512) })
        {
            long nh = 2, hs = 64;
            var q = randn(B, nh, T, hs, dtype: dtype); var k = randn(B, nh, T, hs, dtype: dtype); var v = randn(B, nh, T, hs, dtype: dtype);
            var bias = zeros(B, 1, 1, T, dtype: dtype);
            bias[0, 0, 0, TensorIndex.Slice(T - 10)] = float.NegativeInfinity;
            var mask = bias.eq(0);
            foreach (var (name, f) in new (string, Func<Tensor>)[]
            {
                ("explicit", () => q.mul(1.0 / 8).matmul(k.transpose(-1, -2)).add_(bias).softmax(-1).matmul(v)),
                ("sdpa", () => nn.functional.scaled_dot_product_attention(q, k, v, mask)),
            })
            {
                double Once() { using var s = NewDisposeScope(); var sw = Stopwatch.StartNew(); f(); return sw.Elapsed.TotalMilliseconds; }
                for (int i = 0; i < 3; i++) Once();
                var times = Enumerable.Range(0, 11).Select(_ => Once()).OrderBy(t => t).ToArray();
                Console.WriteLine($"B={B,3} T={T} {name,-9} median {times[5],7:F2} ms = {times[5] / B,6:F3} ms/sequence");
            }
        }
        return 0;
    }
}
