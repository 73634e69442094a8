using Blockbuster.Model;
using static TorchSharp.torch;

namespace Blockbuster.Benchmarks;

/// <summary>Where an eval batch's forward pass goes: each bert-tiny module alone at B=64, T=288, bf16 and fp32.</summary>
static class InferenceProbe
{
    static void Time(string name, Func<Tensor> f, long tokens, int reps = 20) => ProbeTimer.Time(name, f, tokens, reps);

    public static int Run()
    {
        TorchRuntime.EnsureLoaded();
        long B = 64, T = 288;
        using var model = ProbeTimer.RandomBertTiny();
        using var _ = no_grad();
        var (ids, mask, types) = ProbeTimer.Batch(B, T);
        foreach (var dtype in new ScalarType?[] { ScalarType.BFloat16, null })
        {
            Console.WriteLine($"--- {dtype?.ToString() ?? "Float32"}, B={B}, T={T}, {get_num_threads()} threads");
            using var cast = Autocast.Enable(dtype);
            TimeModules(model, ids, mask, types, dtype, (name, f) => Time(name, f, B * T));
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
    /// <summary>Each module of a forward alone (the first layer's), on the inputs' shape, under <paramref name="dtype"/>.</summary>
    internal static void TimeModules(BertForSequenceClassification model, Tensor ids, Tensor mask, Tensor types, ScalarType? dtype,
                                     Action<string, Func<Tensor>> time)
    {
        var layer = model.bert.encoder.layer[0];
        var hidden = model.bert.embeddings.call(ids, types);
        var bias = ProbeTimer.Bias(mask, dtype);
        var attended = layer.attention.call(hidden, bias);
        var inter = layer.intermediate.call(attended);
        var selfOut = layer.attention.self.call(hidden, bias);
        time("whole model", () => model.call(ids, mask, types));
        time("embeddings", () => model.bert.embeddings.call(ids, types));
        time("layer", () => layer.call(hidden, bias));
        time("  attention.self", () => layer.attention.self.call(hidden, bias));
        time("  attention.output", () => layer.attention.output.call(selfOut, hidden));
        time("  intermediate", () => layer.intermediate.call(attended));
        time("  output", () => layer.output.call(inter, attended));
        time("pooler + classifier", () => Autocast.Linear(model.classifier, model.bert.pooler!.call(hidden)));
        var preActivation = Autocast.Linear(layer.intermediate.dense, attended);
        time("  intermediate dense alone", () => Autocast.Linear(layer.intermediate.dense, attended));
        time("  gelu alone", () => nn.functional.gelu(preActivation));
        time("  LayerNorm alone", () => layer.output.LayerNorm.call(Autocast.Float(hidden)));
    }
}
