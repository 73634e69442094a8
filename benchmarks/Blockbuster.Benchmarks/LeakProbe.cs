using Blockbuster.Model;
using Blockbuster.Model.Lora;
using Blockbuster.Training;
using static TorchSharp.torch;

namespace Blockbuster.Benchmarks;

/// <summary>Resident memory growth per training micro-batch, with parts of the model switched off.</summary>
static class LeakProbe
{
    static long Rss() => long.Parse(File.ReadAllText("/proc/self/statm").Split(' ')[1]) * Environment.SystemPageSize;

    public static int Run()
    {
        bool mallopt = Environment.GetCommandLineArgs().Contains("--mallopt");
        bool gc = Environment.GetCommandLineArgs().Contains("--gc");
        if (mallopt) NativeMemory.KeepLargeAllocations();
        var config = BertConfig.Load(Path.Combine(SharedPaths.BertTiny, "config.json"));
        using var model = Blockbuster.Model.Lora.LoraInjection.Inject(new BertForSequenceClassification(config), new LoraConfig());
        Trainer.SelectTrainable(model, true);
        model.train();
        var rng = new Random(1);
        long start = 0;
        for (int i = 0; i < 200; i++)
        {
            if (i == 20) start = Rss();
            if (gc && i % 10 == 0) { GC.Collect(); GC.WaitForPendingFinalizers(); }
            int T = rng.Next(50, 512);
            if (Environment.GetCommandLineArgs().Contains("--round")) T = (T + 63) / 64 * 64;
            using var scope = NewDisposeScope();
            var ids = randint(1000, 30000, [16, T]);
            var mask = ones(16, T, dtype: ScalarType.Int64);
            Tensor logits;
            using (Autocast.Enable(ScalarType.BFloat16)) logits = model.call(ids, mask, zeros_like(ids));
            nn.functional.cross_entropy(logits, randint(0, 2, [16])).backward();
        }
        Console.WriteLine($"mallopt {mallopt}, periodic GC {gc}: RSS grew {(Rss() - start) / 1e6:F0} MB over 180 micro-batches (now {Rss() / 1e6:F0} MB)");
        return 0;
    }
}
