using System.Diagnostics;
using Blockbuster.Model;
using Blockbuster.Model.Checkpoints;
using Blockbuster.Training;
using Blockbuster.Training.Data;
using Blockbuster.Training.Tokenization;
using static TorchSharp.torch;

namespace Blockbuster.Benchmarks;

/// <summary>
/// How much sentiment a base model's frozen features carry: a logistic regression on the [CLS] hidden state
/// and on the mean of the last hidden states, trained on N reviews of imdb.csv and scored on M others. The
/// original recipe (LoRA at lr 3e-5, a fresh pooler and classifier) is close to a linear probe on [CLS], so
/// this predicts what it can reach on a base, in minutes instead of a 10-minute run. A base that carries a trained
/// pooler (a pooled-output distillation, or a Google checkpoint) is probed on the pooler's output as well: the
/// recipe keeps that pooler frozen and trains only the classifier over it.
/// </summary>
static class FeatureProbe
{
    public static int Run(string[] args)
    {
        string folder = args.ElementAtOrDefault(1) is { } a && !a.StartsWith("--") ? a : SharedPaths.MiniLm;
        int Arg(string name, int fallback) => Array.IndexOf(args, name) is var i and >= 0 ? int.Parse(args[i + 1]) : fallback;
        int trainCount = Arg("--train", 4000), testCount = Arg("--test", 2000), length = Arg("--length", 256);

        var config = BertConfig.Load(Path.Combine(folder, "config.json")) with { Id2Label = null, Label2Id = null };
        using var model = new BertForSequenceClassification(config);
        var weights = ModelFolder.FindWeights(folder) ?? throw new FileNotFoundException($"{folder}: no weights");
        var report = CheckpointLoader.Load(model, weights);
        model.eval();
        var tokenizer = BertWordPieceTokenizer.Load(Path.Combine(folder, "vocab.txt"));

        var data = ReviewCsv.Read(SharedPaths.ImdbCsv);
        var order = Enumerable.Range(0, data.Count).ToArray();
        new Random(7).Shuffle(order);
        var picked = order[..(trainCount + testCount)];
        var encodings = tokenizer.EncodeAll(picked.Select(i => (string?)data.Texts[i]).ToList(), length);
        var labels = picked.Select(i => (long)data.Labels[i]).ToArray();

        var sw = Stopwatch.StartNew();
        var cls = new List<Tensor>();
        var mean = new List<Tensor>();
        var pooled = new List<Tensor>();
        using (no_grad())
        {
            const int batchSize = 32;
            for (int start = 0; start < picked.Length; start += batchSize)
            {
                using var scope = NewDisposeScope();
                var rows = encodings.Skip(start).Take(batchSize).Select(e => e.Ids).ToList();
                var batch = Batch.Collate(rows, null, tokenizer.PadId, CPU);
                Tensor hidden;
                using (Autocast.Enable(ScalarType.BFloat16))
                    hidden = model.bert.Encode(batch.InputIds, batch.AttentionMask, batch.TokenTypeIds).to(ScalarType.Float32);   // (B, T, H)
                var mask = batch.AttentionMask.unsqueeze(-1).to(ScalarType.Float32);
                cls.Add(hidden[.., 0].MoveToOuterDisposeScope());
                mean.Add(((hidden * mask).sum(1) / mask.sum(1)).MoveToOuterDisposeScope());
                if (!report.PoolerIsFresh) pooled.Add(model.bert.pooler!.call(hidden).MoveToOuterDisposeScope());
            }
        }
        Console.WriteLine($"{folder}: {picked.Length:N0} reviews at length {length} encoded in {sw.Elapsed.TotalSeconds:F0} s (hidden {config.HiddenSize})");
        var y = tensor(labels);
        foreach (var (name, parts) in new[] { ("[CLS] hidden", cls), ("mean hidden", mean), ("pooler output", pooled) }.Where(p => p.Item2.Count > 0))
        {
            using var scope = NewDisposeScope();
            var x = cat(parts, 0);
            Console.WriteLine($"  {name,-14} linear probe: held-out accuracy {Probe(x, y, trainCount):P2}");
        }
        return 0;
    }

    /// <summary>Standardised features, a logistic regression by full-batch Adam with a little L2; accuracy on the rows past <paramref name="trainCount"/>.</summary>
    static double Probe(Tensor x, Tensor y, int trainCount)
    {
        var train = x[..trainCount];
        var mu = train.mean([0], keepdim: true);
        var sd = train.std([0], keepdim: true) + 1e-6;
        x = (x - mu) / sd;
        var w = nn.Parameter(zeros(x.shape[1], 2));
        var b = nn.Parameter(zeros(2));
        var optimizer = optim.Adam([w, b], lr: 0.01, weight_decay: 1e-3);
        for (int i = 0; i < 400; i++)
        {
            using var scope = NewDisposeScope();
            optimizer.zero_grad();
            var loss = nn.functional.cross_entropy(x[..trainCount].matmul(w) + b, y[..trainCount]);
            loss.backward();
            optimizer.step();
        }
        using var _ = no_grad();
        var predicted = (x[trainCount..].matmul(w) + b).argmax(1);
        return predicted.eq(y[trainCount..]).to(ScalarType.Float32).mean().item<float>();
    }
}
