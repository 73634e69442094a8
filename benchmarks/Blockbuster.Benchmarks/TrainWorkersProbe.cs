using System.Diagnostics;
using Blockbuster.Model;
using Blockbuster.Training;
using static TorchSharp.torch;

namespace Blockbuster.Benchmarks;

/// <summary>Training micro-batches: intra-op threads vs halves on concurrent single-threaded workers.</summary>
static class TrainWorkersProbe
{
    public static int Run(string[] args)
    {
        TorchRuntime.EnsureLoaded();
        var o = new TrainingOptions { Data = SharedPaths.ImdbCsv, Model = SharedPaths.BertTiny, FromScratch = true, FullFinetune = args.Contains("--full-finetune"), Limit = 4000, Epochs = 1 };
        using var setup = BareTrainingSetup.Create(o);
        var (batches, model, optimizer) = (setup.Batches, setup.Model, setup.Optimizer);

        void Part(int[] members, double share)
        {
            using var scope = NewDisposeScope();
            var batch = setup.Collate(members, o.MaxLength);
            Tensor logits;
            using (Autocast.Enable(ScalarType.BFloat16)) logits = model.call(batch.InputIds, batch.AttentionMask, batch.TokenTypeIds);
            (nn.functional.cross_entropy(logits, batch.Labels!, reduction: nn.Reduction.Sum) * share).backward();
        }

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
                    tokens += setup.Tokens(batches[m]) + setup.Tokens(batches[m + 1]);
                }
                Console.WriteLine($"{mode,-10} {tokens / clock.Elapsed.TotalSeconds,10:N0} tokens/s");
            }
        }
        return 0;
    }
}
