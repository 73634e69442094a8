using System.IO.Compression;
using System.Text;
using Blockbuster.Model;
using Blockbuster.Model.Quantization;
using TorchSharp;
using static TorchSharp.torch;

namespace Blockbuster.Benchmarks;

/// <summary>
/// libtorch's oneDNN int8 linear with fused post-ops (<c>onednn::qlinear_pointwise</c>, what Inductor's x86
/// quantisation emits: int8 GEMM with a GELU epilogue and bf16 output) against FBGEMM's dynamic int8 linear that
/// <c>--quantize int8</c> uses, at bert-tiny's shapes (B=8, T=288) on one thread. The op is outside the ATen namespace,
/// which <c>torch.jit.compile</c>'s resolver cannot name (only <c>torch.*</c> = <c>aten::*</c>); a TorchScript
/// archive's importer resolves <c>ops.onednn.*</c>, so the probe writes a minimal archive (code + an empty module
/// pickled) and loads it with <c>torch.jit.load</c>.
/// </summary>
static class OnednnProbe
{
    // The methods, as PyTorch's serializer writes a module's code. dyn_*: dynamic quantisation (the input's own
    // min/max → uint8) then the oneDNN kernel, as ONNX Runtime's DynamicQuantizeMatMul does in one op.
    const string Code = """
        class Module(Module):
          __parameters__ = []
          __buffers__ = []
          training : bool
          def prepack(self: __torch__.Module, w: Tensor) -> Tensor:
            return ops.onednn.qlinear_prepack(w, None)
          def quantize_with_params(self: __torch__.Module, x: Tensor) -> Tuple[Tensor, float, int]:
            scale, zp = torch._choose_qparams_per_tensor(x, False)
            return torch.int_repr(torch.quantize_per_tensor(x, scale, zp, 13)), scale, zp
          def quantize(self: __torch__.Module, x: Tensor) -> Tensor:
            q, scale, zp = self.quantize_with_params(x)
            return q
          def kernel(self: __torch__.Module, q: Tensor, scale: float, zp: int, qw: Tensor, w_scale: Tensor, w_zp: Tensor, bias: Tensor, out_dtype: int) -> Tensor:
            args = annotate(List[Optional[number]], [])
            return ops.onednn.qlinear_pointwise(q, scale, zp, qw, w_scale, w_zp, bias, 1., 0, out_dtype, "none", args, "")
          def dyn_none(self: __torch__.Module, x: Tensor, qw: Tensor, w_scale: Tensor, w_zp: Tensor, bias: Tensor, out_dtype: int) -> Tensor:
            q, scale, zp = self.quantize_with_params(x)
            args = annotate(List[Optional[number]], [])
            return ops.onednn.qlinear_pointwise(q, scale, zp, qw, w_scale, w_zp, bias, 1., 0, out_dtype, "none", args, "")
          def dyn_gelu(self: __torch__.Module, x: Tensor, qw: Tensor, w_scale: Tensor, w_zp: Tensor, bias: Tensor, out_dtype: int) -> Tensor:
            q, scale, zp = self.quantize_with_params(x)
            args = annotate(List[Optional[number]], [])
            return ops.onednn.qlinear_pointwise(q, scale, zp, qw, w_scale, w_zp, bias, 1., 0, out_dtype, "gelu", args, "none")
          def forward(self: __torch__.Module, x: Tensor) -> Tensor:
            return x

        """;

    /// <summary>The archive: code, the module object pickled (class __torch__.Module, training False), no constants.</summary>
    static string WriteArchive()
    {
        var path = Path.Combine(Path.GetTempPath(), $"onednn-probe-{Environment.ProcessId}.pt");
        using var zip = ZipFile.Open(path, ZipArchiveMode.Create);
        void Add(string name, byte[] bytes) { using var s = zip.CreateEntry("archive/" + name, CompressionLevel.NoCompression).Open(); s.Write(bytes); }
        // pickle protocol 2: GLOBAL __torch__ Module, EMPTY_TUPLE, NEWOBJ, {"training": False}, BUILD, STOP
        Add("data.pkl", [0x80, 0x02, .. "c__torch__\nModule\n)"u8, 0x81, (byte)'}', 0x58, 8, 0, 0, 0, .. "training"u8, 0x89, (byte)'s', (byte)'b', (byte)'.']);
        Add("constants.pkl", [0x80, 0x02, (byte)')', (byte)'.']);   // an empty tuple
        Add("version", "6\n"u8.ToArray());
        Add("code/__torch__.py", Encoding.UTF8.GetBytes(Code));
        return path;
    }

    public static int Run()
    {
        TorchRuntime.EnsureLoaded();
        set_num_threads(1);
        var archive = WriteArchive();
        using var unit = jit.load(archive);
        File.Delete(archive);
        using var _ = no_grad();
        long M = 8 * 288;
        const long Bf16 = (long)ScalarType.BFloat16;
        static double Time(string name, Func<Tensor> f, long tokens) => ProbeTimer.Time(name, f, tokens, reps: 40, warmups: 5);
        foreach (var (inF, outF) in new[] { (128L, 384L), (128L, 128L), (128L, 512L), (512L, 128L) })
        {
            Console.WriteLine($"--- {inF} -> {outF}, (M={M}, {inF}) fp32 input");
            var x = randn(M, inF);
            var w = randn(outF, inF).mul(0.05);
            var bias = randn(outF).mul(0.1);
            var reference = nn.functional.linear(x, w, bias);
            var fbgemm = FbgemmInt8.Pack(w);
            // oneDNN's weight: int8 per output channel, symmetric (zero points 0).
            var wScale = w.abs().amax(1).div(127.0);
            var packed = (Tensor)unit.invoke("prepack", w.div(wScale.unsqueeze(1)).round().clamp(-127, 127).to(ScalarType.Int8));
            var wZp = zeros(outF, dtype: ScalarType.Int64);
            var dyn = (Tensor)unit.invoke("dyn_none", x, packed, wScale, wZp, bias, (long)ScalarType.Float32);
            Console.WriteLine($"max |error| against fp32: FBGEMM {(FbgemmInt8.Linear(x, fbgemm, bias) - reference).abs().max().item<float>():F4}, oneDNN {(dyn - reference).abs().max().item<float>():F4}");
            double absmax = x.abs().max().item<float>();
            var q = x.div(absmax / 127.5).round().add(128).clamp(0, 255).to(ScalarType.Byte);
            Time("FBGEMM dynamic (fp32 out)", () => FbgemmInt8.Linear(x, fbgemm, bias), M);
            Time("oneDNN kernel alone, input quantised (bf16 out)", () => (Tensor)unit.invoke("kernel", q, absmax / 127.5, 128L, packed, wScale, wZp, bias, Bf16), M);
            Time("quantising the input alone", () => (Tensor)unit.invoke("quantize", x), M);
            Time("oneDNN dynamic (bf16 out)", () => (Tensor)unit.invoke("dyn_none", x, packed, wScale, wZp, bias, Bf16), M);
            Time("FBGEMM dynamic + GELU", () => nn.functional.gelu(FbgemmInt8.Linear(x, fbgemm, bias)), M);
            Time("oneDNN dynamic with GELU epilogue (bf16 out)", () => (Tensor)unit.invoke("dyn_gelu", x, packed, wScale, wZp, bias, Bf16), M);
        }
        return 0;
    }
}
