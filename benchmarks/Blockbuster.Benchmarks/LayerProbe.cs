using System.Diagnostics;
using Blockbuster.Model;
using Blockbuster.Model.Lora;
using static TorchSharp.torch;

namespace Blockbuster.Benchmarks;

/// <summary>Forward+backward of bert-tiny at B=16, T=384 with dropout variants, bf16 autocast, LoRA.</summary>
static class LayerProbe
{
    public static int Run()
    {
        var baseConfig = BertConfig.Load(Path.Combine(SharedPaths.BertTiny, "config.json"));
        var ids = randint(1000, 30000, [16, 384]);
        var mask = ones(16, 384, dtype: ScalarType.Int64);
        var types = zeros(16, 384, dtype: ScalarType.Int64);
        var labels = randint(0, 2, [16]);
        foreach (var (name, hidden, attn, lora, dtype) in new (string, double, double, double, ScalarType?)[]
                 {
                     ("all dropout (recipe)", 0.1, 0.1, 0.1, ScalarType.BFloat16),
                     ("no attention-prob dropout", 0.1, 0.0, 0.1, ScalarType.BFloat16),
                     ("no dropout at all", 0.0, 0.0, 0.0, ScalarType.BFloat16),
                     ("no dropout, fp32", 0.0, 0.0, 0.0, null),
                 })
        {
            var config = baseConfig with { HiddenDropoutProb = hidden, AttentionProbsDropoutProb = attn };
            using var model = Blockbuster.Model.Lora.LoraInjection.Inject(new BertForSequenceClassification(config), new LoraConfig { Dropout = lora });
            Blockbuster.Training.Trainer.SelectTrainable(model, true);
            model.train();
            double fwd = 0, bwd = 0;
            for (int i = 0; i < 13; i++)
            {
                using var scope = NewDisposeScope();
                var sw = Stopwatch.StartNew();
                Tensor loss;
                using (Autocast.Enable(dtype)) loss = nn.functional.cross_entropy(model.call(ids, mask, types), labels);
                double f = sw.Elapsed.TotalMilliseconds; sw.Restart();
                loss.backward();
                double b = sw.Elapsed.TotalMilliseconds;
                if (i >= 3) { fwd += f; bwd += b; }
            }
            Console.WriteLine($"{name,-28} fwd {fwd / 10,7:F1} ms  bwd {bwd / 10,7:F1} ms  => {16 * 384 / ((fwd + bwd) / 10 / 1000):N0} tok/s");
        }
        return 0;
    }
}
