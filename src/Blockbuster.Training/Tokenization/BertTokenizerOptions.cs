using Blockbuster.Model;
using System.Text.Json;

namespace Blockbuster.Training.Tokenization;

/// <summary>
/// The tokenizer settings of a Hugging Face BERT folder (<c>tokenizer_config.json</c>). Defaults are
/// bert-base-uncased's: lower-case, accents stripped (because lower-casing implies it when
/// <c>strip_accents</c> is null), CJK characters isolated, 512 tokens.
/// </summary>
public sealed record BertTokenizerOptions
{
    public bool LowerCase { get; init; } = true;
    /// <summary>null: follow <see cref="LowerCase"/>, as BERT does.</summary>
    public bool? StripAccents { get; init; }
    public bool TokenizeChineseChars { get; init; } = true;
    public int ModelMaxLength { get; init; } = 512;
    public int MaxInputCharsPerWord { get; init; } = 100;

    public bool ShouldStripAccents => StripAccents ?? LowerCase;

    public static BertTokenizerOptions Load(string? tokenizerConfigPath)
    {
        var options = new BertTokenizerOptions();
        if (tokenizerConfigPath is null || !File.Exists(tokenizerConfigPath)) return options;
        JsonDocument doc;
        try { doc = JsonDocument.Parse(File.ReadAllText(tokenizerConfigPath)); }
        catch (JsonException e) { throw new FormatException($"{tokenizerConfigPath}: not valid JSON ({ExceptionText.Clause(e)})."); }
        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object) throw new FormatException($"{tokenizerConfigPath}: not a JSON object.");
            bool? Bool(string name) => root.TryGetProperty(name, out var v) && v.ValueKind is JsonValueKind.True or JsonValueKind.False ? v.GetBoolean() : null;
            // Hugging Face writes a huge sentinel (1e30) for "no limit"; keep 512 then.
            int? Int(string name) => root.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out var i) && i > 0 ? i : null;
            return options with
            {
                LowerCase = Bool("do_lower_case") ?? options.LowerCase,
                StripAccents = Bool("strip_accents"),
                TokenizeChineseChars = Bool("tokenize_chinese_chars") ?? options.TokenizeChineseChars,
                ModelMaxLength = Int("model_max_length") ?? options.ModelMaxLength,
            };
        }
    }
}
