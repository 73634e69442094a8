using Blockbuster.Model.Hub;
using Blockbuster.Training;
using static TorchSharp.torch;

namespace Blockbuster.Benchmarks;

/// <summary>
/// qlora-throughput: the trainer's tokens/s with an NF4 base (QLoRA) next to the same run in bf16, paired
/// run by run in one invocation (A B A B …, so the VM's drifting speed hits both alike). all-MiniLM-L6-v2,
/// LoRA r=8 on query,key,value,dense, the first reviews of imdb.csv.
///   qlora-throughput [reviews=800] [rounds=3] [--max-length 256] [--double-quant false]
/// </summary>
static class QloraThroughput
{
    public static async Task<int> Run(string[] args)
    {
        var numbers = args.Skip(1).Where(a => int.TryParse(a, out _)).Select(int.Parse).ToList();
        int reviews = numbers.ElementAtOrDefault(0) is > 0 and var r ? r : 800;
        int rounds = numbers.ElementAtOrDefault(1) is > 0 and var n ? n : 3;
        int maxLength = int.TryParse(args.SkipWhile(a => a != "--max-length").Skip(1).FirstOrDefault(), out var m) ? m : 256;
        bool doubleQuant = args.SkipWhile(a => a != "--double-quant").Skip(1).FirstOrDefault() != "false";
        var hub = new HubClient(HubOptions.FromEnvironment() with { Offline = true });
        var ratios = new List<double>();
        Console.WriteLine($"all-MiniLM-L6-v2, LoRA r=8 on query,key,value,dense, {reviews:N0} reviews (80% trained), max length {maxLength}, batch 16 x 2, bf16 compute, {get_num_threads()} threads");
        for (int round = 0; round < rounds; round++)
        {
            double bf16 = await TokensPerSecond(hub, reviews, maxLength, null);
            double nf4 = await TokensPerSecond(hub, reviews, maxLength, doubleQuant);
            ratios.Add(nf4 / bf16);
            Console.WriteLine($"  round {round + 1}: bf16 {bf16,8:N0} tokens/s   NF4{(doubleQuant ? "+DQ" : "")} {nf4,8:N0} tokens/s   ratio {nf4 / bf16:F3}");
        }
        ratios.Sort();
        Console.WriteLine($"NF4 / bf16 tokens/s: median {ratios[ratios.Count / 2]:F3} (min {ratios[0]:F3}, max {ratios[^1]:F3})");
        return 0;
    }

    /// <summary>Steady-state tokens/s of one training run, from step 5 to the last (no evaluation or checkpoint in the window).</summary>
    static async Task<double> TokensPerSecond(HubClient hub, int reviews, int maxLength, bool? nf4DoubleQuant)
    {
        var output = Path.Combine(Path.GetTempPath(), $"blockbuster-bench-{Guid.NewGuid():N}");
        var options = new TrainingOptions
        {
            Data = SharedPaths.ImdbCsv, Model = SharedPaths.MiniLm, Limit = reviews, Epochs = 1, Output = output, MaxLength = maxLength,
            LearningRate = 1e-3, LoraTargets = ["query", "key", "value", "dense"], Precision = "bf16", SaveSteps = 1_000_000, SaveMinutes = 1e6,
            Quantize = nf4DoubleQuant is null ? null : "nf4", DoubleQuant = nf4DoubleQuant ?? true,
        };
        try
        {
            var steps = new List<StepCompleted>();
            await Trainer.RunAsync(options, hub, new SyncProgress<TrainingEvent>(e => { if (e is StepCompleted s) steps.Add(s); }));
            var (first, last) = (steps[4], steps[^1]);
            return (last.TokensSoFar - first.TokensSoFar) / (last.Elapsed - first.Elapsed).TotalSeconds;
        }
        finally
        {
            if (Directory.Exists(output)) Directory.Delete(output, recursive: true);
        }
    }
}
