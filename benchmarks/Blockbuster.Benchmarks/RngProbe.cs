using Blockbuster.Model;
using static TorchSharp.torch;

namespace Blockbuster.Benchmarks;

/// <summary>Cost of dropout pieces at attention size (16, 2, 384, 384).</summary>
static class RngProbe
{
    public static int Run()
    {
        using var _ = no_grad();
        long[] shape = [16, 2, 384, 384];
        long n = shape.Aggregate(1L, (a, b) => a * b);
        var x = rand(shape);
        var rng = new DropoutRandom(1);
        var maskBuffer = new float[n];
        Time("C# vector mask fill fp32", () => { rng.FillMask(maskBuffer, 0.1); return x; });
        var keepBuffer = new byte[n];
        Time("C# vector keep fill u8", () => { rng.FillKeep(keepBuffer, 0.1); return x; });
        var xb = x.to(ScalarType.BFloat16);
        Time("FastDropout.Apply bf16", () => FastDropout.Apply(xb, 0.1, rng));
        var km = FastDropout.KeepMask(shape, 0.1, ScalarType.BFloat16, CPU, rng);
        Console.WriteLine($"bf16 keep mask: dtype {km.dtype}, mean {km.to(ScalarType.Float32).mean().item<float>():F5}, max {km.max().to(ScalarType.Float32).item<float>()}");
        Time("KeepMask bf16", () => FastDropout.KeepMask(shape, 0.1, ScalarType.BFloat16, CPU, rng));
        Time("FastDropout.Apply total", () => FastDropout.Apply(x, 0.1, rng));
        Time("libtorch dropout", () => nn.functional.dropout(x, 0.1, true));
        Time("softmax fp32 (ref)", () => x.softmax(-1));
        return 0;
    }

    static void Time(string name, Func<Tensor> f)
    {
        for (int i = 0; i < 2; i++) { using var s = NewDisposeScope(); f(); }
        var sw = System.Diagnostics.Stopwatch.StartNew();
        for (int i = 0; i < 10; i++) { using var s = NewDisposeScope(); f(); }
        Console.WriteLine($"{name,-30} {sw.Elapsed.TotalMilliseconds / 10,8:F2} ms");
    }
}
