using Blockbuster.Model;
using static TorchSharp.torch;

namespace Blockbuster.Tests;

/// <summary>The additive attention bias: padding a sequence must not change its hidden states, in fp32 and bf16.</summary>
public class PaddingTests
{
    [Theory]
    [InlineData(ScalarType.Float32, 1e-5)]
    [InlineData(ScalarType.BFloat16, 2e-2)]
    public void Padding_does_not_change_the_hidden_states(ScalarType dtype, double tolerance)
    {
        manual_seed(3);
        using var model = new BertForSequenceClassification(TinyModels.Config());
        model.eval();
        using var _ = no_grad();
        // BERT's init (std 0.02) barely lets padding move anything; larger weights make a leak visible.
        foreach (var p in model.parameters()) p.normal_(0, 1.0);
        using var cast = Autocast.Enable(dtype);
        long[] ids = [2, 10, 11, 12, 13, 3];
        var alone = model.bert.call(tensor(ids).view(1, 6), ones(1, 6, ScalarType.Int64), zeros(1, 6, ScalarType.Int64)).LastHiddenState[0];   // (6, H)

        // The same sequence padded to 9 next to a full-length one: the bias must hide the 3 [PAD] keys.
        var padded = tensor(new long[] { 2, 10, 11, 12, 13, 3, 0, 0, 0, 2, 14, 15, 16, 17, 18, 19, 20, 3 }).view(2, 9);
        var mask = tensor(new long[] { 1, 1, 1, 1, 1, 1, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1 }).view(2, 9);
        var batch = model.bert.call(padded, mask, zeros(2, 9, ScalarType.Int64)).LastHiddenState[0, TensorIndex.Slice(0, 6)];

        double difference = (batch - alone).abs().max().item<float>();
        Assert.True(difference < tolerance, $"padded hidden states differ by {difference}");
        // Without the bias the padding would be attended to: hidden states move by ~0.5.
        var unmasked = model.bert.call(padded, ones(2, 9, ScalarType.Int64), zeros(2, 9, ScalarType.Int64)).LastHiddenState[0, TensorIndex.Slice(0, 6)];
        double leak = (unmasked - alone).abs().max().item<float>();
        Assert.True(leak > 10 * tolerance, $"unmasked padding moved the hidden states by only {leak}");
    }
}
