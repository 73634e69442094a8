using System.Diagnostics;
using Blockbuster.Model;
using static TorchSharp.torch;

namespace Blockbuster.Benchmarks;

/// <summary>
/// Forward + backward of the attention core (B=16, nh=2, hs=64) in bf16 at several lengths, for the ways
/// of writing softmax(QKᵀ/√d + mask)·V with dropout that training can use.
/// </summary>
static class AttentionGradProbe
{
    public static int Run()
    {
        TorchRuntime.EnsureLoaded();   // the product's allocator settings
        long B = 16, nh = 2, hs = 64;
        const double p = 0.1;
        var dtype = ScalarType.BFloat16;
        foreach (long T in new long[] { 256, 512 })
        {
            Console.WriteLine($"--- T={T} bf16, fwd+bwd");
            var mask = ones(B, 1, 1, T, dtype: ScalarType.Bool);
            mask[0, 0, 0, TensorIndex.Slice(T - 10)] = false;
            var bias = zeros(B, 1, 1, T, dtype: dtype).masked_fill(mask.logical_not(), float.NegativeInfinity);

            Tensor Current(Tensor q, Tensor k, Tensor v)
            {
                var scores = q.mul(1.0 / 8).matmul(k.transpose(-1, -2));
                scores = scores.masked_fill(mask.logical_not(), float.NegativeInfinity);
                var probs = scores.softmax(-1, ScalarType.Float32).to(q.dtype);
                var keep = FastDropout.KeepMask(probs.shape, p, probs.dtype, probs.device);
                return (probs * keep).matmul(v).mul_(1.0 / (1.0 - p));
            }
            Tensor AddBias(Tensor q, Tensor k, Tensor v, bool fp32Softmax)
            {
                var scores = q.mul(1.0 / 8).matmul(k.transpose(-1, -2)).add_(bias);
                var probs = fp32Softmax ? scores.softmax(-1, ScalarType.Float32).to(q.dtype) : scores.softmax(-1);
                var keep = FastDropout.KeepMask(probs.shape, p, probs.dtype, probs.device);
                return (probs * keep).matmul(v).mul_(1.0 / (1.0 - p));
            }
            Tensor Sdpa(Tensor q, Tensor k, Tensor v) => nn.functional.scaled_dot_product_attention(q, k, v, mask);

            var variants = new (string, Func<Tensor, Tensor, Tensor, Tensor>)[]
            {
                ("current: masked_fill, fp32 softmax", Current),
                ("add_ bias, fp32 softmax", (q, k, v) => AddBias(q, k, v, true)),
                ("add_ bias, bf16 softmax", (q, k, v) => AddBias(q, k, v, false)),
                ("sdpa (no dropout)", Sdpa),
            };
            foreach (var (name, f) in variants)
            {
                double Once()
                {
                    using var scope = NewDisposeScope();
                    var q = randn(B, nh, T, hs, dtype: dtype).requires_grad_();
                    var k = randn(B, nh, T, hs, dtype: dtype).requires_grad_();
                    var v = randn(B, nh, T, hs, dtype: dtype).requires_grad_();
                    var g = randn(B, nh, T, hs, dtype: dtype);
                    var sw = Stopwatch.StartNew();
                    var o = f(q, k, v);
                    double fwd = sw.Elapsed.TotalMilliseconds;
                    o.backward([g]);
                    return sw.Elapsed.TotalMilliseconds;
                }
                for (int i = 0; i < 3; i++) Once();
                var times = Enumerable.Range(0, 15).Select(_ => Once()).OrderBy(t => t).ToArray();
                Console.WriteLine($"{name,-40} median {times[7],7:F2} ms  min {times[0],7:F2} ms");
            }
            // Inference (no grad): sdpa vs explicit bf16 softmax
            using (no_grad())
            {
                var q = randn(B, nh, T, hs, dtype: dtype); var k = randn(B, nh, T, hs, dtype: dtype); var v = randn(B, nh, T, hs, dtype: dtype);
                foreach (var (name, f) in new (string, Func<Tensor>)[]
                {
                    ("infer sdpa bool mask", () => nn.functional.scaled_dot_product_attention(q, k, v, mask)),
                    ("infer sdpa additive", () => nn.functional.scaled_dot_product_attention(q, k, v, bias)),
                    ("infer explicit add_ bias bf16 softmax", () => q.mul(1.0 / 8).matmul(k.transpose(-1, -2)).add_(bias).softmax(-1).matmul(v)),
                    ("infer explicit fp32 softmax", () => q.mul(1.0 / 8).matmul(k.transpose(-1, -2)).add_(bias).softmax(-1, ScalarType.Float32).to(dtype).matmul(v)),
                })
                {
                    double Once() { using var s = NewDisposeScope(); var sw = Stopwatch.StartNew(); f(); return sw.Elapsed.TotalMilliseconds; }
                    for (int i = 0; i < 3; i++) Once();
                    var times = Enumerable.Range(0, 15).Select(_ => Once()).OrderBy(t => t).ToArray();
                    Console.WriteLine($"{name,-40} median {times[7],7:F2} ms  min {times[0],7:F2} ms");
                }
            }
        }
        return 0;
    }
}
