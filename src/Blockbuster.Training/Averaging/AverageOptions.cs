namespace Blockbuster.Training.Averaging;

/// <summary>What <c>blockbuster average</c> takes.</summary>
/// <param name="Models">two or more classifier folders of one shape and vocabulary, fine-tuned from the same start</param>
/// <param name="Output">the folder to write the averaged classifier to</param>
public sealed record AverageOptions(IReadOnlyList<string> Models, string Output = "./blockbuster-average", bool Overwrite = false);

/// <summary>What was written.</summary>
/// <param name="SplitKept">whether the models shared a split.json, which the average keeps (so <c>eval</c> scores its held-out reviews)</param>
public sealed record AverageReport(string Output, IReadOnlyList<string> Models, long Parameters, IReadOnlyList<string> Labels, bool SplitKept);
