using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Blockbuster.Model.Lora;

/// <summary>
/// PEFT's LoRA layer: <c>base_layer(x) + lora_B(lora_A(lora_dropout(x))) * scaling</c>.
/// The base weight is frozen; A is kaiming-uniform and B zero, so a fresh adapter changes nothing.
/// <see cref="Merge"/> folds <c>B·A·scaling</c> into the base weight for inference and export;
/// <see cref="Unmerge"/> takes it out again.
/// </summary>
public sealed class LoraLinear : nn.Module<Tensor, Tensor>
{
    public readonly nn.Module<Tensor, Tensor> base_layer;   // a Linear, or a frozen Linear4bit (QLoRA)
    public readonly Linear lora_A;      // (r, in)
    public readonly Linear lora_B;      // (out, r)
    public readonly FastDropout lora_dropout;

    public double Scaling { get; }
    public bool Merged { get; private set; }
    readonly Scalar scaling;   // Scaling, held for the module's life (see Scalars)

    public LoraLinear(nn.Module<Tensor, Tensor> baseLayer, LoraConfig config) : base(nameof(LoraLinear))
    {
        var (outFeatures, inFeatures) = baseLayer switch
        {
            Linear l => (l.weight!.shape[0], l.weight.shape[1]),
            Quantization.Linear4bit q => (q.OutFeatures, q.InFeatures),
            _ => throw new ArgumentException($"LoRA cannot wrap a {baseLayer.GetType().Name}."),
        };
        base_layer = baseLayer;
        lora_A = nn.Linear(inFeatures, config.R, hasBias: false);
        lora_B = nn.Linear(config.R, outFeatures, hasBias: false);
        lora_dropout = new FastDropout(config.Dropout);
        Scaling = config.Scaling;
        scaling = Scaling.ToScalar();
        RegisterComponents();

        foreach (var p in base_layer.parameters()) p.requires_grad = false;
        ResetAdapter();
    }

    /// <summary>PEFT's init_lora_weights=True: A ~ kaiming_uniform(a=√5), B = 0.</summary>
    public void ResetAdapter()
    {
        using var _ = no_grad();
        nn.init.kaiming_uniform_(lora_A.weight!, a: Math.Sqrt(5));
        nn.init.zeros_(lora_B.weight!);
    }

    public override Tensor forward(Tensor x)
    {
        var result = Autocast.Linear(base_layer, x);
        if (Merged) return result;
        var update = Autocast.Linear(lora_B, Autocast.Linear(lora_A, lora_dropout.call(x)));
        return result.add(update.mul(scaling), Scalars.One);
    }

    /// <summary>ΔW = B·A·scaling, shape (out, in), fp32.</summary>
    public Tensor DeltaWeight() => lora_B.weight!.matmul(lora_A.weight!).mul(scaling);

    public void Merge()
    {
        if (Merged) return;
        using var _ = no_grad();
        using var delta = DeltaWeight();
        PlainBase.weight!.add_(delta, Scalars.One);
        Merged = true;
    }

    public void Unmerge()
    {
        if (!Merged) return;
        using var _ = no_grad();
        using var delta = DeltaWeight();
        PlainBase.weight!.sub_(delta);
        Merged = false;
    }

    /// <summary>A 4-bit base cannot take the delta in place (its merged weight is exported dequantised instead).</summary>
    Linear PlainBase => base_layer as Linear ?? throw new InvalidOperationException("merging into a 4-bit base layer is not supported; export the dequantised weight plus the delta.");
}
