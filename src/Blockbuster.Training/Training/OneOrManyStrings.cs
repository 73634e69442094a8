using System.Text.Json;
using System.Text.Json.Serialization;

namespace Blockbuster.Training;

/// <summary>
/// A list of strings in JSON that also reads a lone string or null, so <c>training_args.json</c> written when
/// <c>teacher</c> was one folder still loads (and resumes).
/// </summary>
sealed class OneOrManyStrings : JsonConverter<string[]>
{
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
