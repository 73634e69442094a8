using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace Blockbuster.Model.Quantization;

/// <summary>
/// libtorch's FBGEMM int8 linear (the x86 kernels under PyTorch's dynamic quantisation): the weight held as int8,
/// packed once for the CPU's int8 instructions; each call quantises its input to uint8 from the input's own min and
/// max (over the whole batch), multiplies with int32 accumulation and returns fp32. TorchSharp binds no quantized
/// op, so the two ATen functions are reached through TorchScript compiled from source: <c>torch.jit.compile</c>
/// resolves <c>torch.*</c> to any ATen op. PyTorch's newer entry point, <c>quantized::linear_dynamic</c>, lives outside
/// the ATen namespace and cannot be named that way.
/// </summary>
public static partial class FbgemmInt8
{
    const string Script = """
        def pack(q: Tensor) -> Tensor:
            return torch.fbgemm_pack_quantized_matrix(q)

        def linear(x: Tensor, q: Tensor, packed: Tensor, col_offsets: Tensor, scale: float, zero_point: int, bias: Tensor) -> Tensor:
            return torch.fbgemm_linear_int8_weight_fp32_activation(x, q, packed, col_offsets, scale, zero_point, bias)

        """;   // TorchScript's parser wants the source to end with a newline

    /// <summary>
    /// Weights are quantised symmetrically, one scale per matrix, to ±127 on CPUs with AVX-512 VNNI and to ±63 on
    /// others. Without VNNI, FBGEMM multiplies uint8 inputs by int8 weights in pairs summed into 16 bits
    /// (<c>vpmaddubsw</c>), which saturates past 32,767: 255·127·2 can, 255·63·2 cannot (ONNX Runtime's
    /// <c>reduce_range</c> and PyTorch's, on the activations, give up the same bit). VNNI's instruction sums into 32
    /// bits, so there the full range is kept, as Optimum's avx512_vnni configuration does.
    /// </summary>
    public static int WeightLevels { get; } = HasAvx512Vnni() ? 127 : 63;

    /// <summary>AVX-512 VNNI (CPUID leaf 7, ECX bit 11), which FBGEMM's fastest int8 kernels use, and the OS's AVX-512 state.</summary>
    static bool HasAvx512Vnni() =>
        System.Runtime.Intrinsics.X86.Avx512F.IsSupported && (System.Runtime.Intrinsics.X86.X86Base.CpuId(7, 0).Ecx & (1 << 11)) != 0;

    static readonly Lazy<jit.CompilationUnit> Unit = new(Compile);

    /// <summary>A weight (out, in) as int8 codes, FBGEMM's packed copy, the per-output code sums and the scale.</summary>
    public sealed class PackedWeight(Tensor int8, Tensor packed, Tensor columnOffsets, double scale) : IDisposable
    {
        public Tensor Int8 { get; } = int8;                    // (out, in) int8; the kernel reads its shape
        public Tensor Packed { get; } = packed;                // FBGEMM's PackBMatrix, held in a uint8 tensor
        public Tensor ColumnOffsets { get; } = columnOffsets;  // (out) int32: each output's code sum (zero point 0)
        public double ScaleValue { get; } = scale;
        // Made once: a double passed to invoke would become a new native Scalar on every call.
        internal Scalar Scale { get; } = scale.ToScalar();
        internal Scalar ZeroPoint { get; } = 0L.ToScalar();

        public void Dispose()
        {
            Int8.Dispose(); Packed.Dispose(); ColumnOffsets.Dispose(); Scale.Dispose(); ZeroPoint.Dispose();
        }
    }

    /// <summary>Quantises and packs a weight (out, in); the result outlives any dispose scope the caller has open.</summary>
    /// <param name="levels">the largest code, <see cref="WeightLevels"/> unless a test asks for the other one</param>
    public static PackedWeight Pack(Tensor weight, int? levels = null)
    {
        int top = levels ?? WeightLevels;
        var unit = Unit.Value;
        using var scope = NewDisposeScope();
        var w = weight.detach().to(ScalarType.Float32);
        double absmax = w.abs().max().item<float>();
        double scale = absmax > 0 ? absmax / top : 1.0;
        var q = w.div(scale).round_().clamp_(-top, top).to(ScalarType.Int8).contiguous();
        var offsets = q.sum(1, type: ScalarType.Int32);
        var packed = (Tensor)unit.invoke("pack", q);
        return new PackedWeight(q.DetachFromDisposeScope(), packed.DetachFromDisposeScope(), offsets.DetachFromDisposeScope(), scale);
    }

    /// <summary>y = x Wᵀ + b for fp32 x (…, in) → (…, out) fp32.</summary>
    public static Tensor Linear(Tensor x, PackedWeight w, Tensor bias) =>
        (Tensor)Unit.Value.invoke("linear", x, w.Int8, w.Packed, w.ColumnOffsets, w.Scale, w.ZeroPoint, bias);

    static jit.CompilationUnit Compile()
    {
        var unit = jit.compile(Script);
        // Both functions are deprecated in PyTorch (in favour of quantized::linear_dynamic, out of reach, see above)
        // and each prints one warning to stderr the first time it runs. One call on a tiny layer, with stderr
        // pointed at /dev/null, spends those once-per-process warnings where no user sees them. A libtorch without
        // FBGEMM (ARM builds, x86 without AVX2) fails here.
        try
        {
            using var quiet = QuietStderr.Begin();
            using var scope = NewDisposeScope();
            var q = ones(2, 4, dtype: ScalarType.Int8);
            var packed = (Tensor)unit.invoke("pack", q);
            unit.invoke("linear", ones(1, 4), q, packed, full(2, 4, dtype: ScalarType.Int32), 1.0, 0L, zeros(2));
        }
        catch (System.Runtime.InteropServices.ExternalException e)
        {
            unit.Dispose();
            throw new UsageException("quantize", $"int8 needs libtorch's FBGEMM kernels (x86-64 with AVX2), which this machine or build lacks: {e.Message.Split('\n')[0]}");
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
