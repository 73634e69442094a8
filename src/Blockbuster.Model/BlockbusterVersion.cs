using System.Reflection;

namespace Blockbuster.Model;

/// <summary>The product version (the assemblies' informational version, without build metadata).</summary>
public static class BlockbusterVersion
{
    public static string Current { get; } =
        (typeof(BlockbusterVersion).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0.0.0").Split('+')[0];
}
