using System.Text.Json;
using System.Text.Json.Nodes;
using Blockbuster.Model;
using Blockbuster.Model.Checkpoints;
using Blockbuster.Model.Hub;
using Blockbuster.Model.Onnx;
using Blockbuster.Training.Evaluation;
using Blockbuster.Training.Tokenization;

namespace Blockbuster.Training.Export;

/// <summary>
/// <c>blockbuster export --format onnx</c>: a classifier folder → the layout Optimum's
/// <c>ORTModelForSequenceClassification.from_pretrained</c> and transformers.js load: <c>model.onnx</c> (LoRA merged,
/// a 4-bit base dequantised), <c>config.json</c>, <c>vocab.txt</c>, <c>tokenizer_config.json</c> (model_max_length =
/// the trained length), <c>special_tokens_map.json</c> and Hugging Face's <c>tokenizer.json</c>. Written as one
/// unit: an interrupted export leaves nothing.
/// </summary>
public static class OnnxExporter
{
    public const string ModelFile = "model.onnx";

    static readonly JsonSerializerOptions Indented = new() { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static async Task<ExportReport> RunAsync(ExportOptions o, HubClient hub, CancellationToken cancellationToken = default)
    {
        if (o.Format != "onnx") throw new UsageException("format", $"must be onnx, got '{o.Format}'.");
        CheckOutput(o);
        var folder = await ModelFolder.ResolveForInferenceAsync(hub, o.Model, null, cancellationToken).ConfigureAwait(false);
        var loaded = await ModelFolder.ForInferenceAsync(hub, folder, null, cancellationToken).ConfigureAwait(false);
        using var model = loaded.Model;
        var config = model.Config;
        int maxLength = ModelSettings.MaxLength(folder, null, config);
        var graph = BuildGraph(model, o.Int8);
        var tokenizerOptions = BertTokenizerOptions.Load(loaded.TokenizerConfigPath);
        BertWordPieceTokenizer.Load(loaded.VocabPath, loaded.TokenizerConfigPath);   // the vocabulary must be usable before anything is written

        var files = new List<string>();
        AtomicFolder.Write(o.Output, dir =>
        {
            files.AddRange(OnnxModelFile.Write(graph, Path.Combine(dir, ModelFile)).Select(Path.GetFileName)!);
            (config with { Architectures = ["BertForSequenceClassification"] }).Save(Path.Combine(dir, ModelFolder.Config));
            File.WriteAllBytes(Path.Combine(dir, ModelFolder.Vocab), File.ReadAllBytes(loaded.VocabPath));
            File.WriteAllText(Path.Combine(dir, ModelFolder.TokenizerConfig), TokenizerConfig(loaded.TokenizerConfigPath, maxLength).ToJsonString(Indented));
            File.WriteAllText(Path.Combine(dir, "special_tokens_map.json"), SpecialTokensMap().ToJsonString(Indented));
            File.WriteAllText(Path.Combine(dir, "tokenizer.json"), HfTokenizerJson.Build(loaded.VocabPath, tokenizerOptions).ToJsonString(Indented));
            files.AddRange([ModelFolder.Config, ModelFolder.Vocab, ModelFolder.TokenizerConfig, "special_tokens_map.json", "tokenizer.json"]);
        });
        long bytes = files.Where(f => f.StartsWith(ModelFile, StringComparison.Ordinal)).Sum(f => new FileInfo(Path.Combine(o.Output, f)).Length);
        return new ExportReport(Path.GetFullPath(o.Output), loaded.Kind, files, bytes, BertOnnxGraph.Opset, o.Int8, config.Labels, maxLength);
    }

    /// <summary>The ONNX graph of a loaded classifier: LoRA merged, weights fp32, optionally int8-quantised.</summary>
    public static Onnx.ModelProto BuildGraph(BertForSequenceClassification model, bool int8)
    {
        var state = ModelExport.MergedStateDict(model);
        try
        {
            var graph = BertOnnxGraph.Build(model.Config, state);
            if (int8) DynamicInt8.Apply(graph);
            return graph;
        }
        finally
        {
            foreach (var tensor in state.Values) tensor.Dispose();
        }
    }

    static void CheckOutput(ExportOptions o)
    {
        if (File.Exists(o.Output)) throw new IOException($"`output` {o.Output} is a file, not a folder.");
        if (Directory.Exists(o.Output) && Directory.EnumerateFileSystemEntries(o.Output).Any() && !o.Overwrite)
            throw new IOException($"output folder {o.Output} already exists; pass `overwrite` to replace it.");
        var parent = Path.GetDirectoryName(Path.GetFullPath(o.Output))!;
        if (Directory.Exists(parent))
        {
            // Fail before the (slow) load when the folder cannot be written: a probe file, removed at once.
            var probe = Path.Combine(parent, $".{Path.GetFileName(Path.GetFullPath(o.Output))}.probe-{Environment.ProcessId}");
            try { File.WriteAllBytes(probe, []); File.Delete(probe); }
            catch (UnauthorizedAccessException) { throw new IOException($"cannot write to {parent}: permission denied."); }
        }
    }

    /// <summary>The source folder's tokenizer_config.json (or BERT's defaults) with model_max_length set to the trained length.</summary>
    static JsonObject TokenizerConfig(string? sourcePath, int maxLength)
    {
        JsonObject json = new()
        {
            ["do_lower_case"] = true, ["tokenize_chinese_chars"] = true, ["strip_accents"] = null,
            ["cls_token"] = "[CLS]", ["sep_token"] = "[SEP]", ["pad_token"] = "[PAD]", ["unk_token"] = "[UNK]", ["mask_token"] = "[MASK]",
        };
        if (sourcePath is not null && File.Exists(sourcePath) && JsonNode.Parse(File.ReadAllText(sourcePath)) is JsonObject source)
            json = source;
        json["model_max_length"] = maxLength;
        json["tokenizer_class"] = "BertTokenizer";
        return json;
    }

    static JsonObject SpecialTokensMap() => new()
    {
        ["cls_token"] = "[CLS]", ["mask_token"] = "[MASK]", ["pad_token"] = "[PAD]", ["sep_token"] = "[SEP]", ["unk_token"] = "[UNK]",
    };
}
