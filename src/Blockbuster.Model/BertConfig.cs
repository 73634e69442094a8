using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace Blockbuster.Model;

/// <summary>
/// Hugging Face <c>BertConfig</c>, read from and written to <c>config.json</c>. Property names are the
/// JSON keys so a folder round-trips with Python transformers. Unknown keys are kept as they were.
/// </summary>
/// <remarks>
/// Read and written by System.Text.Json's source generator (BertConfigJson): reflection-based metadata cost ~45 ms
/// of every cold <c>predict</c>. The JSON properties have <c>set</c>, not <c>init</c>, because the generator
/// resets init-only properties missing from the file to 0/null instead of keeping their defaults
/// (dotnet/runtime#84484); config.json files routinely omit keys.
/// </remarks>
public sealed record BertConfig
{
    [JsonPropertyName("vocab_size")] public int VocabSize { get; set; } = 30522;
    [JsonPropertyName("hidden_size")] public int HiddenSize { get; set; } = 768;
    [JsonPropertyName("num_hidden_layers")] public int NumHiddenLayers { get; set; } = 12;
    [JsonPropertyName("num_attention_heads")] public int NumAttentionHeads { get; set; } = 12;
    [JsonPropertyName("intermediate_size")] public int IntermediateSize { get; set; } = 3072;
    [JsonPropertyName("hidden_act")] public string HiddenAct { get; set; } = "gelu";
    [JsonPropertyName("hidden_dropout_prob")] public double HiddenDropoutProb { get; set; } = 0.1;
    [JsonPropertyName("attention_probs_dropout_prob")] public double AttentionProbsDropoutProb { get; set; } = 0.1;
    [JsonPropertyName("classifier_dropout")] public double? ClassifierDropout { get; set; }
    [JsonPropertyName("max_position_embeddings")] public int MaxPositionEmbeddings { get; set; } = 512;
    [JsonPropertyName("type_vocab_size")] public int TypeVocabSize { get; set; } = 2;
    [JsonPropertyName("initializer_range")] public double InitializerRange { get; set; } = 0.02;
    [JsonPropertyName("layer_norm_eps")] public double LayerNormEps { get; set; } = 1e-12;
    [JsonPropertyName("pad_token_id")] public int PadTokenId { get; set; }
    [JsonPropertyName("model_type")] public string ModelType { get; set; } = "bert";
    [JsonPropertyName("architectures")] public string[]? Architectures { get; set; }
    [JsonPropertyName("id2label")] public Dictionary<string, string>? Id2Label { get; set; }
    [JsonPropertyName("label2id")] public Dictionary<string, int>? Label2Id { get; set; }

    [JsonExtensionData] public Dictionary<string, JsonElement>? Extra { get; set; }

    /// <summary>Labels in id order; HF's default is LABEL_0, LABEL_1 when a config names none.</summary>
    [JsonIgnore]
    public IReadOnlyList<string> Labels =>
        Id2Label is { Count: > 0 }
            ? Id2Label.OrderBy(kv => int.Parse(kv.Key, System.Globalization.CultureInfo.InvariantCulture)).Select(kv => kv.Value).ToArray()
            : ["LABEL_0", "LABEL_1"];

    [JsonIgnore] public int NumLabels => Labels.Count;

    [JsonIgnore] public int HeadSize => HiddenSize / NumAttentionHeads;


    public static BertConfig Load(string path)
    {
        if (!File.Exists(path)) throw new ModelFormatException($"{path}: file not found.");
        BertConfig? config;
        try
        {
            config = JsonSerializer.Deserialize(File.ReadAllText(path), BertConfigJson.Default.BertConfig);
        }
        catch (JsonException e)
        {
            throw new ModelFormatException($"{path}: not a valid config.json ({ExceptionText.Clause(e)}).");
        }
        if (config is null) throw new ModelFormatException($"{path}: empty config.json.");
        config.Validate(path);
        return config;
    }

    public void Save(string path) => File.WriteAllText(path, ToJson());

    public string ToJson() => JsonSerializer.Serialize(this, BertConfigJson.Default.BertConfig);

    /// <summary>The same config with a classification head for <paramref name="labels"/> (in id order).</summary>
    public BertConfig WithLabels(IReadOnlyList<string> labels) => this with
    {
        Id2Label = labels.Select((l, i) => (l, i)).ToDictionary(p => p.i.ToString(System.Globalization.CultureInfo.InvariantCulture), p => p.l),
        Label2Id = labels.Select((l, i) => (l, i)).ToDictionary(p => p.l, p => p.i),
        Architectures = ["BertForSequenceClassification"],
    };

    public void Validate(string source = "config")
    {
        void Positive(string key, double value)
        {
            if (!(value > 0)) throw new ModelFormatException($"{source}: {key} must be positive, got {value}.");
        }
        void Probability(string key, double value)
        {
            if (value is < 0 or >= 1) throw new ModelFormatException($"{source}: {key} must be in [0, 1), got {value}.");
        }
        Positive("vocab_size", VocabSize);
        Positive("hidden_size", HiddenSize);
        Positive("num_hidden_layers", NumHiddenLayers);
        Positive("num_attention_heads", NumAttentionHeads);
        Positive("intermediate_size", IntermediateSize);
        Positive("max_position_embeddings", MaxPositionEmbeddings);
        Positive("type_vocab_size", TypeVocabSize);
        Positive("layer_norm_eps", LayerNormEps);
        Positive("initializer_range", InitializerRange);
        Probability("hidden_dropout_prob", HiddenDropoutProb);
        Probability("attention_probs_dropout_prob", AttentionProbsDropoutProb);
        if (ClassifierDropout is { } cd) Probability("classifier_dropout", cd);
        if (HiddenSize % NumAttentionHeads != 0)
            throw new ModelFormatException($"{source}: hidden_size {HiddenSize} is not a multiple of num_attention_heads {NumAttentionHeads}.");
        if (PadTokenId < 0 || PadTokenId >= VocabSize)
            throw new ModelFormatException($"{source}: pad_token_id {PadTokenId} is outside the vocabulary (size {VocabSize}).");
        if (!Activations.IsKnown(HiddenAct))
            throw new ModelFormatException($"{source}: hidden_act '{HiddenAct}' is not supported (use one of {string.Join(", ", Activations.Known)}).");
        if (Id2Label is { Count: > 0 })
        {
            for (int i = 0; i < Id2Label.Count; i++)
                if (!Id2Label.ContainsKey(i.ToString(System.Globalization.CultureInfo.InvariantCulture)))
                    throw new ModelFormatException($"{source}: id2label must have keys 0..{Id2Label.Count - 1}; {i} is missing.");
        }
    }
}

[JsonSourceGenerationOptions(WriteIndented = true, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(BertConfig))]
internal sealed partial class BertConfigJson : JsonSerializerContext;
