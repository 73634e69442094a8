using Blockbuster.Model;
using static TorchSharp.torch;

namespace Blockbuster.Tests;

/// <summary>
/// The additive attention bias: padding a sequence must not change its hidden states, in fp32 and bf16, on
/// the written-out attention (small bf16 batches) and the fused one inference uses for fp32 and large batches.
/// </summary>
[Collection("torch-global-state")]
public class PaddingTests
{
    [Theory]
    [InlineData(ScalarType.Float32, 6, 1, 1e-5)]
    [InlineData(ScalarType.BFloat16, 6, 1, 1e-3)]
    // 17 rows of 2 heads × 512² scores pass FusedAboveScores: the fused inference path.
    [InlineData(ScalarType.Float32, 256, 16, 1e-4)]
    [InlineData(ScalarType.BFloat16, 256, 16, 8e-2)]   // fused vs written-out kernels round differently
    public void Padding_does_not_change_the_hidden_states(ScalarType dtype, int length, int fullRows, double tolerance)
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

        // The same sequence padded to twice its length next to full-length ones: the bias must hide the
        // [PAD] keys (half of them).
        int T = 2 * length, rows = 1 + fullRows;
        var padded = cat([cat([ids, zeros(1, length, ScalarType.Int64)], 1), randint(5, 120, [fullRows, T], generator: generator)], 0);
        var mask = cat([cat([ones(1, length, ScalarType.Int64), zeros(1, length, ScalarType.Int64)], 1), ones(fullRows, T, ScalarType.Int64)], 0);
        var batch = model.bert.call(padded, mask, zeros(rows, T, ScalarType.Int64)).LastHiddenState[0, TensorIndex.Slice(0, length)];

        double difference = (batch - alone).abs().max().item<float>();
        Assert.True(difference < tolerance, $"padded hidden states differ by {difference}");
        // Without the bias the padding would be attended to and move the hidden states (by 0.015 to 0.9 here).
        var unmasked = model.bert.call(padded, ones(rows, T, ScalarType.Int64), zeros(rows, T, ScalarType.Int64)).LastHiddenState[0, TensorIndex.Slice(0, length)];
        double leak = (unmasked - alone).abs().max().item<float>();
        Assert.True(leak > 5 * tolerance, $"unmasked padding moved the hidden states by only {leak}");
    }

    /// <summary>
    /// fp32 inference runs attention through libtorch's fused kernel, training through the written-out one:
    /// with dropout off the two must agree, padding included.
    /// </summary>
    [Fact]
    public void Fp32_inference_attention_matches_the_written_out_attention()
    {
        using var generator = new Generator(5);
        using var model = new BertForSequenceClassification(TinyModels.Config() with { HiddenDropoutProb = 0, AttentionProbsDropoutProb = 0 });
        using var _ = no_grad();
        foreach (var p in model.parameters()) p.normal_(0, 0.5, generator);
        var ids = randint(5, 120, [3, 40], generator: generator);
        var mask = ones(3, 40, ScalarType.Int64);
        mask[1, TensorIndex.Slice(25)] = 0;   // one padded row: the additive bias goes through both kernels
        var types = zeros(3, 40, ScalarType.Int64);
        model.eval();
        var fused = model.bert.call(ids, mask, types).LastHiddenState;
        model.train();
        var writtenOut = model.bert.call(ids, mask, types).LastHiddenState;
        double difference = (fused - writtenOut).abs().max().item<float>();
        Assert.True(difference < 1e-4, $"fused and written-out attention differ by {difference}");
    }
}
