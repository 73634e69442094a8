using System.Diagnostics;
using System.Text.Json;
using Blockbuster.Model;
using Blockbuster.Model.Checkpoints;
using static TorchSharp.torch;

namespace Blockbuster.Benchmarks;

/// <summary>
/// all-MiniLM-L6-v2 through our loader and model against ONNX Runtime's reference outputs: the largest
/// absolute error per output kind over the 7 cases, and the time of one forward pass over all of them.
/// </summary>
static class MiniLmParity
{
    public static int Run()
    {
        var load = Stopwatch.StartNew();
        var config = BertConfig.Load(Path.Combine(SharedPaths.MiniLm, "config.json"));
        using var model = new BertForSequenceClassification(config, initialize: false);
        CheckpointLoader.Load(model, Path.Combine(SharedPaths.MiniLm, "model.safetensors"));
        model.eval();
        load.Stop();

        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(SharedPaths.MiniLm, "reference_outputs.json")));
        var cases = doc.RootElement.GetProperty("cases").EnumerateArray().ToList();
        float[] Floats(JsonElement c, string name) => c.GetProperty(name).EnumerateArray().Select(e => e.GetSingle()).ToArray();
        using var _ = no_grad();

        double cls = 0, mean = 0, pooler = 0;
        var times = new List<double>();
        for (int round = 0; round < 11; round++)   // round 0 warms up; the median of the other 10 is reported
        {
            var sw = Stopwatch.StartNew();
            foreach (var c in cases)
            {
                using var scope = NewDisposeScope();
                var ids = tensor(c.GetProperty("input_ids").EnumerateArray().Select(e => e.GetInt64()).ToArray()).unsqueeze(0);
                var (hidden, pooled) = model.bert.call(ids, ones_like(ids), zeros_like(ids));
                if (round == 0)
                {
                    cls = Math.Max(cls, (hidden[0, 0] - tensor(Floats(c, "cls_hidden"))).abs().max().item<float>());
                    mean = Math.Max(mean, (hidden[0].mean([0]) - tensor(Floats(c, "mean_hidden"))).abs().max().item<float>());
                    pooler = Math.Max(pooler, (pooled[0] - tensor(Floats(c, "pooler_output"))).abs().max().item<float>());
                }
                else hidden.sum().item<float>();
            }
            if (round > 0) times.Add(sw.Elapsed.TotalMilliseconds);
        }
        times.Sort();
        Console.WriteLine($"all-MiniLM-L6-v2 vs ONNX Runtime, {cases.Count} cases (fp32, {get_num_threads()} threads):");
        Console.WriteLine($"  max |error|  CLS hidden {cls:E2}   mean hidden {mean:E2}   pooler output {pooler:E2}");
        Console.WriteLine($"  one forward pass over the {cases.Count} cases, one at a time: median {times[times.Count / 2]:F1} ms (min {times[0]:F1}); checkpoint load {load.Elapsed.TotalMilliseconds:F0} ms");
        return 0;
    }
}
