using System.Text.Json;
using System.Text.Json.Serialization;

namespace Blockbuster.Training;

/// <summary>
/// A list of strings in JSON that also reads a lone string or null, so <c>training_args.json</c> written when
/// <c>teacher</c> was one folder still loads (and resumes).
/// </summary>
sealed class OneOrManyStrings : JsonConverter<string[]>
{
    // Without it System.Text.Json sets null itself, past Read: every train run's saved `"teacher": null` would load as null.
    public override bool HandleNull => true;

    public override string[] Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) => reader.TokenType switch
    {
        JsonTokenType.Null => [],
        JsonTokenType.String => [reader.GetString()!],
        _ => JsonSerializer.Deserialize<string[]>(ref reader, options) ?? [],
    };

    public override void Write(Utf8JsonWriter writer, string[] value, JsonSerializerOptions options)
    {
        writer.WriteStartArray();
        foreach (var s in value) writer.WriteStringValue(s);
        writer.WriteEndArray();
    }
}
