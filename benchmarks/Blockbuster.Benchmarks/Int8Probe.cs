using Blockbuster.Model;
using Blockbuster.Model.Quantization;
using TorchSharp;
using static TorchSharp.torch;

namespace Blockbuster.Benchmarks;

/// <summary>
/// Where an int8 eval batch's forward goes, on one thread as each of eval's two workers runs (B=8, T=288, bert-tiny,
/// random weights): each module of the quantised model alone, and the candidate fusions beside what they replace.
/// </summary>
static class Int8Probe
{
    static double Time(string name, Func<Tensor> f, long tokens, int reps = 40) => ProbeTimer.Time(name, f, tokens, reps, warmups: 5);

    public static int Run()
    {
        TorchRuntime.EnsureLoaded();
        set_num_threads(1);
        long B = 8, T = 288;
        using var model = ProbeTimer.RandomBertTiny();
        using var _ = no_grad();
        var (ids, mask, types) = ProbeTimer.Batch(B, T);
        using (Autocast.Enable(ScalarType.BFloat16)) Time("whole model bf16 (not quantised)", () => model.call(ids, mask, types), B * T);
        Int8DynamicQuantizer.Quantize(model);
        var self = model.bert.encoder.layer[0].attention.self;
        foreach (var dtype in new ScalarType?[] { ScalarType.BFloat16, null })
        {
            Console.WriteLine($"--- int8 + {dtype?.ToString() ?? "Float32"}, B={B}, T={T}, 1 thread");
            using var cast = Autocast.Enable(dtype);
            InferenceProbe.TimeModules(model, ids, mask, types, dtype, (name, f) => Time(name, f, B * T));
            var hidden = model.bert.embeddings.call(ids, types);
            var bias = ProbeTimer.Bias(mask, dtype);
            Time("query alone", () => self.query.call(hidden), B * T);
            var q = Autocast.Compute(self.query.call(hidden)).view(B, T, 2, 64).transpose(1, 2);
            Time("attention core (written out)", () =>
            {
                var scores = q.mul(0.125).matmul(q.transpose(-1, -2));
                scores.add_(bias);
                return scores.softmax(-1).matmul(q);
            }, B * T);
        }
        // Fused QKV: one int8 GEMM (384 outputs) against three (128 each), on the same fp32 input.
        Console.WriteLine("--- fusions, fp32 input");
        var x = randn(B, T, 128);
        var w = randn(384, 128).mul(0.02);
        var b = zeros(384);
        var packedQkv = FbgemmInt8.Pack(w);
        var packedEach = Enumerable.Range(0, 3).Select(i => FbgemmInt8.Pack(w.narrow(0, i * 128, 128))).ToArray();
        var biases = Enumerable.Range(0, 3).Select(_ => zeros(128)).ToArray();
        double three = Time("three int8 linears (128 each)", () => { for (int i = 0; i < 3; i++) FbgemmInt8.Linear(x, packedEach[i], biases[i]); return x; }, B * T);
        double one = Time("one int8 linear (384)", () => FbgemmInt8.Linear(x, packedQkv, b), B * T);
        Time("one int8 linear (384) + split to heads", () =>
        {
            var y = FbgemmInt8.Linear(x, packedQkv, b).to(ScalarType.BFloat16).view(B, T, 3, 2, 64).permute(2, 0, 3, 1, 4);
            return y[0] + y[1] + y[2];
        }, B * T);
        Console.WriteLine($"fused QKV would save {(three - one) * model.Config.NumHiddenLayers:F3} ms of a forward");
        // The attention core on one thread: what BertSelfAttention writes out against libtorch's fused kernel.
        foreach (var dt in new[] { ScalarType.BFloat16, ScalarType.Float32 })
            foreach (var (b2, t2, nh, hs) in new (long, long, long, long)[] { (8, 128, 2, 64), (8, 288, 2, 64), (8, 512, 2, 64), (16, 288, 2, 64), (16, 200, 12, 32) })
            {
                Console.WriteLine($"--- attention core {dt}, B={b2}, T={t2}, {nh} heads of {hs}, 1 thread");
                var qh = randn(b2, nh, t2, hs, dtype: dt); var kh = randn(b2, nh, t2, hs, dtype: dt); var vh = randn(b2, nh, t2, hs, dtype: dt);
                var bias2 = zeros(b2, 1, 1, t2, dtype: dt);
                bias2[0, 0, 0, TensorIndex.Slice(t2 - 10)] = float.NegativeInfinity;
                var scale = (1.0 / Math.Sqrt(hs)).ToScalar();
                Time("written out (scale q, matmul, add_, softmax, matmul)", () => { var sc = qh.mul(scale).matmul(kh.transpose(-1, -2)); sc.add_(bias2); return sc.softmax(-1).matmul(vh); }, b2 * t2);
                Time("written out, no scale op (folded)", () => { var sc = qh.matmul(kh.transpose(-1, -2)); sc.add_(bias2); return sc.softmax(-1).matmul(vh); }, b2 * t2);
                Time("sdpa, additive bias", () => nn.functional.scaled_dot_product_attention(qh, kh, vh, bias2), b2 * t2);
                Time("sdpa, no mask", () => nn.functional.scaled_dot_product_attention(qh, kh, vh), b2 * t2);
            }
        return 0;
    }
}
