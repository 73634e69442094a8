using System.Text.Json;
using Blockbuster.Model;
using Blockbuster.Model.Checkpoints;
using static TorchSharp.torch;

namespace Blockbuster.Training.Pretraining;

/// <summary>
/// The <c>pretrain</c> output: a Hugging Face <c>BertForMaskedLM</c> folder (config.json, model.safetensors
/// without the tied decoder weight, as transformers saves it, vocab.txt, tokenizer_config.json) plus
/// pretrain_args.json, training_log.jsonl, mlm_metrics.json, training_curves.png and checkpoint/ for
/// --resume. Written as one unit (<see cref="AtomicFolder"/>).
/// </summary>
public static class MlmOutputFolder
{
    public const string ArgsFile = "pretrain_args.json";
    public const string MetricsFile = "mlm_metrics.json";

    static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    public sealed record Snapshot(BertForMaskedLM Model, PretrainOptions Options, string BaseFolder, IReadOnlyList<string> LogLines,
                                  TrainerState State, object? Metrics, TorchSharp.Modules.OptimizerHelper Optimizer,
                                  HiddenStateDistillation? Distillation = null);

    /// <summary>The checkpoint's prefix for the distillation maps' weights (not part of the model folder).</summary>
    public const string DistillationPrefix = "distillation.";

    public static void Write(string output, Snapshot s) => AtomicFolder.Write(output, folder =>
    {
        using var scope = NewDisposeScope();
        (s.Model.Config with { Architectures = ["BertForMaskedLM"] }).Save(Path.Combine(folder, ModelFolder.Config));
        var weights = s.Model.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value);
        // A pooler the student grew to learn a classifier teacher's predictions goes with the model, under transformers' keys
        // (BertForMaskedLM leaves them unused, a sequence classifier loads them), as in Google's BERT checkpoints.
        var folderWeights = new Dictionary<string, Tensor>(weights);
        if (s.Distillation?.pooler is { } pooler)
            foreach (var (key, value) in pooler.state_dict()) folderWeights["bert.pooler." + key] = value;
        SafetensorsFile.Write(Path.Combine(folder, ModelFolder.Safetensors), folderWeights);
        File.WriteAllBytes(Path.Combine(folder, ModelFolder.Vocab), File.ReadAllBytes(Path.Combine(s.BaseFolder, ModelFolder.Vocab)));
        var tokenizerConfig = Path.Combine(s.BaseFolder, ModelFolder.TokenizerConfig);
        if (File.Exists(tokenizerConfig)) File.WriteAllBytes(Path.Combine(folder, ModelFolder.TokenizerConfig), File.ReadAllBytes(tokenizerConfig));
        File.WriteAllText(Path.Combine(folder, ArgsFile), JsonSerializer.Serialize(s.Options, Indented));
        File.WriteAllLines(Path.Combine(folder, OutputFolder.LogFile), s.LogLines);
        if (s.Metrics is not null) File.WriteAllText(Path.Combine(folder, MetricsFile), JsonSerializer.Serialize(s.Metrics, Indented));
        if (s.LogLines.Count > 0)
        {
            // The per-step loss is over every objective of the run; the held-out points are masked tokens alone.
            var objectives = new List<string>();
            if (s.Options.ClsWords > 0) objectives.Add("masked tokens + [CLS] words");
            if (s.Options.Teacher is not null) objectives.Add(s.Options.ClsWords > 0 ? "distillation" : "masked LM + distillation");
            CurvePlot.Save(Path.Combine(folder, OutputFolder.CurvesFile), s.LogLines, "held-out masked-token",
                           objectives.Count == 0 ? "training loss" : "training loss, " + string.Join(" + ", objectives),
                           s.Options.Teacher is null ? "cross-entropy loss" : "loss (cross-entropy + distillation)");
        }
        var checkpointWeights = new Dictionary<string, Tensor>(weights);
        if (s.Distillation is not null)
            foreach (var (key, value) in s.Distillation.state_dict()) checkpointWeights[DistillationPrefix + key] = value;
        TrainingCheckpoint.Write(Path.Combine(folder, TrainerState.Folder), s.State, checkpointWeights, s.Optimizer);
    });

    public static PretrainOptions LoadOptions(string output)
    {
        var path = Path.Combine(output, ArgsFile);
        if (!File.Exists(path)) throw new IOException($"nothing to resume in {output}: no {ArgsFile}.");
        return JsonSerializer.Deserialize<PretrainOptions>(File.ReadAllText(path)) ?? throw new IOException($"{path}: empty pretraining arguments.");
    }
}
