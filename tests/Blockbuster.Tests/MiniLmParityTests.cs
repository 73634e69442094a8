using System.Text.Json;
using Blockbuster.Model;
using Blockbuster.Model.Checkpoints;
using static TorchSharp.torch;

namespace Blockbuster.Tests;

/// <summary>
/// A real pretrained BERT (all-MiniLM-L6-v2) loaded with our loader and run on the reference ids must
/// match ONNX Runtime's outputs: CLS hidden state, mean hidden state, pooler output.
/// </summary>
[Collection("torch-global-state")]
public class MiniLmParityTests
{
    sealed record Case(string Text, long[] InputIds, float[] Cls, float[] Mean, float[] Pooler);

    static List<Case> ReadCases()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(Paths.MiniLm, "reference_outputs.json")));
        return doc.RootElement.GetProperty("cases").EnumerateArray().Select(c => new Case(
            c.GetProperty("text").GetString()!,
            c.GetProperty("input_ids").EnumerateArray().Select(e => e.GetInt64()).ToArray(),
            c.GetProperty("cls_hidden").EnumerateArray().Select(e => e.GetSingle()).ToArray(),
            c.GetProperty("mean_hidden").EnumerateArray().Select(e => e.GetSingle()).ToArray(),
            c.GetProperty("pooler_output").EnumerateArray().Select(e => e.GetSingle()).ToArray())).ToList();
    }

    internal static (double Cls, double Mean, double Pooler) MaxErrors()
    {
        var config = BertConfig.Load(Path.Combine(Paths.MiniLm, "config.json"));
        using var model = new BertForSequenceClassification(config);
        var report = CheckpointLoader.Load(model, Path.Combine(Paths.MiniLm, "model.safetensors"));
        Assert.Equal(["classifier.weight", "classifier.bias"], report.FreshKeys);
        model.eval();

        double cls = 0, mean = 0, pooler = 0;
        using var _ = no_grad();
        foreach (var c in ReadCases())
        {
            using var scope = NewDisposeScope();
            var ids = tensor(c.InputIds).unsqueeze(0);                 // (1, T)
            var mask = ones_like(ids);
            var types = zeros_like(ids);
            var (hidden, pooled) = model.bert.call(ids, mask, types);  // (1, T, H), (1, H)
            cls = Math.Max(cls, MaxAbs(hidden[0, 0], c.Cls));
            mean = Math.Max(mean, MaxAbs(hidden[0].mean([0]), c.Mean));
            pooler = Math.Max(pooler, MaxAbs(pooled[0], c.Pooler));
        }
        return (cls, mean, pooler);
    }

    static double MaxAbs(Tensor actual, float[] expected) =>
        (actual - tensor(expected)).abs().max().item<float>();

    [Fact]
    public void Matches_onnx_runtime_within_1e4()
    {
        var (cls, mean, pooler) = MaxErrors();
        Assert.True(cls < 1e-4, $"CLS max error {cls}");
        Assert.True(mean < 1e-4, $"mean max error {mean}");
        Assert.True(pooler < 1e-4, $"pooler max error {pooler}");
    }
}
