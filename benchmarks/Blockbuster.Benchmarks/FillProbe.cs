using System.Diagnostics;
using Blockbuster.Model;

namespace Blockbuster.Benchmarks;

static class FillProbe
{
    public static int Run()
    {
        var rng = new DropoutRandom(1);
        var buffer = new float[16 * 2 * 384 * 384];
        for (int round = 0; round < 5; round++)
        {
            var sw = Stopwatch.StartNew();
            for (int i = 0; i < 20; i++) rng.FillMask(buffer, 0.1);
            Console.WriteLine($"round {round}: {sw.Elapsed.TotalMilliseconds / 20:F2} ms per 4.7M-element mask ({System.Runtime.Intrinsics.Vector256.IsHardwareAccelerated})");
        }
        return 0;
    }
}
