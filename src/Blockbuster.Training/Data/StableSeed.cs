namespace Blockbuster.Training.Data;

/// <summary>
/// A seed mixed from several integers that is the same in every process. <see cref="HashCode.Combine{T1,T2}"/> is
/// randomised per process, so seeds made with it gave a resumed run (a new process) other masks and another block
/// order than the run it continues, and two identical commands different models.
/// </summary>
public static class StableSeed
{
    /// <summary>SplitMix64 (Steele et al. 2014) folded over the parts.</summary>
    public static int Of(params ReadOnlySpan<int> parts)
    {
        ulong h = 0x9E3779B97F4A7C15UL;
        foreach (int part in parts) h = Mix(h ^ (uint)part);
        return (int)(h ^ (h >> 32));
    }

    static ulong Mix(ulong z)
    {
        z += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
