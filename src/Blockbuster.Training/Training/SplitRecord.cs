using Blockbuster.Model;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Blockbuster.Training;

/// <summary>
/// The train/test split a run used (<c>split.json</c>): the data file, its sha256, how it was read, and
/// the CSV row numbers on each side — so <c>eval</c> scores exactly the held-out reviews.
/// </summary>
public sealed record SplitRecord
{
    [JsonPropertyName("data_path")] public string DataPath { get; init; } = "";
    [JsonPropertyName("data_sha256")] public string DataSha256 { get; init; } = "";
    [JsonPropertyName("text_column")] public string TextColumn { get; init; } = "review";
    [JsonPropertyName("label_column")] public string LabelColumn { get; init; } = "sentiment";
    [JsonPropertyName("skip_invalid_rows")] public bool SkipInvalidRows { get; init; }
    [JsonPropertyName("encoding")] public string Encoding { get; init; } = Data.TextEncoding.Utf8;
    [JsonPropertyName("seed")] public int Seed { get; init; }
    [JsonPropertyName("test_size")] public double TestSize { get; init; }
    [JsonPropertyName("limit")] public int? Limit { get; init; }
    [JsonPropertyName("train_rows")] public int[] TrainRows { get; init; } = [];
    [JsonPropertyName("test_rows")] public int[] TestRows { get; init; } = [];

    public const string FileName = "split.json";

    static readonly JsonSerializerOptions JsonOptions = new() { WriteIndented = false };

    public string ToJson() => JsonSerializer.Serialize(this, JsonOptions);

    public static SplitRecord Load(string path)
    {
        try
        {
            return JsonSerializer.Deserialize<SplitRecord>(File.ReadAllText(path), JsonOptions) ?? throw new JsonException("empty");
        }
        catch (JsonException e)
        {
            throw new Data.DataFormatException($"{path}: not a valid split file ({ExceptionText.Clause(e)}).");
        }
    }
}
