using System.Diagnostics;
using Blockbuster.Model;
using Blockbuster.Model.Hub;
using Blockbuster.Model.Lora;
using Blockbuster.Training;
using Blockbuster.Training.Data;
using Blockbuster.Training.Tokenization;
using static TorchSharp.torch;

namespace Blockbuster.Benchmarks;

/// <summary>
/// Training throughput of <see cref="Trainer"/> next to the bound: a bare TorchSharp loop (forward, loss,
/// backward, AdamW step every 2 micro-batches — no schedule, clipping, logging or progress) over the same
/// batches of the same model. bert-tiny shape, LoRA recipe (or --full-finetune), IMDB reviews.
///   train-throughput [reviews=4000] [--full-finetune] [--precision auto|fp32|bf16]
/// </summary>
static class TrainThroughput
{
    public static async Task<int> Run(string[] args)
    {
        int reviews = args.Skip(1).Where(a => int.TryParse(a, out _)).Select(int.Parse).FirstOrDefault(4000);
        bool full = args.Contains("--full-finetune");
        string precisionName = args.SkipWhile(a => a != "--precision").Skip(1).FirstOrDefault() ?? "auto";
        var output = Path.Combine(Path.GetTempPath(), $"blockbuster-bench-{Guid.NewGuid():N}");
        var options = new TrainingOptions
        {
            Data = SharedPaths.ImdbCsv, Model = SharedPaths.BertTiny, FromScratch = true, FullFinetune = full, Limit = reviews,
            Epochs = 1, Output = output, Precision = precisionName,
        };
        try
        {
            // A first bare pass pays the one-off costs (oneDNN kernels built per shape, heap growth) for both.
            double cold = Bare(options);
            // Ours: steady-state tokens/s between step 5 and the last step (no eval, no checkpoint writing).
            var steps = new List<StepCompleted>();
            var hub = new HubClient(HubOptions.FromEnvironment() with { Offline = true });
            var collections = Enumerable.Range(0, 3).Select(GC.CollectionCount).ToArray();
            var pause = GC.GetTotalPauseDuration();
            await Trainer.RunAsync(options, hub, new SyncProgress<TrainingEvent>(e => { if (e is StepCompleted s) steps.Add(s); }));
            var gcs = Enumerable.Range(0, 3).Select(g => GC.CollectionCount(g) - collections[g]).ToArray();
            pause = GC.GetTotalPauseDuration() - pause;
            var (first, last) = (steps[4], steps[^1]);
            double ours = (last.TokensSoFar - first.TokensSoFar) / (last.Elapsed - first.Elapsed).TotalSeconds;

            double bare = Bare(options);
            Console.WriteLine($"bert-tiny shape, {(full ? "full fine-tune" : "LoRA r=8 query,value")}, {precisionName} precision, {reviews:N0} reviews (80% trained), batch 16 x 2, max length 512, {get_num_threads()} threads");
            Console.WriteLine($"  bare loop, first pass (warm-up):             {cold,10:N0} tokens/s");
            Console.WriteLine($"  bare TorchSharp forward+backward+step loop: {bare,10:N0} tokens/s");
            Console.WriteLine($"  blockbuster Trainer:                         {ours,10:N0} tokens/s  ({ours / bare:P1} of the bare loop)");
            Console.WriteLine($"  .NET GCs during the trainer run: gen0 {gcs[0]}, gen1 {gcs[1]}, gen2 {gcs[2]}; pauses {pause.TotalMilliseconds:F0} ms");
            return 0;
        }
        finally
        {
            if (Directory.Exists(output)) Directory.Delete(output, recursive: true);
        }
    }

    static double Bare(TrainingOptions o)
    {
        using var setup = BareTrainingSetup.Create(o);
        var (batches, model, optimizer) = (setup.Batches, setup.Model, setup.Optimizer);
        var precision = PrecisionPolicy.Resolve(o.Precision, CPU);
        long tokens = 0;
        var clock = new Stopwatch();
        for (int m = 0; m < batches.Count; m++)
        {
            if (m == 8) { clock.Start(); tokens = 0; }   // skip warm-up, as for the trainer
            using var scope = NewDisposeScope();
            var batch = setup.Collate(batches[m], o.MaxLength);
            Tensor logits;
            using (Autocast.Enable(precision.ComputeDtype)) logits = model.call(batch.InputIds, batch.AttentionMask, batch.TokenTypeIds);
            (nn.functional.cross_entropy(logits, batch.Labels!) / 2).backward();
            if (m % 2 == 1) { optimizer.step(); optimizer.zero_grad(); }
            tokens += batch.Tokens;
        }
        return tokens / clock.Elapsed.TotalSeconds;
    }
}
