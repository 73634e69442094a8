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
            Time("pooler", () => model.bert.pooler.call(hidden), B * T);
            var preActivation = LinearLayers.Apply(layer.intermediate.dense, attended);
            Time("  intermediate dense alone", () => LinearLayers.Apply(layer.intermediate.dense, attended), B * T);
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

/// <summary>An eval pass over 10,000 IMDB reviews with a random bert-tiny: time by padded length.</summary>
static class EvalProfile
{
    public static int Run()
    {
        TorchRuntime.EnsureLoaded();
        var reviews = Blockbuster.Training.Data.ReviewCsv.Read(SharedPaths.ImdbCsv);
        var texts = reviews.Texts.Take(10_000).ToArray();
        var tokenizer = Blockbuster.Training.Tokenization.BertWordPieceTokenizer.Load(Path.Combine(SharedPaths.BertTiny, "vocab.txt"));
        var sw = Stopwatch.StartNew();
        var enc = tokenizer.EncodeAll(texts, 512);
        Console.WriteLine($"tokenize {sw.Elapsed.TotalSeconds:F2} s, {enc.Sum(e => (long)e.Ids.Length):N0} tokens");
        var config = BertConfig.Load(Path.Combine(SharedPaths.BertTiny, "config.json"));
        using var model = new BertForSequenceClassification(config);
        model.eval();
        var byLength = new SortedDictionary<long, (double Ms, long Tokens, int Batches)>();
        long padded = 0;
        sw.Restart();
        foreach (var batch in Blockbuster.Training.Data.LengthBucketSampler.Sorted(enc.Select(e => e.Ids.Length).ToArray(), 64))
        {
            using var scope = NewDisposeScope();
            using var ng = no_grad();
            using var cast = Autocast.Enable(ScalarType.BFloat16);
            var inputs = Blockbuster.Training.Data.Batch.Collate(batch.Select(i => enc[i].Ids).ToArray(), null, 0, CPU, 512);
            var t0 = sw.Elapsed.TotalMilliseconds;
            var logits = model.call(inputs.InputIds, inputs.AttentionMask, inputs.TokenTypeIds);
            nn.functional.softmax(logits, 1).data<float>().ToArray();
            long T = inputs.InputIds.shape[1];
            long bucket = (T - 1) / 128 * 128 + 128;
            var (ms, tok, n) = byLength.GetValueOrDefault(bucket);
            byLength[bucket] = (ms + sw.Elapsed.TotalMilliseconds - t0, tok + batch.Length * T, n + 1);
            padded += batch.Length * T;
        }
        Console.WriteLine($"forward total {sw.Elapsed.TotalSeconds:F2} s, {padded:N0} padded tokens, {padded / sw.Elapsed.TotalSeconds:N0} tok/s");
        foreach (var (bucket, (ms, tok, n)) in byLength)
            Console.WriteLine($"  T ≤ {bucket}: {n,4} batches {ms / 1000,6:F2} s  {tok / ms * 1000,9:N0} tok/s");
        return 0;
    }
}
