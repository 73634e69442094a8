using System.Text.Json;

namespace Blockbuster.Serving;

/// <summary>
/// A <c>POST /predict</c> body as text-embeddings-inference takes it: <c>{"inputs": "text"}</c> or
/// <c>{"inputs": ["a", "b"]}</c>, optional <c>"raw_scores"</c> and <c>"truncate"</c>. Validation errors are TEI's
/// 422s, each one line naming the field.
/// </summary>
public sealed record PredictRequest(string[] Inputs, bool Batched, bool RawScores, bool? Truncate)
{
    public static PredictRequest Parse(JsonElement root, int maxClientBatchSize)
    {
        if (root.ValueKind != JsonValueKind.Object) throw new RequestValidationException("the body must be a JSON object with `inputs`.");
        if (!root.TryGetProperty("inputs", out var inputs)) throw new RequestValidationException("`inputs` is missing.");
        string[] texts;
        bool batched;
        switch (inputs.ValueKind)
        {
            case JsonValueKind.String:
                texts = [inputs.GetString()!];
                batched = false;
                break;
            case JsonValueKind.Array:
                texts = new string[inputs.GetArrayLength()];
                int i = 0;
                foreach (var item in inputs.EnumerateArray())
                {
                    if (item.ValueKind != JsonValueKind.String)
                        throw new RequestValidationException($"`inputs[{i}]` must be a string, got {Kind(item)}.");
                    texts[i++] = item.GetString()!;
                }
                batched = true;
                break;
            default:
                throw new RequestValidationException($"`inputs` must be a string or an array of strings, got {Kind(inputs)}.");
        }
        if (texts.Length == 0) throw new RequestValidationException("`inputs` cannot be empty.");
        if (texts.Length > maxClientBatchSize)
            throw new RequestValidationException($"`inputs` must have at most {maxClientBatchSize} elements (max_client_batch_size). Given: {texts.Length}.");
        for (int i = 0; i < texts.Length; i++)
            if (string.IsNullOrWhiteSpace(texts[i]))
                throw new RequestValidationException(batched ? $"`inputs[{i}]` cannot be empty." : "`inputs` cannot be empty.");
        return new PredictRequest(texts, batched, Bool(root, "raw_scores") ?? false, Bool(root, "truncate"));
    }

    static bool? Bool(JsonElement root, string name)
    {
        if (!root.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null) return null;
        return value.ValueKind is JsonValueKind.True or JsonValueKind.False
            ? value.GetBoolean()
            : throw new RequestValidationException($"`{name}` must be true or false, got {Kind(value)}.");
    }

    static string Kind(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.Number => "a number", JsonValueKind.Object => "an object", JsonValueKind.Array => "an array",
        JsonValueKind.True or JsonValueKind.False => "a boolean", JsonValueKind.Null => "null", _ => "a string",
    };
}

/// <summary>A request the server understood but cannot take (HTTP 422).</summary>
public sealed class RequestValidationException(string message) : Exception(message);

/// <summary>One label's score in a response, sorted best first, as TEI writes them.</summary>
public sealed record LabelScore(string Label, float Score);

/// <summary>TEI's error body.</summary>
public sealed record ErrorBody(string Error, string ErrorType);
