using System.Text.Json;
using System.Text.Json.Nodes;
using Blockbuster.Model;
using Blockbuster.Model.Checkpoints;
using Blockbuster.Model.Lora;
using Blockbuster.Training.Evaluation;
using static TorchSharp.torch;

namespace Blockbuster.Training;

/// <summary>
/// Writes the <c>--output</c> folder as one unit: everything goes into a temporary sibling folder,
/// which then replaces the old one by rename, so an interrupted write never leaves a half folder.
/// Contents: a transformers-loadable classifier (config.json + model.safetensors, LoRA merged), the PEFT
/// adapter in adapter/ (adapter_config.json + adapter_model.safetensors + tokenizer), tokenizer files, training_args.json,
/// split.json, metrics.json, training_log.jsonl, training_curves.png and the resume checkpoint.
/// </summary>
public static class OutputFolder
{
    public const string MetricsFile = "metrics.json";
    public const string LogFile = "training_log.jsonl";
    public const string ArgsFile = "training_args.json";
    public const string CurvesFile = "training_curves.png";
    public const string AdapterFolder = "adapter";
    public const string QuantizedBaseFolder = "base-nf4";

    static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    /// <summary>What one save writes.</summary>
    /// <param name="ExportedMerged">the weights to export (the best epoch's with --keep-best); null: the model's current ones</param>
    /// <param name="ExportedAdapter">the adapter to export alongside <paramref name="ExportedMerged"/></param>
    /// <param name="WritesAdapter">whether the folder gets a PEFT adapter (LoRA on a pretrained base)</param>
    /// <param name="ExtraCheckpointFiles">more state dicts for checkpoint/ (the best epoch's weights)</param>
    /// <param name="ExtraFiles">more state dicts beside the model (the teacher's cached logits)</param>
    public sealed record Snapshot(
        BertForSequenceClassification Model, TrainingOptions Options, string BaseFolder, string BaseModelName,
        SplitRecord Split, IReadOnlyList<string> LogLines, TrainerState State, JsonObject? Metrics,
        TorchSharp.Modules.OptimizerHelper Optimizer, IReadOnlyDictionary<string, Tensor>? ExportedMerged = null,
        IReadOnlyDictionary<string, Tensor>? ExportedAdapter = null, bool WritesAdapter = false,
        IReadOnlyDictionary<string, IReadOnlyDictionary<string, Tensor>>? ExtraCheckpointFiles = null,
        IReadOnlyDictionary<string, IReadOnlyDictionary<string, Tensor>>? ExtraFiles = null);

    /// <summary>Refuses to start when the output exists and would be replaced without --overwrite.</summary>
    public static void CheckWritable(string output, bool overwrite, bool resume)
    {
        if (File.Exists(output)) throw new IOException($"`output` {output} is a file, not a folder.");
        bool hasContent = Directory.Exists(output) && Directory.EnumerateFileSystemEntries(output).Any();
        if (resume)
        {
            if (!File.Exists(Path.Combine(output, TrainerState.Folder, TrainerState.FileName)) && !File.Exists(ScoringCheckpoint.PathIn(output)))
                throw new IOException($"nothing to resume in {output}: no {TrainerState.Folder}/{TrainerState.FileName}.");
        }
        else if (hasContent && !overwrite)
        {
            throw new IOException($"output folder {output} already exists; pass `overwrite` to replace it or `resume` to continue it.");
        }
    }

    public static void Write(string output, Snapshot s) => AtomicFolder.Write(output, folder => WriteContents(folder, s));

