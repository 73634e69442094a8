using System.Text.Json;
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

    static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    public sealed record Snapshot(
        BertForSequenceClassification Model, TrainingOptions Options, string BaseFolder, string BaseModelName,
        SplitRecord Split, IReadOnlyList<string> LogLines, TrainerState State, object? Metrics,
        TorchSharp.Modules.OptimizerHelper Optimizer);

    /// <summary>Refuses to start when the output exists and would be replaced without --overwrite.</summary>
    public static void CheckWritable(string output, bool overwrite, bool resume)
    {
        if (File.Exists(output)) throw new IOException($"--output {output} is a file, not a folder.");
        bool hasContent = Directory.Exists(output) && Directory.EnumerateFileSystemEntries(output).Any();
        if (resume)
        {
            if (!File.Exists(Path.Combine(output, TrainerState.Folder, TrainerState.FileName)))
                throw new IOException($"nothing to resume in {output}: no {TrainerState.Folder}/{TrainerState.FileName}.");
        }
        else if (hasContent && !overwrite)
        {
            throw new IOException($"output folder {output} already exists; pass --overwrite to replace it or --resume to continue it.");
        }
    }

    public static void Write(string output, Snapshot s)
    {
        var full = Path.GetFullPath(output);
        var parent = Path.GetDirectoryName(full)!;
        Directory.CreateDirectory(parent);
        var temp = Path.Combine(parent, $".{Path.GetFileName(full)}.tmp-{Guid.NewGuid():N}");
        Directory.CreateDirectory(temp);
        try
        {
            WriteContents(temp, s);
            Swap(temp, full);
        }
        finally
        {
            if (Directory.Exists(temp)) Directory.Delete(temp, recursive: true);
        }
    }

    static void WriteContents(string folder, Snapshot s)
    {
        using var scope = NewDisposeScope();
        s.Model.Config.Save(Path.Combine(folder, ModelFolder.Config));
        SafetensorsFile.Write(Path.Combine(folder, ModelFolder.Safetensors), ModelExport.MergedStateDict(s.Model));
        WriteTokenizer(folder, s);
        // From scratch there is no checkpoint for an adapter to sit on (the base weights were random), so
        // only the merged model is written.
        if (s.Model.LoraConfig is { } lora && !s.Options.FromScratch)
        {
            // In a folder of its own: transformers treats a folder holding adapter_config.json as an adapter
            // and would apply it on top of the merged weights (seen with transformers 5.17 + PEFT 0.21).
            var adapter = Path.Combine(folder, AdapterFolder);
            Directory.CreateDirectory(adapter);
            (lora with { BaseModelNameOrPath = s.BaseModelName, InferenceMode = true }).Save(Path.Combine(adapter, ModelFolder.AdapterConfig));
            SafetensorsFile.Write(Path.Combine(adapter, ModelFolder.AdapterWeights), ModelExport.AdapterStateDict(s.Model));
            WriteTokenizer(adapter, s);
        }

        File.WriteAllText(Path.Combine(folder, ArgsFile), JsonSerializer.Serialize(TrainingArgsJson(s.Options), Indented));
        File.WriteAllText(Path.Combine(folder, SplitRecord.FileName), s.Split.ToJson());
        File.WriteAllLines(Path.Combine(folder, LogFile), s.LogLines);
        if (s.Metrics is not null) File.WriteAllText(Path.Combine(folder, MetricsFile), JsonSerializer.Serialize(s.Metrics, Indented));
        if (s.LogLines.Count > 0) CurvePlot.Save(Path.Combine(folder, CurvesFile), s.LogLines);

        var checkpoint = Path.Combine(folder, TrainerState.Folder);
        Directory.CreateDirectory(checkpoint);
        File.WriteAllText(Path.Combine(checkpoint, TrainerState.FileName), s.State.ToJson());
        SafetensorsFile.Write(Path.Combine(checkpoint, TrainerState.ModelStateFile),
            s.Model.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value));
        using (var writer = new BinaryWriter(File.Create(Path.Combine(checkpoint, TrainerState.OptimizerFile))))
            s.Optimizer.save_state_dict(writer);
        SafetensorsFile.Write(Path.Combine(checkpoint, TrainerState.RngFile), new Dictionary<string, Tensor> { ["cpu"] = random.get_rng_state() });
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
    public static TrainerState Restore(string output, BertForSequenceClassification model, TorchSharp.Modules.OptimizerHelper optimizer)
    {
        var checkpoint = Path.Combine(output, TrainerState.Folder);
        var state = TrainerState.Load(Path.Combine(checkpoint, TrainerState.FileName));
        var weights = SafetensorsFile.Read(Path.Combine(checkpoint, TrainerState.ModelStateFile));
        try
        {
            var targets = model.state_dict();
            foreach (var key in targets.Keys)
                if (!weights.ContainsKey(key)) throw new ModelFormatException($"{checkpoint}: checkpoint lacks '{key}'; was it written by a run with other options?");
            using (no_grad())
                foreach (var (key, target) in targets) target.copy_(weights[key]);
        }
        finally
        {
            foreach (var t in weights.Values) t.Dispose();
        }
        using (var reader = new BinaryReader(File.OpenRead(Path.Combine(checkpoint, TrainerState.OptimizerFile))))
            optimizer.load_state_dict(reader);
        var rng = SafetensorsFile.Read(Path.Combine(checkpoint, TrainerState.RngFile));
        random.set_rng_state(rng["cpu"]);
        rng["cpu"].Dispose();
        return state;
    }

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

    static void Swap(string temp, string output)
    {
        if (!Directory.Exists(output))
        {
            Directory.Move(temp, output);
            return;
        }
        var old = Path.Combine(Path.GetDirectoryName(output)!, $".{Path.GetFileName(output)}.old-{Guid.NewGuid():N}");
        Directory.Move(output, old);
        try
        {
            Directory.Move(temp, output);
        }
        catch
        {
            Directory.Move(old, output);
            throw;
        }
        Directory.Delete(old, recursive: true);
    }
}
