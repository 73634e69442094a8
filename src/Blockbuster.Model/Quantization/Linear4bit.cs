using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Blockbuster.Model.Quantization;

/// <summary>
/// bitsandbytes' Linear4bit: a frozen linear layer whose weight is held as NF4 codes plus its quant state
/// (block absmax, or with double quantisation the absmax's 8-bit codes, their block absmax and offset).
/// Forward dequantises the weight to the compute dtype for the one matmul and lets it go; no full-precision
/// copy is kept. The weight takes no gradient: backward reaches only the input (and LoRA beside it).
/// </summary>
public sealed class Linear4bit : nn.Module<Tensor, Tensor>
{
    public readonly Parameter? bias;

    /// <summary>The weight's shape (out, in).</summary>
    public long OutFeatures { get; }
    public long InFeatures { get; }
    public bool DoubleQuantized { get; }
    public int BlockSize => Nf4.BlockSize;

    // Buffers (state-dict entries of the training checkpoint): weight (⌈n/2⌉, 1) uint8; absmax (fp32, or uint8
    // codes with double quantisation); nested_absmax (fp32) and nested_offset (scalar fp32) with double quantisation.
    public Tensor Packed => get_buffer("weight")!;
    public Tensor Absmax => get_buffer("absmax")!;
    public Tensor? NestedAbsmax => DoubleQuantized ? get_buffer("nested_absmax") : null;
    public float NestedOffset => DoubleQuantized ? get_buffer("nested_offset")!.item<float>() : 0f;

    Linear4bit(long outFeatures, long inFeatures, Tensor packed, Tensor absmax, Tensor? nestedAbsmax, Tensor? nestedOffset, Tensor? bias,
               Tensor? nestedQuantMap = null)
        : base(nameof(Linear4bit))
    {
        OutFeatures = outFeatures;
        InFeatures = inFeatures;
        DoubleQuantized = nestedAbsmax is not null;
        register_buffer("weight", packed);
        register_buffer("absmax", absmax);
        if (nestedAbsmax is not null) register_buffer("nested_absmax", nestedAbsmax);
        if (nestedOffset is not null) register_buffer("nested_offset", nestedOffset);
        // The 8-bit map a checkpoint was written with (torch's vectorised linspace can move an entry by an ulp
        // between builds); null: this build's own.
        if (nestedQuantMap is not null) register_buffer("nested_quant_map", nestedQuantMap);
        this.bias = bias is null ? null : new Parameter(bias, requires_grad: false);
        RegisterComponents();
    }

    /// <summary>Quantises a loaded linear layer (its weight and bias are copied; the layer itself is left as it was).</summary>
    public static Linear4bit FromLinear(Linear linear, bool doubleQuant)
    {
        var weight = linear.weight!;
        // The layer's tensors must outlive a dispose scope the caller may have open (a library user loading inside
        // one); the temporaries go with this one.
        using var scope = NewDisposeScope();
        var (packed, absmax) = Nf4.Quantize(weight);
        Tensor? nested = null, offset = null;
        if (doubleQuant)
        {
            var (codes, nestedAbsmax, mean) = DoubleQuant.Quantize(absmax);
            (absmax, nested, offset) = (codes, nestedAbsmax, tensor(mean));
        }
        return new Linear4bit(weight.shape[0], weight.shape[1], packed.reshape(-1, 1).DetachFromDisposeScope(), absmax.DetachFromDisposeScope(),
                              nested?.DetachFromDisposeScope(), offset?.DetachFromDisposeScope(), linear.bias?.detach().clone().DetachFromDisposeScope());
    }

    /// <summary>A layer from stored parts (a base-nf4 folder), exactly as they were written.</summary>
    public static Linear4bit FromParts(long outFeatures, long inFeatures, Tensor packed, Tensor absmax, Tensor? nestedAbsmax, float? nestedOffset, Tensor? bias,
                                       Tensor? nestedQuantMap = null) =>
        new(outFeatures, inFeatures, packed.reshape(-1, 1), absmax, nestedAbsmax, nestedOffset is { } o ? tensor(o) : null, bias, nestedQuantMap);

    /// <summary>The 8-bit map of the double quantisation: the one stored with the weights, else this build's.</summary>
    public float[] NestedQuantMap => DoubleQuantized && get_buffer("nested_quant_map") is { } map ? map.data<float>().ToArray() : DoubleQuant.DynamicMap;

    /// <summary>The block absmax values, recovered from double quantisation when it was used.</summary>
    public Tensor BlockAbsmax() => DoubleQuantized ? DoubleQuant.Dequantize(Absmax, NestedAbsmax!, NestedOffset, NestedQuantMap) : Absmax.to(ScalarType.Float32);

    /// <summary>The dequantised weight (out, in), fp32.</summary>
    public Tensor DequantizedWeight()
    {
        using var scope = NewDisposeScope();
        var weight = Nf4.Dequantize(Packed, BlockAbsmax(), OutFeatures * InFeatures).view(OutFeatures, InFeatures);
        return weight.MoveToOuterDisposeScope();
    }

    public override Tensor forward(Tensor x)
    {
        // The dequantised weight is released as soon as the matmul has it (autograd keeps its own reference for
        // backward): no layer's full-precision weight outlives its own forward, not even to the end of the batch.
        using var weight = DequantizedWeight();
        if (Autocast.Dtype is not { } dtype) return nn.functional.linear(x, weight, bias);
        using var cast = weight.to(dtype);
        using var castBias = bias?.to(dtype);
        return nn.functional.linear(x.to(dtype), cast, castBias);
    }
}
