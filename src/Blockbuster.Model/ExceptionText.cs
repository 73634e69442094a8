namespace Blockbuster.Model;

/// <summary>An inner exception's message as a clause inside our own one-line errors.</summary>
public static class ExceptionText
{
    /// <summary>The message's first line without its closing period, so "(… encountered.)." reads "(… encountered)."</summary>
    public static string Clause(Exception e) => e.Message.Split('\n')[0].Trim().TrimEnd('.');
}
