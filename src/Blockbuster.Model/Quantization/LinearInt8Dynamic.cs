using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Blockbuster.Model.Quantization;

/// <summary>
/// A dynamically quantised linear layer, as PyTorch's <c>torch.ao.nn.quantized.dynamic.Linear</c> (what
/// <c>quantize_dynamic</c> puts in place of <c>nn.Linear</c>), on FBGEMM: the weight int8 (symmetric, one scale, see
/// <see cref="FbgemmInt8.WeightLevels"/>), packed once; each call quantises its input to uint8 from the input's own
/// range, multiplies with int32 accumulation and returns fp32 plus the fp32 bias. Inference only, CPU only. Under bf16 autocast the input is widened for the
/// kernel and the result narrowed back, so the layers around it keep their dtype.
/// </summary>
public sealed class LinearInt8Dynamic : nn.Module<Tensor, Tensor>
{
    readonly FbgemmInt8.PackedWeight weight;
    readonly Tensor bias;   // (out) fp32; zeros when the layer had none (the kernel takes one)

    public long OutFeatures { get; }
    public long InFeatures { get; }

    LinearInt8Dynamic(FbgemmInt8.PackedWeight weight, Tensor bias, long outFeatures, long inFeatures) : base(nameof(LinearInt8Dynamic))
    {
        this.weight = weight;
        this.bias = bias;
        OutFeatures = outFeatures;
        InFeatures = inFeatures;
    }

    /// <summary>Quantises a loaded linear layer (the layer itself is left as it was).</summary>
    public static LinearInt8Dynamic FromLinear(Linear linear)
    {
        var w = linear.weight!;
        using var scope = NewDisposeScope();   // the temporaries go with it; the layer's tensors leave it
        var bias = (linear.bias?.detach().to(ScalarType.Float32).clone() ?? zeros(w.shape[0])).DetachFromDisposeScope();
        return new LinearInt8Dynamic(FbgemmInt8.Pack(w), bias, w.shape[0], w.shape[1]);
    }

    /// <param name="x">(…, in), fp32 or the autocast dtype</param>
    /// <returns>(…, out) in x's dtype</returns>
    public override Tensor forward(Tensor x)
    {
        var y = FbgemmInt8.Linear(Autocast.Float(x), weight, bias);
        return x.dtype == ScalarType.Float32 ? y : y.to(x.dtype);
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing) { weight.Dispose(); bias.Dispose(); }
        base.Dispose(disposing);
    }
}
