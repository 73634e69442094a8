using System.Text.Json;
using Blockbuster.Model;

namespace Blockbuster.Training.Evaluation;

/// <summary>Inference settings a trained folder remembers from training (training_args.json), when it has them.</summary>
public static class ModelSettings
{
    public static int MaxLength(string folder, int? requested, BertConfig config)
    {
        if (requested is { } length)
        {
            if (length < 2 || length > config.MaxPositionEmbeddings)
                throw new UsageException("max_length", $"must be between 2 and the model's {config.MaxPositionEmbeddings}, got {length}.");
            return length;
        }
        return Math.Min(ReadInt(folder, "max_length") ?? 512, config.MaxPositionEmbeddings);
    }

    public static Tokenization.Truncation Truncation(string folder, string? requested) =>
        Tokenization.TruncationRules.Parse(requested ?? ReadString(folder, "truncation") ?? "head");

    public static string Precision(string folder, string requested) =>
        requested != "auto" ? requested : ReadString(folder, "precision") ?? "auto";

    static JsonElement? Read(string folder, string key)
    {
        var path = Path.Combine(folder, "training_args.json");
        if (!File.Exists(path)) return null;
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllText(path));
            return doc.RootElement.TryGetProperty(key, out var value) ? value.Clone() : null;
        }
        catch (JsonException) { return null; }
    }

    static int? ReadInt(string folder, string key) => Read(folder, key) is { ValueKind: JsonValueKind.Number } v && v.TryGetInt32(out var i) ? i : null;
    static string? ReadString(string folder, string key) => Read(folder, key) is { ValueKind: JsonValueKind.String } v ? v.GetString() : null;
}
