using System.Text.Json;
using System.Text.Json.Nodes;
using Blockbuster.Model;
using Blockbuster.Model.Checkpoints;
using Blockbuster.Model.Hub;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Blockbuster.Training;

/// <summary>
/// Fine-tunes a BERT classifier: <see cref="TrainingRun"/> sets the run up, trains it step by step, scores
/// the held-out split after each epoch and checkpoints the output folder. This class is the entry point:
/// it takes the output folder's lock, repairs a save a crash cut short, and resumes or starts the run.
/// </summary>
public static class Trainer
{
    public static async Task<TrainingResult> RunAsync(TrainingOptions options, HubClient hub, IProgress<TrainingEvent>? progress = null,
                                                      CancellationToken cancellationToken = default)
    {
        if (options.Overwrite && options.Resume) throw new UsageException("overwrite", "cannot be combined with `resume`.");
        using var outputLock = OutputLock.Acquire(options.Output, "train");
        AtomicFolder.Recover(options.Output);
        var o = options.Resume ? LoadSavedOptions(options) : options;
        o.Validate();
        OutputFolder.CheckWritable(o.Output, o.Overwrite, o.Resume);
        using var run = await TrainingRun.StartAsync(o, hub, progress, cancellationToken).ConfigureAwait(false);
        return run.Train(cancellationToken);
    }

    /// <summary>
    /// LoRA: only adapter factors, the classifier and any other module saved whole (a pooler a masked-LM
    /// checkpoint lacked) learn; the frozen base computes no weight gradients.
    /// </summary>
    public static List<Parameter> SelectTrainable(BertForSequenceClassification model, bool lora)
    {
        var trainable = new List<Parameter>();
        foreach (var (name, parameter) in model.named_parameters())
        {
            bool train = !lora || CheckpointLoader.IsLoraFactor(name) || name.StartsWith("classifier.", StringComparison.Ordinal)
                         || model.LoraConfig?.SavesWhole(name) == true;
            parameter.requires_grad = train;
            if (train) trainable.Add(parameter);
        }
        return trainable;
    }

    public static AdamW CreateOptimizer(IReadOnlyList<Parameter> trainable, TrainingOptions o) =>
        CreateOptimizer(trainable, o.EffectiveLearningRate, o.WeightDecay);

    /// <summary>AdamW as transformers' Trainer sets it up: no weight decay on biases and LayerNorm weights.</summary>
    public static AdamW CreateOptimizer(IReadOnlyList<Parameter> trainable, double learningRate, double weightDecay)
    {
        var noDecay = new HashSet<Parameter>(ReferenceEqualityComparer.Instance);
        foreach (var p in trainable)
            if (p.dim() == 1) noDecay.Add(p);   // biases and LayerNorm weights are exactly the 1-D parameters here
        var groups = new List<AdamW.ParamGroup>();
        var decay = trainable.Where(p => !noDecay.Contains(p)).ToList();
        var plain = trainable.Where(p => noDecay.Contains(p)).ToList();
        if (decay.Count > 0) groups.Add(new AdamW.ParamGroup(decay, lr: learningRate, beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay: weightDecay));
        if (plain.Count > 0) groups.Add(new AdamW.ParamGroup(plain, lr: learningRate, beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay: 0));
        return optim.AdamW(groups, learningRate);
    }

    /// <summary>--resume continues with the options the run started with; only device and threads may change.</summary>
    static TrainingOptions LoadSavedOptions(TrainingOptions requested)
    {
        OutputFolder.CheckWritable(requested.Output, overwrite: false, resume: true);
        var path = Path.Combine(requested.Output, OutputFolder.ArgsFile);
        var text = File.ReadAllText(path);
        int format = JsonNode.Parse(text)?["blockbuster_format"]?.GetValue<int>() ?? 1;
        if (format > TrainingOptions.CurrentFormat)
            throw new IOException($"{path}: written by a newer Blockbuster (folder format {format}; this one, {BlockbusterVersion.Current}, reads up to {TrainingOptions.CurrentFormat}).");
        var saved = JsonSerializer.Deserialize<TrainingOptions>(text) ?? throw new IOException($"{path}: empty training arguments.");
        return saved with { Output = requested.Output, Resume = true, Overwrite = false, Device = requested.Device, Threads = requested.Threads };
    }
}
