using System.Runtime.InteropServices;

namespace Blockbuster.Model;

/// <summary>
/// glibc serves allocations over 128 KB–32 MB with mmap and returns them with munmap, so every training
/// step's activation tensors were fresh pages to fault in: half the trainer's CPU time was system time.
/// Keeping large blocks in the heap and never trimming it made bf16 training faster (README, "Why the code
/// is shaped this way"). The same as MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=2G,
/// applied from inside the process. No effect on other C libraries.
/// </summary>
public static partial class NativeMemory
{
    const int M_TRIM_THRESHOLD = -1;
    const int M_MMAP_MAX = -4;

    [LibraryImport("libc", EntryPoint = "mallopt")]
    private static partial int Mallopt(int parameter, int value);

    static bool configured;

    public static void KeepLargeAllocations()
    {
        if (configured || !OperatingSystem.IsLinux()) return;
        configured = true;
        try
        {
            Mallopt(M_MMAP_MAX, 0);
            Mallopt(M_TRIM_THRESHOLD, int.MaxValue);
        }
        catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException)
        {
            // musl and other C libraries: nothing to tune.
        }
    }
}
