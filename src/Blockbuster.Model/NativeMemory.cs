using System.Runtime.InteropServices;

namespace Blockbuster.Model;

/// <summary>
/// glibc serves allocations over 128 KB–32 MB with mmap and returns them with munmap, so every training
/// step's activation tensors were fresh pages to fault in: half the trainer's CPU time was system time.
/// Keeping large blocks in the heap and never trimming it made bf16 training faster (README, "Why the code
/// is shaped this way"). The same as MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=2G,
/// applied from inside the process. No effect on other C libraries.
/// The price is that the heap's resident size becomes its high-water mark: blocks freed between batch shapes,
/// evaluations and checkpoints stay resident, so peak RSS drifted from run to run (1.43–2.19 GB for the same
/// full fine-tune). <see cref="ReleaseFreePages"/> hands those pages back at a few chosen moments.
/// </summary>
public static partial class NativeMemory
{
    const int M_TRIM_THRESHOLD = -1;
    const int M_MMAP_MAX = -4;

    [LibraryImport("libc", EntryPoint = "mallopt")]
    private static partial int Mallopt(int parameter, int value);

    [LibraryImport("libc", EntryPoint = "malloc_trim")]
    private static partial int MallocTrim(nuint pad);

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

    /// <summary>
    /// Returns the pages of free heap blocks to the kernel (glibc's malloc_trim(0): every arena, middle of the
    /// heap included), keeping the address space. Cheap (milliseconds), but the next allocations fault those
    /// pages in again, so it is called between phases (around an evaluation, after a checkpoint, every few
    /// hundred steps), never per step.
    /// </summary>
    public static void ReleaseFreePages()
    {
        if (!configured || !OperatingSystem.IsLinux()) return;
        try { MallocTrim(0); }
        catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException) { }
    }
}
