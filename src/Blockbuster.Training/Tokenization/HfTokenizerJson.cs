using System.Text.Json.Nodes;

namespace Blockbuster.Training.Tokenization;

/// <summary>
/// Hugging Face's <c>tokenizer.json</c> for a BERT WordPiece vocabulary, the file <c>BertTokenizerFast</c>,
/// transformers.js and Optimum load: BertNormalizer (from <c>tokenizer_config.json</c>'s lower-casing, accent and CJK
/// settings), BertPreTokenizer, WordPiece with <c>##</c> continuations, and the <c>[CLS] A [SEP]</c> template,
/// so any Hugging Face fast tokenizer gives the ids <see cref="BertWordPieceTokenizer"/> gives.
/// </summary>
public static class HfTokenizerJson
{
    public static JsonObject Build(string vocabPath, BertTokenizerOptions options)
    {
        var vocab = BertWordPieceTokenizer.ReadVocabulary(vocabPath);
        int Id(string token) => vocab.TryGetValue(token, out var id) ? id : throw new Model.ModelFormatException($"{Path.GetFileName(vocabPath)}: no {token} token.");
        var added = new JsonArray();
        foreach (var special in new[] { "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]" }.Where(vocab.ContainsKey).OrderBy(t => vocab[t]))
            added.Add(new JsonObject
            {
                ["id"] = vocab[special], ["content"] = special, ["single_word"] = false, ["lstrip"] = false,
                ["rstrip"] = false, ["normalized"] = false, ["special"] = true,
            });
        JsonObject Special(string token, int typeId) => new() { ["SpecialToken"] = new JsonObject { ["id"] = token, ["type_id"] = typeId } };
        JsonObject Sequence(string id, int typeId) => new() { ["Sequence"] = new JsonObject { ["id"] = id, ["type_id"] = typeId } };
        JsonObject SpecialEntry(string token) => new() { ["id"] = token, ["ids"] = new JsonArray(Id(token)), ["tokens"] = new JsonArray(token) };
        var vocabJson = new JsonObject();
        foreach (var (token, id) in vocab.OrderBy(kv => kv.Value)) vocabJson[token] = id;
        return new JsonObject
        {
            ["version"] = "1.0",
            ["truncation"] = null,
            ["padding"] = null,
            ["added_tokens"] = added,
            ["normalizer"] = new JsonObject
            {
                ["type"] = "BertNormalizer", ["clean_text"] = true, ["handle_chinese_chars"] = options.TokenizeChineseChars,
                ["strip_accents"] = options.StripAccents is { } strip ? JsonValue.Create(strip) : null, ["lowercase"] = options.LowerCase,
            },
            ["pre_tokenizer"] = new JsonObject { ["type"] = "BertPreTokenizer" },
            ["post_processor"] = new JsonObject
            {
                ["type"] = "TemplateProcessing",
                ["single"] = new JsonArray(Special("[CLS]", 0), Sequence("A", 0), Special("[SEP]", 0)),
                ["pair"] = new JsonArray(Special("[CLS]", 0), Sequence("A", 0), Special("[SEP]", 0), Sequence("B", 1), Special("[SEP]", 1)),
                ["special_tokens"] = new JsonObject { ["[CLS]"] = SpecialEntry("[CLS]"), ["[SEP]"] = SpecialEntry("[SEP]") },
            },
            ["decoder"] = new JsonObject { ["type"] = "WordPiece", ["prefix"] = "##", ["cleanup"] = true },
            ["model"] = new JsonObject
            {
                ["type"] = "WordPiece", ["unk_token"] = "[UNK]", ["continuing_subword_prefix"] = "##",
                ["max_input_chars_per_word"] = options.MaxInputCharsPerWord, ["vocab"] = vocabJson,
            },
        };
    }

    public static void Write(string vocabPath, BertTokenizerOptions options, string path) =>
        File.WriteAllText(path, Build(vocabPath, options).ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }));
}
