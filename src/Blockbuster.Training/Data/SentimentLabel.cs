namespace Blockbuster.Training.Data;

/// <summary>Sentiment labels: 0 = negative, 1 = positive. Accepts positive/negative, pos/neg, 1/0, any case.</summary>
public static class SentimentLabel
{
    public static readonly string[] Names = ["negative", "positive"];

    public static int? Parse(string? value) => value?.Trim().ToLowerInvariant() switch
    {
        "positive" or "pos" or "1" => 1,
        "negative" or "neg" or "0" => 0,
        _ => null,
    };
}
