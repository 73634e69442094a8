namespace Blockbuster.Training.Data;

/// <summary>
/// Sentiment labels in the data: 0 = negative, 1 = positive. Accepts positive/negative, pos/neg, 1/0, any case.
/// The names are the model's id2label (<see cref="Model.ModelFolder.SentimentLabels"/>, the one list); the
/// positive class of a loaded model is found by that name in its own id2label (<see cref="PositiveIndex"/>).
/// </summary>
public static class SentimentLabel
{
    public static IReadOnlyList<string> Names => Model.ModelFolder.SentimentLabels;
    public const string Positive = "positive";

    /// <summary>The class index of "positive" in a model's labels (its id2label), whatever its id.</summary>
    public static int PositiveIndex(IReadOnlyList<string> modelLabels)
    {
        for (int i = 0; i < modelLabels.Count; i++) if (modelLabels[i] == Positive) return i;
        throw new Model.ModelFormatException($"the model's labels ({string.Join(", ", modelLabels)}) have no '{Positive}'; a sentiment model needs one.");
    }

    public static int? Parse(string? value) => value?.Trim().ToLowerInvariant() switch
    {
        "positive" or "pos" or "1" => 1,
        "negative" or "neg" or "0" => 0,
        _ => null,
    };
}
