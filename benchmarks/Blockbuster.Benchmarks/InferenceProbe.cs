using System.Diagnostics;
using Blockbuster.Model;
using static TorchSharp.torch;

namespace Blockbuster.Benchmarks;

/// <summary>Where an eval batch's forward pass goes: each bert-tiny module alone at B=64, T=288, bf16 and fp32.</summary>
static class InferenceProbe
{
    static void Time(string name, Func<Tensor> f, long tokens, int reps = 20)
    {
        for (int i = 0; i < 3; i++) { using var s = NewDisposeScope(); f(); }
        var times = new double[reps];
        for (int i = 0; i < reps; i++)
        {
            using var s = NewDisposeScope();
            var sw = Stopwatch.StartNew();
            f();
            times[i] = sw.Elapsed.TotalMilliseconds;
        }
        Array.Sort(times);
        Console.WriteLine($"{name,-34} median {times[reps / 2],7:F2} ms  ({tokens / times[reps / 2] * 1000,10:N0} tok/s)");
    }

    public static int Run()
    {
        TorchRuntime.EnsureLoaded();
        long B = 64, T = 288;
        var config = BertConfig.Load(Path.Combine(SharedPaths.BertTiny, "config.json"));
        using var model = new BertForSequenceClassification(config);
        model.eval();
        using var _ = no_grad();
        var ids = randint(1000, 30000, [B, T]);
        var mask = ones(B, T, dtype: ScalarType.Int64);
        mask[0, TensorIndex.Slice(T - 20)] = 0;   // one padded member, as in most eval batches
        var types = zeros(B, T, dtype: ScalarType.Int64);
        var layer = model.bert.encoder.layer[0];
        foreach (var dtype in new ScalarType?[] { ScalarType.BFloat16, null })
        {
            Console.WriteLine($"--- {dtype?.ToString() ?? "Float32"}, B={B}, T={T}, {get_num_threads()} threads");
            using var cast = Autocast.Enable(dtype);
            var hidden = model.bert.embeddings.call(ids, types);
            var bias = zeros(B, 1, 1, T, dtype ?? ScalarType.Float32).masked_fill_(mask.eq(0).view(B, 1, 1, T), float.NegativeInfinity);
            var attended = layer.attention.call(hidden, bias);
            var inter = layer.intermediate.call(attended);
            Time("whole model", () => model.call(ids, mask, types), B * T);
            Time("embeddings", () => model.bert.embeddings.call(ids, types), B * T);
            Time("layer", () => layer.call(hidden, bias), B * T);
            Time("  attention.self", () => layer.attention.self.call(hidden, bias), B * T);
            var selfOut = layer.attention.self.call(hidden, bias);
            Time("  attention.output", () => layer.attention.output.call(selfOut, hidden), B * T);
            Time("  intermediate", () => layer.intermediate.call(attended), B * T);
            Time("  output", () => layer.output.call(inter, attended), B * T);
            Time("pooler", () => model.bert.pooler!.call(hidden), B * T);
            var preActivation = Autocast.Linear(layer.intermediate.dense, attended);
            Time("  intermediate dense alone", () => Autocast.Linear(layer.intermediate.dense, attended), B * T);
            Time("  gelu alone", () => nn.functional.gelu(preActivation), B * T);
        }
        using (Autocast.Enable(ScalarType.BFloat16))
        {
            Console.WriteLine("--- whole model, bf16, by shape");
            foreach (var (b, t) in new (long, long)[] { (64, 256), (64, 264), (64, 270), (64, 272), (64, 288), (32, 288), (128, 288), (16, 288) })
            {
                var i2 = randint(1000, 30000, [b, t]);
                var m2 = ones(b, t, dtype: ScalarType.Int64);
                m2[0, TensorIndex.Slice(t - 20)] = 0;
                var t2 = zeros(b, t, dtype: ScalarType.Int64);
                Time($"B={b} T={t}", () => model.call(i2, m2, t2), b * t, 10);
            }
        }
        return 0;
    }
}
