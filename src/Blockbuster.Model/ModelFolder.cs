using Blockbuster.Model.Checkpoints;
using Blockbuster.Model.Hub;
using Blockbuster.Model.Lora;
using Blockbuster.Model.Quantization;

namespace Blockbuster.Model;

/// <summary>A model loaded from disk, with where its tokenizer files are.</summary>
public sealed record LoadedModel(BertForSequenceClassification Model, string Folder, LoadReport? Report, string VocabPath, string? TokenizerConfigPath, string Kind);

/// <summary>
/// The Hugging Face model folders this project reads: a plain BERT checkpoint (config.json plus
/// model.safetensors or pytorch_model.bin), a folder written by <c>train</c>, and a PEFT adapter folder
/// (adapter_config.json + adapter_model.safetensors over the base model it names).
/// </summary>
public static class ModelFolder
{
    public const string Config = "config.json";
    public const string Safetensors = "model.safetensors";
    public const string PytorchBin = "pytorch_model.bin";
    public const string Vocab = "vocab.txt";
    public const string TokenizerConfig = "tokenizer_config.json";
    public const string AdapterConfig = "adapter_config.json";
    public const string AdapterWeights = "adapter_model.safetensors";

    /// <summary>Sentiment labels in id order, as <c>train</c> writes them.</summary>
    public static readonly string[] SentimentLabels = ["negative", "positive"];

    public static string? FindWeights(string folder) =>
        new[] { Safetensors, PytorchBin }.Select(f => Path.Combine(folder, f)).FirstOrDefault(File.Exists);

    /// <summary>
    /// The tokenizer files a classifier folder (weights, config.json and vocab.txt side by side) will load with,
    /// known before its weights load; null for any other folder (an adapter's may come from its base model).
    /// </summary>
    public static (string Vocab, string? TokenizerConfig)? ClassifierTokenizerFiles(string folder) =>
        FindWeights(folder) is not null && File.Exists(Path.Combine(folder, Config)) && OptionalFile(folder, Vocab) is { } vocab
            ? (vocab, OptionalFile(folder, TokenizerConfig))
            : null;

    /// <summary>Resolves a folder or Hub id, fetching what a base model for training needs.</summary>
    public static Task<string> ResolveBaseAsync(HubClient hub, string model, bool fromScratch, IProgress<DownloadProgress>? progress, CancellationToken ct = default) =>
        fromScratch && model == EmbeddedBertTiny.RepoId && !Directory.Exists(model)
            ? Task.FromResult(EmbeddedBertTiny.Extract(hub.Options.CacheDir))   // config + vocab ship inside the tool
            : hub.ResolveAsync(model, [Config, Vocab], fromScratch ? [] : [[Safetensors, PytorchBin]], [TokenizerConfig], progress, cancellationToken: ct);

    /// <summary>Resolves a folder or Hub id for inference: a full classifier or an adapter.</summary>
    public static async Task<string> ResolveForInferenceAsync(HubClient hub, string model, IProgress<DownloadProgress>? progress, CancellationToken ct = default)
    {
        if (Directory.Exists(model)) return Path.GetFullPath(model);
        return await hub.ResolveAsync(model, [], [[Safetensors, PytorchBin, AdapterConfig]], [Config, Vocab, TokenizerConfig, AdapterWeights], progress, cancellationToken: ct).ConfigureAwait(false);
    }

