using System.Diagnostics;
using System.Globalization;
using Blockbuster.Model;
using Blockbuster.Model.Quantization;
using Blockbuster.Model.Hub;
using Blockbuster.Model.Onnx;
using Blockbuster.Training;
using Blockbuster.Training.Data;
using Blockbuster.Training.Evaluation;
using Blockbuster.Training.Export;
using Blockbuster.Training.Tokenization;
using Microsoft.ML.OnnxRuntime;

namespace Blockbuster.Benchmarks;

/// <summary>
/// <c>onnx-race MODEL [--batch-sizes 16,32,64] [--limit N] [--rounds R]</c>: Blockbuster's eval path (fp32, bf16, and
/// <c>--quantize int8</c> around either) against ONNX Runtime on the same model exported by <c>blockbuster export</c> (fp32 and int8; one session with
/// 2 intra-op threads, and two sessions with 1 thread each as our two workers), all graph optimisations on.
/// Every contestant scores the model's held-out split (split.json) in the same length-sorted batches, the
/// texts tokenized once; rounds rotate the order so each contestant meets the VM's fast and slow minutes alike.
/// Prints reviews/s, tokens/s and accuracy per contestant and batch size, and the ratio of our best to ORT's best.
/// </summary>
static class OnnxRace
{
    sealed record Contestant(string Name, Func<IReadOnlyList<Encoding>, int, float[][]> Score, IDisposable? Owner = null);
    sealed record Row(string Contestant, int BatchSize, List<double> Seconds, double Accuracy);

    public static async Task<int> Run(string[] args)
    {
        if (args.Length < 2) { Console.Error.WriteLine("usage: onnx-race MODEL_FOLDER [--batch-sizes 16,32,64] [--limit N] [--rounds R]"); return 2; }
        string folder = Path.GetFullPath(args[1]);
        int[] batchSizes = Option(args, "--batch-sizes")?.Split(',').Select(int.Parse).ToArray() ?? [16, 32, 64];
        int? limit = Option(args, "--limit") is { } l ? int.Parse(l, CultureInfo.InvariantCulture) : null;
        int rounds = Option(args, "--rounds") is { } r ? int.Parse(r, CultureInfo.InvariantCulture) : 1;

        TorchRuntime.SetThreads(0);
        int threads = TorchSharp.torch.get_num_threads();
        var split = SplitRecord.Load(Path.Combine(folder, SplitRecord.FileName));
        var (_, test) = DataPreparation.FromSplit(split);
        var hub = new HubClient(HubOptions.FromEnvironment());
        var loaded = await ModelFolder.ForInferenceAsync(hub, folder);
        using var model = loaded.Model;
        int maxLength = ModelSettings.MaxLength(folder, null, model.Config);
        var tokenizer = BertWordPieceTokenizer.Load(loaded.VocabPath, loaded.TokenizerConfigPath);
        var texts = test.Texts.Take(limit ?? int.MaxValue).ToArray();
        var labels = test.Labels.Take(texts.Length).ToArray();
        var encodings = tokenizer.EncodeAll(texts, maxLength, ModelSettings.Truncation(folder, null));
        long tokens = encodings.Sum(e => (long)e.Ids.Length);
        int positive = SentimentLabel.PositiveIndex(model.Config.Labels);

        var dir = Directory.CreateTempSubdirectory("onnx-race-");
        try
        {
            string fp32Path = Path.Combine(dir.FullName, "fp32.onnx"), int8Path = Path.Combine(dir.FullName, "int8.onnx");
            OnnxModelFile.Write(OnnxExporter.BuildGraph(model, int8: false), fp32Path);
            OnnxModelFile.Write(OnnxExporter.BuildGraph(model, int8: true), int8Path);
            Console.WriteLine($"{Path.GetFileName(folder)}: {model.Config.NumHiddenLayers} layers × {model.Config.HiddenSize}, max length {maxLength}; " +
                              $"{texts.Length:N0} held-out reviews, {tokens:N0} tokens; {threads} threads; ONNX Runtime {OrtEnv.Instance().GetVersionString()}");
            Console.WriteLine($"ORT fused graph (fp32): {FusedOps(fp32Path, dir.FullName)}");
            Console.WriteLine($"ORT fused graph (int8): {FusedOps(int8Path, dir.FullName)}");

            // --quantize int8: the same weights through FBGEMM's int8 linear layers, around fp32 or bf16 attention.
            var int8Model = Int8DynamicQuantizer.Quantize((await ModelFolder.ForInferenceAsync(hub, folder)).Model);
            var contestants = new List<Contestant>
            {
                Ours("blockbuster fp32", model, tokenizer, PrecisionPolicy.Fp32, maxLength),
                Ours("blockbuster bf16", model, tokenizer, PrecisionPolicy.Resolve("bf16", TorchSharp.torch.CPU), maxLength),
                Ours("blockbuster int8 + fp32", int8Model, tokenizer, PrecisionPolicy.Fp32, maxLength) with { Owner = int8Model },
                Ours("blockbuster int8 + bf16", int8Model, tokenizer, PrecisionPolicy.Resolve("bf16", TorchSharp.torch.CPU), maxLength),
                Ort("ort fp32, 1 session × 2 threads", fp32Path, sessions: 1, threadsEach: threads),
                Ort("ort fp32, 2 sessions × 1 thread", fp32Path, sessions: 2, threadsEach: 1),
                Ort("ort int8, 1 session × 2 threads", int8Path, sessions: 1, threadsEach: threads),
                Ort("ort int8, 2 sessions × 1 thread", int8Path, sessions: 2, threadsEach: 1),
            };
            var rows = new List<Row>();
            for (int round = 0; round < rounds; round++)
                foreach (var batchSize in batchSizes)
                    for (int k = 0; k < contestants.Count; k++)
                    {
                        var c = contestants[(k + round) % contestants.Count];
                        var clock = Stopwatch.StartNew();
                        var probabilities = c.Score(encodings, batchSize);
                        clock.Stop();
                        double accuracy = probabilities.Select((p, i) => (p[positive] >= 0.5 ? 1 : 0) == labels[i] ? 1.0 : 0.0).Average();
                        var row = rows.Find(x => x.Contestant == c.Name && x.BatchSize == batchSize);
                        if (row is null) rows.Add(row = new Row(c.Name, batchSize, [], accuracy));
                        row.Seconds.Add(clock.Elapsed.TotalSeconds);
                        Console.Error.WriteLine($"  round {round + 1} batch {batchSize,3} {c.Name,-34} {texts.Length / clock.Elapsed.TotalSeconds,8:F1} reviews/s  {accuracy:P2}");
                    }
            Print(rows, texts.Length, tokens);
            foreach (var c in contestants) c.Owner?.Dispose();
        }
        finally
        {
            dir.Delete(recursive: true);
        }
        return 0;
    }

