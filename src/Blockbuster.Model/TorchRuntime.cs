using System.Reflection;
using TorchSharp;
using static TorchSharp.torch;

namespace Blockbuster.Model;

/// <summary>LibTorch could not be loaded or the requested device is not available in this build.</summary>
public sealed class TorchUnavailableException(string message) : Exception(message);

/// <summary>Loading LibTorch and choosing devices, with one-sentence failures instead of stack traces.</summary>
public static class TorchRuntime
{
    /// <summary>"cpu" or "cuda": the LibTorch bundle the entry assembly was built with (-p:TorchBackend).</summary>
    public static string Backend =>
        Assembly.GetEntryAssembly()?.GetCustomAttributes<AssemblyMetadataAttribute>().FirstOrDefault(a => a.Key == "TorchBackend")?.Value ?? "cpu";

    /// <summary>Forces LibTorch to load now, so a broken native install fails here with a clear sentence.</summary>
    public static void EnsureLoaded()
    {
        NativeMemory.KeepLargeAllocations();
        try
        {
            InitializeDeviceType(DeviceType.CPU);
        }
        catch (Exception e) when (e is TypeInitializationException or DllNotFoundException or NotSupportedException or EntryPointNotFoundException or BadImageFormatException)
        {
            var inner = e;
            while (inner.InnerException is not null) inner = inner.InnerException;
            var detail = inner.Message.Split('\n')[0].Trim();
            var hint = detail.Contains("GLIBCXX", StringComparison.Ordinal)
                ? "rebuild with 'dotnet build' so the project's libLibTorchSharp.so patch runs, or install a libstdc++ with GLIBCXX_3.4.32"
                : "check that the TorchSharp-cpu (or -cuda) native files are next to the program (run 'dotnet build' or 'dotnet publish' again)";
            throw new TorchUnavailableException($"LibTorch failed to load ({detail}); {hint}.");
        }
    }

    /// <summary>auto → CUDA when this build and machine have it, else CPU.</summary>
    public static Device ResolveDevice(string device)
    {
        EnsureLoaded();
        switch (device.ToLowerInvariant())
        {
            case "cpu":
                return CPU;
            case "auto":
                return Backend == "cuda" && cuda.is_available() ? CUDA : CPU;
            case "cuda":
                if (Backend != "cuda")
                    throw new TorchUnavailableException("`device` cuda needs a CUDA build of Blockbuster: this one was built with the CPU-only LibTorch (rebuild with -p:TorchBackend=cuda).");
                if (!cuda.is_available())
                    throw new TorchUnavailableException("`device` cuda was requested but no CUDA device is available to LibTorch on this machine.");
                return CUDA;
            default:
                throw new UsageException("device", $"must be auto, cpu or cuda, got '{device}'.");
        }
    }

    /// <summary>Sets the intra-op thread count when given; 0 or less keeps LibTorch's default (all cores).</summary>
    public static void SetThreads(int threads)
    {
        EnsureLoaded();
        if (threads > 0) set_num_threads(threads);
    }
}
