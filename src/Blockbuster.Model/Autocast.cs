using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Blockbuster.Model;

/// <summary>
/// A thread-local autocast like <c>torch.autocast</c>, which TorchSharp lacks. Inside
/// <c>using (Autocast.Enable(ScalarType.BFloat16))</c>, linear layers cast their input and (fp32 master)
/// weights to the compute dtype. LayerNorm and the loss run in fp32 because residual sums promote back
/// to fp32; attention's softmax takes compute-dtype scores but accumulates in fp32 inside libtorch's
/// kernel (see <see cref="BertSelfAttention"/>). Gradients flow through the casts to the fp32 parameters.
/// </summary>
public static class Autocast
{
    [ThreadStatic] static ScalarType? current;

    /// <summary>The compute dtype for matmuls, or null for full precision.</summary>
    public static ScalarType? Dtype => current;

    public static IDisposable Enable(ScalarType? dtype)
    {
        var previous = current;
        current = dtype is ScalarType.Float32 ? null : dtype;
        return new Restore(previous);
    }

    /// <summary>y = x Wᵀ + b, in the autocast dtype when one is active.</summary>
    public static Tensor Linear(Linear layer, Tensor x)
    {
        if (current is not { } dtype) return layer.call(x);
        return nn.functional.linear(x.to(dtype), layer.weight!.to(dtype), layer.bias?.to(dtype));
    }

    /// <summary>
    /// A model's swappable linear layer under autocast: a plain <see cref="TorchSharp.Modules.Linear"/> is cast
    /// here; a LoRA or 4-bit layer casts its own parts.
    /// </summary>
    public static Tensor Linear(nn.Module<Tensor, Tensor> layer, Tensor x) => layer is Linear linear ? Linear(linear, x) : layer.call(x);

    /// <summary>An activation in the autocast dtype (for attention's matmuls), as it is when autocast is off.</summary>
    public static Tensor Compute(Tensor x) => current is { } dtype && x.dtype != dtype ? x.to(dtype) : x;

    /// <summary>fp32 view of an activation, for the ops autocast keeps in fp32.</summary>
    public static Tensor Float(Tensor x) => x.dtype == ScalarType.Float32 ? x : x.to(ScalarType.Float32);

    sealed class Restore(ScalarType? previous) : IDisposable
    {
        public void Dispose() => current = previous;
    }
}
