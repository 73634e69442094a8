namespace Blockbuster.Training.Tokenization;

/// <summary>
/// Which tokens of a text longer than the max length are kept. <see cref="HeadTail"/> is Sun et al. 2019
/// ("How to Fine-Tune BERT for Text Classification"), best on IMDb: the first 128 and last 382 of 510.
/// </summary>
public enum Truncation { Head, Tail, HeadTail }

public static class TruncationRules
{
    public static readonly string[] Names = ["head", "tail", "head+tail"];

    public static Truncation Parse(string name) => name switch
    {
        "head" => Truncation.Head,
        "tail" => Truncation.Tail,
        "head+tail" => Truncation.HeadTail,
        _ => throw new Blockbuster.Model.UsageException("truncation", $"must be head, tail or head+tail, got '{name}'."),
    };

    public static string Name(Truncation t) => Names[(int)t];

    /// <summary>Head tokens of a head+tail budget: 128 of 510, in that proportion for other lengths.</summary>
    public static int HeadTokens(int budget) => (int)Math.Round(budget * 128.0 / 510);
}
