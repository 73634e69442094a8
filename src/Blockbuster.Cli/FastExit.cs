namespace Blockbuster.Cli;

/// <summary>Ends the process at once (libc <c>_exit</c>) after flushing the console; no managed or native teardown runs.</summary>
static partial class FastExit
{
    public static void Now(int exitCode)
    {
        Console.Out.Flush();
        Console.Error.Flush();
        Exit(exitCode);
    }

    [System.Runtime.InteropServices.LibraryImport("libc", EntryPoint = "_exit")]
    private static partial void Exit(int code);
}
