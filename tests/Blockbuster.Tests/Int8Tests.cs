using Blockbuster.Model;
using Blockbuster.Model.Lora;
using Blockbuster.Model.Quantization;
using static TorchSharp.torch;

namespace Blockbuster.Tests;

/// <summary>Dynamic int8 inference (<c>--quantize int8</c>): the FBGEMM layers against the fp32 model they replace.</summary>
[Collection("torch-global-state")]
public class Int8Tests
{
    static (Tensor Ids, Tensor Mask) Batch()
    {
        var ids = randint(5, 120, [4, 24], dtype: ScalarType.Int64);
        var mask = ones_like(ids);
        mask[1, TensorIndex.Slice(10)] = 0;   // padded rows of two lengths
        mask[3, TensorIndex.Slice(17)] = 0;
        return (ids, mask);
    }

    [Fact]
    public void Int8_encoder_gives_the_fp32_logits_within_quantisation_error_with_lora_merged_first()
    {
        manual_seed(3);
        var config = TinyModels.Config() with { HiddenSize = 64, IntermediateSize = 256, NumAttentionHeads = 2 };
        using var model = LoraInjection.Inject(new BertForSequenceClassification(config), new LoraConfig { TargetModules = ["query", "value"] });
        using (no_grad())
            foreach (var lora in model.modules().OfType<LoraLinear>()) lora.lora_B.weight!.normal_(0, 0.2);   // an adapter that changes the output
        model.eval();
        var (ids, mask) = Batch();
        using var _ = no_grad();
        var reference = model.call(ids, mask, zeros_like(ids));   // (4, 2) fp32, LoRA unmerged

        Int8DynamicQuantizer.Quantize(model);
        Assert.Equal(2 * 6, model.modules().OfType<LinearInt8Dynamic>().Count());   // q, k, v, attention out, intermediate, output per layer
        Assert.Empty(model.modules().OfType<LoraLinear>());
        Assert.Empty(model.bert.encoder.modules().OfType<TorchSharp.Modules.Linear>());

        var int8 = model.call(ids, mask, zeros_like(ids));
        double scale = reference.abs().max().item<float>(), error = (int8 - reference).abs().max().item<float>();
        Assert.InRange(error, 1e-7, 0.05 * scale);   // quantised (not the same numbers), yet within a few percent
        Assert.Equal(reference.argmax(1).data<long>().ToArray(), int8.argmax(1).data<long>().ToArray());

        // Under bf16 autocast the layers take and give bf16; the logits stay close.
        using (Autocast.Enable(ScalarType.BFloat16))
        {
            var mixed = model.call(ids, mask, zeros_like(ids));
            Assert.Equal(ScalarType.Float32, mixed.dtype);
            Assert.InRange((mixed - reference).abs().max().item<float>(), 0, 0.1 * scale);
        }
    }

    [Theory]
    [InlineData(127)]   // CPUs with AVX-512 VNNI
    [InlineData(63)]    // the others, where FBGEMM's 16-bit pair sums would saturate with full-range weights
    public void Both_weight_ranges_give_x_wT_plus_b_within_their_quantisation_error(int levels)
    {
        manual_seed(5);
        var w = randn(48, 96) * 0.1;
        var b = randn(48) * 0.1;
        var x = randn(2, 7, 96);   // (…, in): leading dimensions are kept
        using var packed = FbgemmInt8.Pack(w, levels);
        Assert.Equal(levels, packed.Int8.abs().max().item<sbyte>());   // the full code range is used
        var y = FbgemmInt8.Linear(x, packed, b);
        var reference = nn.functional.linear(x, w, b);
        Assert.Equal(reference.shape, y.shape);
        double error = (y - reference).abs().max().item<float>(), scale = reference.abs().max().item<float>();
        Assert.InRange(error, 1e-7, (levels == 127 ? 0.02 : 0.04) * scale);
    }

    [Fact]
    public void Quantised_layers_outlive_a_dispose_scope_the_caller_had_open()
    {
        manual_seed(6);
        var config = TinyModels.Config() with { HiddenSize = 64, IntermediateSize = 256 };
        using var int8 = new BertForSequenceClassification(config);
        using var nf4 = new BertForSequenceClassification(config);
        int8.eval();
        nf4.eval();
        using (NewDisposeScope())   // a library user who loads inside a scope of their own
        {
            Int8DynamicQuantizer.Quantize(int8);
            Nf4Quantizer.Quantize(nf4, doubleQuant: true);
        }
        var (ids, mask) = Batch();
        using var _ = no_grad();
        Assert.Equal([4L, 2L], int8.call(ids, mask, zeros_like(ids)).shape);   // disposed buffers would throw here
        Assert.Equal([4L, 2L], nf4.call(ids, mask, zeros_like(ids)).shape);
    }

    [Fact]
    public void Int8_refuses_an_nf4_encoder_with_a_one_line_reason()
    {
        manual_seed(4);
        using var model = Nf4Quantizer.Quantize(new BertForSequenceClassification(TinyModels.Config() with { HiddenSize = 64, IntermediateSize = 256 }), doubleQuant: true);
        var e = Assert.Throws<UsageException>(() => Int8DynamicQuantizer.Quantize(model));
        Assert.Equal("quantize", e.Option);
        Assert.Contains("nf4", e.Problem);
    }
}
