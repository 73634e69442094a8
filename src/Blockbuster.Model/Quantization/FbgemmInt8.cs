using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace Blockbuster.Model.Quantization;

/// <summary>
/// libtorch's FBGEMM int8 linear (the kernels under PyTorch's dynamic quantisation on x86: int8 weights packed
/// once for the CPU's VNNI instructions, the input quantised to uint8 at run time from its own min and max,
/// int32 accumulation, fp32 out). TorchSharp binds no quantized op, so the three ATen functions are reached
/// through TorchScript compiled from source: <c>torch.jit.compile</c> resolves <c>torch.*</c> to any ATen op.
/// PyTorch's newer entry point, <c>quantized::linear_dynamic</c>, lives outside the ATen namespace and cannot be
/// named that way.
/// </summary>
public static partial class FbgemmInt8
{
    const string Script = """
        def quantize_weight(w: Tensor) -> Tuple[Tensor, Tensor, Tensor, float, int]:
            q = torch.fbgemm_linear_quantize_weight(w)
            return q[0], torch.fbgemm_pack_quantized_matrix(q[0]), q[1], q[2], q[3]

        def linear(x: Tensor, w: Tensor, packed: Tensor, col_offsets: Tensor, scale: float, zero_point: int, bias: Tensor) -> Tensor:
            return torch.fbgemm_linear_int8_weight_fp32_activation(x, w, packed, col_offsets, scale, zero_point, bias)

        """;   // TorchScript's parser wants the source to end with a newline

    static readonly Lazy<jit.CompilationUnit> Unit = new(Compile);

    /// <summary>A weight (out, in) fp32, quantised per tensor to int8 and packed for FBGEMM.</summary>
    public sealed record PackedWeight(Tensor Int8, Tensor Packed, Tensor ColumnOffsets, double Scale, long ZeroPoint) : IDisposable
    {
        public void Dispose() { Int8.Dispose(); Packed.Dispose(); ColumnOffsets.Dispose(); }
    }

    public static PackedWeight Pack(Tensor weight)
    {
        var result = ((object, object, object, object, object))Unit.Value.invoke("quantize_weight", weight.to(ScalarType.Float32).contiguous());
        return new PackedWeight((Tensor)result.Item1, (Tensor)result.Item2, (Tensor)result.Item3, ((Scalar)result.Item4).ToDouble(),
                                ((Scalar)result.Item5).ToInt64());
    }

    /// <summary>y = x Wᵀ + b for fp32 x (…, in) → (…, out) fp32.</summary>
    public static Tensor Linear(Tensor x, PackedWeight w, Tensor bias) =>
        (Tensor)Unit.Value.invoke("linear", x, w.Int8, w.Packed, w.ColumnOffsets, w.Scale, w.ZeroPoint, bias);

    static jit.CompilationUnit Compile()
    {
        var unit = jit.compile(Script);
        // The three functions are deprecated in PyTorch (in favour of quantized::linear_dynamic, out of reach, see
        // above) and each prints one warning to stderr the first time it runs. One call on a tiny layer, with
        // stderr pointed at /dev/null, spends those once-per-process warnings where no user sees them.
        using (QuietStderr.Begin())
        using (var scope = NewDisposeScope())
        {
            var w = ones(2, 4);
            var packed = (((object, object, object, object, object))unit.invoke("quantize_weight", w));
            unit.invoke("linear", ones(1, 4), packed.Item1, packed.Item2, packed.Item3, ((Scalar)packed.Item4).ToDouble(),
                        ((Scalar)packed.Item5).ToInt64(), zeros(2));
        }
        return unit;
    }

    /// <summary>Native stderr (fd 2) sent to /dev/null for a moment, on Linux and macOS; elsewhere nothing changes.</summary>
    static partial class QuietStderr
    {
        [LibraryImport("libc", EntryPoint = "dup")] private static partial int Dup(int fd);
        [LibraryImport("libc", EntryPoint = "dup2")] private static partial int Dup2(int fd, int fd2);
        [LibraryImport("libc", EntryPoint = "close")] private static partial int Close(int fd);
        [LibraryImport("libc", EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8)] private static partial int Open(string path, int flags);

        public static IDisposable Begin()
        {
            if (!(OperatingSystem.IsLinux() || OperatingSystem.IsMacOS())) return new Restore(-1);
            Console.Error.Flush();
            int saved = Dup(2), devNull = Open("/dev/null", 1 /* O_WRONLY */);
            if (saved < 0 || devNull < 0 || Dup2(devNull, 2) < 0)
            {
                if (devNull >= 0) Close(devNull);
                if (saved >= 0) Close(saved);
                return new Restore(-1);
            }
            Close(devNull);
            return new Restore(saved);
        }

        sealed class Restore(int saved) : IDisposable
        {
            public void Dispose()
            {
                if (saved < 0) return;
                Dup2(saved, 2);
                Close(saved);
            }
        }
    }
}