    /// <summary>
    /// Builds the classifier for training, in PEFT's order: the plain model, its pretrained weights (strict)
    /// or BERT's random init, then the LoRA adapter injected over it.
    /// </summary>
    public static LoadedModel ForTraining(string folder, IReadOnlyList<string> labels, LoraConfig? lora, bool fromScratch, Nf4Options? quantize = null)
    {
        var config = BertConfig.Load(Path.Combine(folder, Config)).WithLabels(labels);
        var vocab = RequireVocab(folder, folder);
        var model = new BertForSequenceClassification(config);
        try
        {
            LoadReport? report = null;
            if (!fromScratch)
            {
                var weights = FindWeights(folder) ?? throw new ModelFormatException($"{folder}: no {Safetensors} or {PytorchBin}; pass `from_scratch` to train from random weights.");
                if (Nf4Checkpoint.IsQuantizedFolder(folder))
                {
                    // A 4-bit base (a base-nf4 folder): its layers come back exactly as they were quantised.
                    if (lora is null) throw new ModelFormatException($"{folder} holds a 4-bit base, which can only be trained with LoRA adapters on top (QLoRA).");
                    var tensors = StateDictFile.Read(weights);
                    try { report = CheckpointLoader.Load(model, Nf4Checkpoint.LoadQuantizedLayers(model, tensors, weights), weights, allowFreshClassifier: true); }
                    finally { foreach (var t in tensors.Values) t.Dispose(); }
                    quantize = null;
                }
                else report = CheckpointLoader.Load(model, weights, allowFreshClassifier: true);
                // A masked-LM checkpoint has no pooler: like the classifier, it starts fresh and is trained and saved whole.
                if (report.PoolerIsFresh && lora is not null && !lora.ModulesToSave.Contains("pooler"))
                    lora = lora with { ModulesToSave = [.. lora.ModulesToSave, "pooler"] };
            }
            if (quantize is not null) Nf4Quantizer.Quantize(model, quantize.DoubleQuant, lora?.ModulesToSave);
            LoraInjection.Inject(model, lora);
            return new LoadedModel(model, folder, report, vocab, OptionalFile(folder, TokenizerConfig), fromScratch ? "from-scratch" : "pretrained");
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>Loads a trained classifier: merged weights when present, else base model + PEFT adapter.</summary>
    /// <param name="quantize">run the encoder and pooler in NF4 (the classifier stays full precision)</param>
    public static async Task<LoadedModel> ForInferenceAsync(HubClient hub, string folder, IProgress<DownloadProgress>? progress = null, CancellationToken ct = default,
                                                           Nf4Options? quantize = null)
    {
        var weights = FindWeights(folder);
        if (weights is not null)
        {
            var config = BertConfig.Load(Path.Combine(folder, Config));
            if (config.Id2Label is not { Count: > 0 }) config = config.WithLabels(SentimentLabels);
            var model = new BertForSequenceClassification(config, initialize: false);   // every weight comes from the file
            try
            {
                var report = CheckpointLoader.Load(model, weights, allowFreshClassifier: false);
                if (quantize is not null) Nf4Quantizer.Quantize(model, quantize.DoubleQuant);
                model.eval();
                return new LoadedModel(model, folder, report, RequireVocab(folder, folder), OptionalFile(folder, TokenizerConfig), "classifier");
            }
            catch { model.Dispose(); throw; }
        }
        if (File.Exists(Path.Combine(folder, AdapterConfig))) return await AdapterAsync(hub, folder, progress, quantize, ct).ConfigureAwait(false);
        throw new ModelFormatException($"{folder}: no {Safetensors}, {PytorchBin} or {AdapterConfig}; is this a model folder?");
    }

    static async Task<LoadedModel> AdapterAsync(HubClient hub, string folder, IProgress<DownloadProgress>? progress, Nf4Options? quantize, CancellationToken ct)
    {
        var adapterConfigPath = Path.Combine(folder, AdapterConfig);
        var lora = LoraConfig.Load(adapterConfigPath);
        var adapterPath = Path.Combine(folder, AdapterWeights);
        if (!File.Exists(adapterPath)) throw new ModelFormatException($"{folder}: {AdapterConfig} present but {AdapterWeights} is missing.");
        var baseName = lora.BaseModelNameOrPath ?? throw new ModelFormatException($"{adapterConfigPath}: base_model_name_or_path is not set.");
        // A relative base path is taken relative to the adapter folder first, then the working directory.
        var relative = Path.Combine(folder, baseName);
        var baseFolder = Directory.Exists(relative) && !Path.IsPathRooted(baseName)
            ? Path.GetFullPath(relative)
            : await ResolveBaseAsync(hub, baseName, fromScratch: false, progress, ct).ConfigureAwait(false);

        var adapter = SafetensorsFile.Read(adapterPath);
        try
        {
            var classifierKey = ModelExport.PeftPrefix + "classifier.weight";
            var numLabels = adapter.FirstOrDefault(kv => kv.Key.EndsWith("classifier.weight", StringComparison.Ordinal)).Value?.shape[0]
                            ?? throw new ModelFormatException($"{adapterPath}: no classifier tensor ({classifierKey}); the classifier must be saved with the adapter.");
            var ownConfig = Path.Combine(folder, Config);
            var labelSource = File.Exists(ownConfig) ? BertConfig.Load(ownConfig) : BertConfig.Load(Path.Combine(baseFolder, Config));
            IReadOnlyList<string> labels = labelSource.Id2Label is { Count: > 0 } && labelSource.NumLabels == numLabels
                ? labelSource.Labels
                : numLabels == 2 ? SentimentLabels : Enumerable.Range(0, (int)numLabels).Select(i => $"LABEL_{i}").ToArray();

            var loaded = ForTraining(baseFolder, labels, lora, fromScratch: false, quantize);
            try
            {
                ModelExport.LoadAdapter(loaded.Model, adapter, adapterPath);
                loaded.Model.eval();
                var vocab = OptionalFile(folder, Vocab) ?? loaded.VocabPath;
                return loaded with { Folder = folder, VocabPath = vocab, TokenizerConfigPath = OptionalFile(folder, TokenizerConfig) ?? loaded.TokenizerConfigPath, Kind = "adapter" };
            }
            catch { loaded.Model.Dispose(); throw; }
        }
        finally
        {
            foreach (var t in adapter.Values) t.Dispose();
        }
    }

    static string RequireVocab(string folder, string fallback) =>
        OptionalFile(folder, Vocab) ?? OptionalFile(fallback, Vocab) ?? throw new ModelFormatException($"{folder}: no {Vocab}; the tokenizer needs the model's WordPiece vocabulary.");

    static string? OptionalFile(string folder, string name) => Path.Combine(folder, name) is var p && File.Exists(p) ? p : null;
}
