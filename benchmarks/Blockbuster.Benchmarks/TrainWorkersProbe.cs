using System.Diagnostics;
using Blockbuster.Model;
using Blockbuster.Model.Lora;
using Blockbuster.Training;
using Blockbuster.Training.Data;
using Blockbuster.Training.Tokenization;
using static TorchSharp.torch;

namespace Blockbuster.Benchmarks;

/// <summary>Training micro-batches: intra-op threads vs halves on concurrent single-threaded workers.</summary>
static class TrainWorkersProbe
{
    public static int Run(string[] args)
    {
        TorchRuntime.EnsureLoaded();
        bool full = args.Contains("--full-finetune");
        var o = new TrainingOptions { Data = SharedPaths.ImdbCsv, Model = SharedPaths.BertTiny, FromScratch = true, FullFinetune = full, Limit = 4000, Epochs = 1, Output = "/tmp/x" };
        var (train, _, _) = DataPreparation.ReadAndSplit(o);
        var tokenizer = BertWordPieceTokenizer.Load(Path.Combine(SharedPaths.BertTiny, "vocab.txt"));
        var encodings = tokenizer.EncodeAll(train.Texts.ToArray(), o.MaxLength);
        var batches = new LengthBucketSampler(encodings.Select(e => e.Ids.Length).ToArray(), o.BatchSize, o.Seed).Batches(0);
        manual_seed(o.Seed);
        var config = BertConfig.Load(Path.Combine(SharedPaths.BertTiny, "config.json")).WithLabels(["negative", "positive"]);
        using var model = new BertForSequenceClassification(config, full ? null : new LoraConfig());
        var trainable = Trainer.SelectTrainable(model, !full);
        using var optimizer = optim.AdamW(trainable, 3e-5);
        model.train();

        void Part(int[] members, double share)
        {
            using var scope = NewDisposeScope();
            var batch = Batch.Collate(members.Select(i => encodings[i].Ids).ToArray(), members.Select(i => train.Labels[i]).ToArray(), 0, CPU, o.MaxLength);
            Tensor logits;
            using (Autocast.Enable(ScalarType.BFloat16)) logits = model.call(batch.InputIds, batch.AttentionMask, batch.TokenTypeIds);
            (nn.functional.cross_entropy(logits, batch.Labels!, reduction: nn.Reduction.Sum) * share).backward();
        }
        long Tokens(int m) => batches[m].Sum(i => encodings[i].Ids.Length);

        for (int rep = 0; rep < 2; rep++)
        {
            foreach (var mode in new[] { "sequential", "halves", "pairs" })
            {
                long tokens = 0;
                var clock = new Stopwatch();
                for (int m = 0; m + 1 < batches.Count; m += 2)
                {
                    if (m == 8) { clock.Start(); tokens = 0; }
                    if (mode == "sequential")
                    {
                        Part(batches[m], 1.0 / 32); Part(batches[m + 1], 1.0 / 32);
                    }
                    else if (mode == "halves")
                    {
                        for (int k = 0; k < 2; k++)
                        {
                            var mb = batches[m + k];
                            var t = new Thread(() => { set_num_threads(1); Part(mb[8..], 1.0 / 32); });
                            t.Start();
                            set_num_threads(1);
                            Part(mb[..8], 1.0 / 32);
                            t.Join();
                        }
                    }
                    else
                    {
                        var mb = batches[m + 1];
                        var t = new Thread(() => { set_num_threads(1); Part(mb, 1.0 / 32); });
                        t.Start();
                        set_num_threads(1);
                        Part(batches[m], 1.0 / 32);
                        t.Join();
                    }
                    set_num_threads(2);
                    using (NewDisposeScope()) { optimizer.step(); optimizer.zero_grad(); }
                    tokens += Tokens(m) + Tokens(m + 1);
                }
                Console.WriteLine($"{mode,-10} {tokens / clock.Elapsed.TotalSeconds,10:N0} tokens/s");
            }
        }
        return 0;
    }
}