    static void Print(List<Row> rows, int reviews, long tokens)
    {
        double Median(List<double> xs) { var s = xs.Order().ToArray(); return s.Length % 2 == 1 ? s[s.Length / 2] : (s[s.Length / 2 - 1] + s[s.Length / 2]) / 2; }
        var ortBest = rows.Where(r => r.Contestant.StartsWith("ort", StringComparison.Ordinal)).MinBy(r => Median(r.Seconds))!;
        Console.WriteLine();
        Console.WriteLine($"| contestant | batch | reviews/s | tokens/s | accuracy | vs best ORT ({ortBest.Contestant}, batch {ortBest.BatchSize}) |");
        Console.WriteLine("|---|---:|---:|---:|---:|---:|");
        foreach (var r in rows)
        {
            double s = Median(r.Seconds);
            Console.WriteLine($"| {r.Contestant} | {r.BatchSize} | {reviews / s:F1} | {tokens / s:N0} | {r.Accuracy:P2} | {Median(ortBest.Seconds) / s:F2}× |");
        }
        foreach (var name in rows.Select(r => r.Contestant).Distinct())
        {
            var best = rows.Where(r => r.Contestant == name).MinBy(r => Median(r.Seconds))!;
            Console.WriteLine($"best batch for {name}: {best.BatchSize} ({reviews / Median(best.Seconds):F1} reviews/s, {Median(ortBest.Seconds) / Median(best.Seconds):F2}× best ORT)");
        }
    }

