using System.Diagnostics;
using static TorchSharp.torch;

namespace Blockbuster.Benchmarks;

/// <summary>Times the pieces of a bert-tiny layer at B=16, T=384 to find where the forward pass goes.</summary>
static class AttentionProbe
{
    static double Time(string name, Func<Tensor> f, int reps = 20)
    {
        for (int i = 0; i < 3; i++) { using var s = NewDisposeScope(); f(); }
        var sw = Stopwatch.StartNew();
        for (int i = 0; i < reps; i++) { using var s = NewDisposeScope(); f(); }
        double ms = sw.Elapsed.TotalMilliseconds / reps;
        Console.WriteLine($"{name,-45} {ms,8:F2} ms");
        return ms;
    }

    public static int Run()
    {
        Console.WriteLine($"threads {get_num_threads()}");
        long B = 16, T = 384, H = 128, nh = 2, hs = 64;
        using var _ = no_grad();
        foreach (var dtype in new[] { ScalarType.Float32, ScalarType.BFloat16 })
        {
            Console.WriteLine($"--- {dtype}");
            var q = randn(B, nh, T, hs).to(dtype); var k = randn(B, nh, T, hs).to(dtype); var v = randn(B, nh, T, hs).to(dtype);
            var mask = ones(B, 1, 1, T, dtype: ScalarType.Bool);
            var addMask = zeros(B, 1, 1, T, dtype: dtype);
            Time("sdpa no mask", () => nn.functional.scaled_dot_product_attention(q, k, v));
            Time("sdpa bool mask", () => nn.functional.scaled_dot_product_attention(q, k, v, mask));
            Time("sdpa additive mask", () => nn.functional.scaled_dot_product_attention(q, k, v, addMask));
            Time("sdpa bool mask dropout 0.1", () => nn.functional.scaled_dot_product_attention(q, k, v, mask, 0.1));
            Time("manual softmax(QK^T)V", () => softmax(q.matmul(k.transpose(-1, -2)) / 8 + addMask, -1).matmul(v));
            var x = randn(B, T, H).to(dtype); var w = randn(H * 4, H).to(dtype); var w2 = randn(H, H * 4).to(dtype); var wq = randn(H, H).to(dtype);
            Time("linear H->H", () => nn.functional.linear(x, wq));
            Time("linear H->4H", () => nn.functional.linear(x, w));
            var x4 = randn(B, T, 4 * H).to(dtype);
            Time("linear 4H->H", () => nn.functional.linear(x4, w2));
            Time("gelu (B,T,4H)", () => nn.functional.gelu(x4));
            Time("dropout (B,T,H) train", () => nn.functional.dropout(x, 0.1, true));
            var x32 = randn(B, T, H);
            Time("layer_norm fp32", () => nn.functional.layer_norm(x32, [H], null, null, 1e-12));
            Time("cast fp32->dtype (B,T,H)", () => x32.to(dtype));
        }
        return 0;
    }
}
