using Blockbuster.Model;
using static TorchSharp.torch;

namespace Blockbuster.Tests;

/// <summary>
/// The additive attention bias: padding a sequence must not change its hidden states, in fp32 and bf16, on
/// the written-out attention (short batches) and the fused one inference uses for long batches.
/// </summary>
public class PaddingTests
{
    [Theory]
    [InlineData(ScalarType.Float32, 6, 1e-5)]
    [InlineData(ScalarType.BFloat16, 6, 1e-3)]
    [InlineData(ScalarType.Float32, BertSelfAttention.FusedFromLength / 2, 1e-4)]
    [InlineData(ScalarType.BFloat16, BertSelfAttention.FusedFromLength / 2, 8e-2)]   // fused vs written-out kernels round differently
    public void Padding_does_not_change_the_hidden_states(ScalarType dtype, int length, double tolerance)
    {
        using var generator = new Generator(3);   // its own generator: other tests may draw from the global one meanwhile
        using var model = new BertForSequenceClassification(TinyModels.Config() with { MaxPositionEmbeddings = 512 });
        model.eval();
        using var _ = no_grad();
        // BERT's init (std 0.02) barely lets padding move anything; larger weights make a leak visible.
        foreach (var p in model.parameters()) p.normal_(0, 1.0, generator);
        using var cast = Autocast.Enable(dtype);
        var ids = randint(5, 120, [1, length], generator: generator);
        var alone = model.bert.call(ids, ones(1, length, ScalarType.Int64), zeros(1, length, ScalarType.Int64)).LastHiddenState[0];   // (length, H)

        // The same sequence padded to twice its length next to a full-length one: the bias must hide the
        // [PAD] keys (half of them). At 2 × FusedFromLength / 2 the batch takes the fused inference path.
        int T = 2 * length;
        var padded = cat([cat([ids, zeros(1, length, ScalarType.Int64)], 1), randint(5, 120, [1, T], generator: generator)], 0);
        var mask = cat([cat([ones(1, length, ScalarType.Int64), zeros(1, length, ScalarType.Int64)], 1), ones(1, T, ScalarType.Int64)], 0);
        var batch = model.bert.call(padded, mask, zeros(2, T, ScalarType.Int64)).LastHiddenState[0, TensorIndex.Slice(0, length)];

        double difference = (batch - alone).abs().max().item<float>();
        Assert.True(difference < tolerance, $"padded hidden states differ by {difference}");
        // Without the bias the padding would be attended to and move the hidden states (by 0.015 to 0.9 here).
        var unmasked = model.bert.call(padded, ones(2, T, ScalarType.Int64), zeros(2, T, ScalarType.Int64)).LastHiddenState[0, TensorIndex.Slice(0, length)];
        double leak = (unmasked - alone).abs().max().item<float>();
        Assert.True(leak > 5 * tolerance, $"unmasked padding moved the hidden states by only {leak}");
    }
}