    static void WriteContents(string folder, Snapshot s)
    {
        using var scope = NewDisposeScope();
        s.Model.Config.Save(Path.Combine(folder, ModelFolder.Config));
        SafetensorsFile.Write(Path.Combine(folder, ModelFolder.Safetensors), s.ExportedMerged ?? ModelExport.MergedStateDict(s.Model));
        WriteTokenizer(folder, s);
        if (s.WritesAdapter && s.Model.LoraConfig is { } lora)
        {
            // In a folder of its own: transformers treats a folder holding adapter_config.json as an adapter
            // and would apply it on top of the merged weights (seen with transformers 5.17 + PEFT 0.21).
            var adapter = Path.Combine(folder, AdapterFolder);
            Directory.CreateDirectory(adapter);
            (lora with { BaseModelNameOrPath = s.BaseModelName, InferenceMode = true }).Save(Path.Combine(adapter, ModelFolder.AdapterConfig));
            SafetensorsFile.Write(Path.Combine(adapter, ModelFolder.AdapterWeights), s.ExportedAdapter ?? ModelExport.AdapterStateDict(s.Model));
            WriteTokenizer(adapter, s);
        }

        if (s.Model.modules().OfType<Model.Quantization.Linear4bit>().Any()) WriteQuantizedBase(Path.Combine(folder, QuantizedBaseFolder), s);
        WriteRunFiles(folder, s.Options, s.Split);
        File.WriteAllLines(Path.Combine(folder, LogFile), s.LogLines);
        if (s.Metrics is not null) File.WriteAllText(Path.Combine(folder, MetricsFile), s.Metrics.ToJsonString(Indented));
        if (s.LogLines.Count > 0)
            CurvePlot.Save(Path.Combine(folder, CurvesFile), s.LogLines, training: s.Options.Distills ? "training loss, distillation + cross-entropy" : "training loss",
                           lossAxis: s.Options.Distills ? "loss (α·T²·KL + (1 − α)·cross-entropy)" : "cross-entropy loss");
        ModelCard.Write(Path.Combine(folder, ModelCard.FileName), s);
        foreach (var (file, tensors) in s.ExtraFiles ?? new Dictionary<string, IReadOnlyDictionary<string, Tensor>>())
            SafetensorsFile.Write(Path.Combine(folder, file), tensors);

        var checkpoint = Path.Combine(folder, TrainerState.Folder);
        TrainingCheckpoint.Write(checkpoint, s.State, s.Model.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value), s.Optimizer);
        foreach (var (file, tensors) in s.ExtraCheckpointFiles ?? new Dictionary<string, IReadOnlyDictionary<string, Tensor>>())
            SafetensorsFile.Write(Path.Combine(checkpoint, file), tensors);
    }

    /// <summary>What says which run a folder holds, and lets --resume continue it: its options and its split.</summary>
    public static void WriteRunFiles(string folder, TrainingOptions options, SplitRecord split)
    {
        File.WriteAllText(Path.Combine(folder, ArgsFile), JsonSerializer.Serialize(TrainingArgsJson(options), Indented));
        File.WriteAllText(Path.Combine(folder, SplitRecord.FileName), split.ToJson());
    }

    /// <summary>
    /// The frozen base exactly as it was quantised, as bitsandbytes serialises a 4-bit BertModel: it loads back
    /// bit-identical as a base for train and for the adapter (<c>--model DIR/base-nf4</c>).
    /// </summary>
    static void WriteQuantizedBase(string folder, Snapshot s)
    {
        Directory.CreateDirectory(folder);
        var extra = new Dictionary<string, JsonElement>(s.Model.Config.Extra ?? [])
        {
            ["quantization_config"] = JsonSerializer.SerializeToElement(Model.Quantization.Nf4Checkpoint.QuantizationConfig(s.Options.DoubleQuant,
                s.Options.Precision is "fp32" ? "float32" : s.Options.Precision is "fp16" ? "float16" : "bfloat16")),
        };
        (s.Model.Config with { Architectures = ["BertModel"], Id2Label = null, Label2Id = null, Extra = extra }).Save(Path.Combine(folder, ModelFolder.Config));
        SafetensorsFile.Write(Path.Combine(folder, ModelFolder.Safetensors), Model.Quantization.Nf4Checkpoint.BaseStateDict(s.Model.bert));
        WriteTokenizer(folder, s);
    }

    static void WriteTokenizer(string folder, Snapshot s)
    {
        // Copied by content, not File.Copy: that would keep a read-only mode from a read-only source.
        File.WriteAllBytes(Path.Combine(folder, ModelFolder.Vocab), File.ReadAllBytes(Path.Combine(s.BaseFolder, ModelFolder.Vocab)));
        var tokenizerConfig = Path.Combine(s.BaseFolder, ModelFolder.TokenizerConfig);
        if (File.Exists(tokenizerConfig)) File.WriteAllBytes(Path.Combine(folder, ModelFolder.TokenizerConfig), File.ReadAllBytes(tokenizerConfig));
        else File.WriteAllText(Path.Combine(folder, ModelFolder.TokenizerConfig), DefaultTokenizerConfig(s.Options.MaxLength));
    }

    /// <summary>Loads model weights, optimizer state and RNG state saved by <see cref="Write"/>.</summary>
    public static TrainerState Restore(string output, BertForSequenceClassification model, TorchSharp.Modules.OptimizerHelper optimizer) =>
        TrainingCheckpoint.Restore(Path.Combine(output, TrainerState.Folder), model, optimizer);

    public static Dictionary<string, object?> TrainingArgsJson(TrainingOptions o)
    {
        var json = JsonSerializer.SerializeToNode(o)!.AsObject();
        json["learning_rate"] = o.EffectiveLearningRate;
        json["warmup_ratio"] = o.EffectiveWarmupRatio;
        return json.ToDictionary(kv => kv.Key, kv => (object?)kv.Value?.DeepClone());
    }

    static string DefaultTokenizerConfig(int maxLength) => JsonSerializer.Serialize(new Dictionary<string, object?>
    {
        ["do_lower_case"] = true, ["tokenize_chinese_chars"] = true, ["strip_accents"] = null, ["model_max_length"] = maxLength,
        ["cls_token"] = "[CLS]", ["sep_token"] = "[SEP]", ["pad_token"] = "[PAD]", ["unk_token"] = "[UNK]", ["mask_token"] = "[MASK]",
        ["tokenizer_class"] = "BertTokenizer",
    }, Indented);
}