    static Contestant Ours(string name, BertForSequenceClassification model, BertWordPieceTokenizer tokenizer, PrecisionPolicy precision, int maxLength) =>
        new(name, (encodings, batchSize) => new Predictor(model, tokenizer, TorchSharp.torch.CPU, precision, maxLength, batchSize).Probabilities(encodings));

    /// <summary>ONNX Runtime with every graph optimisation; two sessions take batches side by side as our two workers do.</summary>
    static Contestant Ort(string name, string path, int sessions, int threadsEach)
    {
        var all = Enumerable.Range(0, sessions).Select(_ =>
        {
            var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL, IntraOpNumThreads = threadsEach, InterOpNumThreads = 1, ExecutionMode = ExecutionMode.ORT_SEQUENTIAL };
            return new InferenceSession(path, options);
        }).ToArray();
        float[][] Score(IReadOnlyList<Encoding> encodings, int batchSize)
        {
            var batches = LengthBucketSampler.Sorted(encodings.Select(e => e.Ids.Length).ToArray(), batchSize);
            var result = new float[encodings.Count][];
            int next = -1;
            void Work(InferenceSession session)
            {
                int b;
                while ((b = Interlocked.Increment(ref next)) < batches.Count) ScoreBatch(session, batches[b], encodings, result);
            }
            var helpers = all.Skip(1).Select(s => new Thread(() => Work(s))).ToArray();
            foreach (var t in helpers) t.Start();
            Work(all[0]);
            foreach (var t in helpers) t.Join();
            return result;
        }
        return new Contestant(name, Score, new Disposables(all));
    }

    static readonly string[] InputNames = ["input_ids", "attention_mask", "token_type_ids"];
    static readonly string[] OutputNames = ["logits"];

    static void ScoreBatch(InferenceSession session, int[] members, IReadOnlyList<Encoding> encodings, float[][] result)
    {
        int batch = members.Length, length = members.Max(m => encodings[m].Ids.Length);
        var ids = new long[batch * length];
        var mask = new long[batch * length];
        for (int r = 0; r < batch; r++)
        {
            var row = encodings[members[r]].Ids;
            for (int t = 0; t < row.Length; t++) { ids[r * length + t] = row[t]; mask[r * length + t] = 1; }
        }
        long[] shape = [batch, length];
        using var idsValue = OrtValue.CreateTensorValueFromMemory(ids, shape);
        using var maskValue = OrtValue.CreateTensorValueFromMemory(mask, shape);
        using var typesValue = OrtValue.CreateTensorValueFromMemory(new long[batch * length], shape);
        using var runOptions = new RunOptions();
        using var outputs = session.Run(runOptions, InputNames, [idsValue, maskValue, typesValue], OutputNames);
        var logits = outputs[0].GetTensorDataAsSpan<float>();
        int classes = logits.Length / batch;
        for (int r = 0; r < batch; r++)
        {
            var row = logits.Slice(r * classes, classes);
            float max = float.MinValue;
            foreach (var v in row) max = Math.Max(max, v);
            var p = new float[classes];
            float sum = 0;
            for (int j = 0; j < classes; j++) sum += p[j] = MathF.Exp(row[j] - max);
            for (int j = 0; j < classes; j++) p[j] /= sum;
            result[members[r]] = p;
        }
    }

    /// <summary>The op types of the graph as ONNX Runtime optimised it (what its fusions made of ours).</summary>
    static string FusedOps(string path, string dir)
    {
        var optimized = Path.Combine(dir, Path.GetFileNameWithoutExtension(path) + ".optimized.onnx");
        using (var options = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL, OptimizedModelFilePath = optimized })
        using (new InferenceSession(path, options)) { }
        var graph = Onnx.ModelProto.Parser.ParseFrom(File.ReadAllBytes(optimized)).Graph;
        return string.Join(", ", graph.Node.GroupBy(n => n.OpType).OrderByDescending(g => g.Count()).Select(g => $"{g.Key}×{g.Count()}"));
    }

    static string? Option(string[] args, string name) => Array.IndexOf(args, name) is var i and >= 0 && i + 1 < args.Length ? args[i + 1] : null;

    sealed class Disposables(IEnumerable<IDisposable> items) : IDisposable
    {
        public void Dispose() { foreach (var item in items) item.Dispose(); }
    }
}
