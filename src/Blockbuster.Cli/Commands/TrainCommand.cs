using System.CommandLine;
using Blockbuster.Cli.Rendering;
using Blockbuster.Model.Hub;
using Blockbuster.Training;

namespace Blockbuster.Cli.Commands;

/// <summary><c>blockbuster train</c>: parse → <see cref="TrainingOptions"/> → <see cref="Trainer"/> → render.</summary>
public static class TrainCommand
{
    static readonly TrainingOptions Defaults = new();

    internal static readonly Option<string?> Data = new("--data") { Description = "labelled CSV of reviews (header review,sentiment); required unless --resume" };
    /// <summary>distill's --data: the teacher's split names the data; given, it must be that very file.</summary>
    internal static readonly Option<string?> OptionalData = new("--data") { Description = "the teacher's labelled CSV (default: the one its split.json names; any other file is refused)" };
    internal static readonly Option<string> Model = new("--model") { Description = "base model: Hugging Face repo id or local folder", DefaultValueFactory = _ => Defaults.Model };
    internal static readonly Option<string> Output = new("--output", "-o") { Description = "folder to write the trained model to", DefaultValueFactory = _ => Defaults.Output };
    internal static readonly Option<bool> Overwrite = new("--overwrite") { Description = "replace an existing output folder" };
    internal static readonly Option<bool> Resume = new("--resume") { Description = "continue the run saved in --output from its last checkpoint (with its saved options)" };
    internal static readonly Option<double> TestSize = new("--test-size") { Description = "held-out fraction, stratified by label", DefaultValueFactory = _ => Defaults.TestSize };
    internal static readonly Option<int> Seed = new("--seed") { Description = "seed for the split, initialisation, dropout and (unless --data-seed) the batch order", DefaultValueFactory = _ => Defaults.Seed };
    internal static readonly Option<int?> DataSeed = new("--data-seed") { Description = "seed for the batch order alone (default: --seed), as transformers' data_seed: the same split and initial weights, another order" };
    internal static readonly Option<int?> Limit = new("--limit") { Description = "use a stratified subset of N reviews (quick runs)" };
    internal static readonly Option<int> MaxLength = new("--max-length") { Description = "tokens per review, [CLS] and [SEP] included", DefaultValueFactory = _ => Defaults.MaxLength };
    internal static readonly Option<double?> Lr = new("--lr") { Description = $"peak learning rate (default {TrainingOptions.FineTuneLearningRate}; {TrainingOptions.FromScratchLearningRate} with --from-scratch)" };
    internal static readonly Option<double> WeightDecay = new("--weight-decay") { Description = "AdamW weight decay (not on biases and LayerNorm)", DefaultValueFactory = _ => Defaults.WeightDecay };
    internal static readonly Option<double?> WarmupRatio = new("--warmup-ratio") { Description = $"fraction of steps for linear warmup (default 0; {TrainingOptions.FromScratchWarmupRatio} with --from-scratch)" };
    internal static readonly Option<int> Epochs = new("--epochs") { Description = "passes over the training reviews", DefaultValueFactory = _ => Defaults.Epochs };
    internal static readonly Option<int> BatchSize = new("--batch-size") { Description = "reviews per micro-batch", DefaultValueFactory = _ => Defaults.BatchSize };
    internal static readonly Option<int> GradientAccumulation = new("--gradient-accumulation") { Description = "micro-batches per optimizer step", DefaultValueFactory = _ => Defaults.GradientAccumulation };
    internal static readonly Option<double> MaxGradNorm = new("--max-grad-norm") { Description = "gradient clipping norm", DefaultValueFactory = _ => Defaults.MaxGradNorm };
    internal static readonly Option<int> EvalBatchSize = new("--eval-batch-size") { Description = "reviews per held-out evaluation batch; two workers take one each (small batches keep the recipe under 2 GB at the same speed)", DefaultValueFactory = _ => Defaults.EvalBatchSize };
    internal static readonly Option<int> LoraR = new("--lora-r") { Description = "LoRA rank", DefaultValueFactory = _ => Defaults.LoraR };
    internal static readonly Option<double> LoraAlpha = new("--lora-alpha") { Description = "LoRA alpha (scaling = alpha / r)", DefaultValueFactory = _ => Defaults.LoraAlpha };
    internal static readonly Option<double> LoraDropout = new("--lora-dropout") { Description = "dropout on the LoRA input", DefaultValueFactory = _ => Defaults.LoraDropout };
    internal static readonly Option<string[]> LoraTargets = new("--lora-targets")
    {
        Description = "linear layers to adapt: query, key, value, dense (comma-separated or repeated)",
        DefaultValueFactory = _ => Defaults.LoraTargets,
        AllowMultipleArgumentsPerToken = true,
        CustomParser = r => r.Tokens.SelectMany(t => t.Value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).ToArray(),
    };
    internal static readonly Option<bool> FullFinetune = new("--full-finetune") { Description = "train every weight instead of LoRA adapters" };
    internal static readonly Option<bool> FromScratch = new("--from-scratch") { Description = "start from random weights built from the model's config.json (BERT init); defaults become lr 1e-3 with 10% warmup" };
    internal static readonly Option<int> SaveSteps = new("--save-steps") { Description = "write a checkpoint every N optimizer steps (and at each epoch's end); --resume continues from the newest", DefaultValueFactory = _ => Defaults.SaveSteps };
    internal static readonly Option<double> SaveMinutes = new("--save-minutes") { Description = "also write one when this many minutes passed since the last", DefaultValueFactory = _ => Defaults.SaveMinutes };
    internal static readonly Option<bool> KeepBest = new("--keep-best") { Description = "the output keeps the epoch with the best held-out --best-metric, not the last (transformers' load_best_model_at_end)" };
    internal static readonly Option<string> BestMetric = new Option<string>("--best-metric") { Description = "metric --keep-best compares", DefaultValueFactory = _ => Defaults.BestMetric }.AcceptOnlyFromAmong("accuracy", "f1", "loss");
    internal static readonly Option<string> Truncation = CommonOptions.Truncation("head");
    internal static readonly Option<string?> Quantize = CommonOptions.Quantize();
    internal static readonly Option<bool> DoubleQuant = CommonOptions.DoubleQuant();
    internal static readonly Option<string> Precision = CommonOptions.Precision();
    internal static readonly Option<string> Device = CommonOptions.Device();
    internal static readonly Option<int> Threads = CommonOptions.Threads();
    internal static readonly Option<string> TextColumn = CommonOptions.TextColumn();
    internal static readonly Option<string> LabelColumn = CommonOptions.LabelColumn();
    internal static readonly Option<bool> SkipInvalidRows = CommonOptions.SkipInvalidRows();
    internal static readonly Option<string> Encoding = CommonOptions.Encoding();

    public static Command Create()
    {
        var command = new Command("train", """
            Fine-tune a BERT sentiment classifier on labelled reviews (LoRA by default).

            Examples:
              blockbuster train --data imdb.csv
              blockbuster train --data ../shared/data/imdb.csv --model ../shared/models/bert-tiny --from-scratch --full-finetune
              blockbuster train --data imdb.csv --limit 2000 --epochs 1 --output ./quick-model --overwrite
              blockbuster train --output ./blockbuster-model --resume
            """);
        foreach (var option in SharedOptions) command.Options.Add(option);
        command.Validators.Add(result =>
        {
            if (result.GetValue(Data) is null && !result.GetValue(Resume)) result.AddError("Option '--data' is required (unless --resume continues a saved run).");
        });
        command.SetAction(RunAsync);
        return command;
    }

    /// <summary>train's options, which distill takes too.</summary>
    internal static Option[] SharedOptions =>
    [
        Data, Model, Output, Overwrite, Resume, TestSize, Seed, DataSeed, Limit, MaxLength, Lr, WeightDecay, WarmupRatio,
        Epochs, BatchSize, GradientAccumulation, MaxGradNorm, EvalBatchSize, LoraR, LoraAlpha, LoraDropout, LoraTargets,
        FullFinetune, FromScratch, SaveSteps, SaveMinutes, KeepBest, BestMetric, Truncation, Quantize, DoubleQuant, Precision, Device, Threads,
        TextColumn, LabelColumn, SkipInvalidRows, Encoding,
    ];

    public static TrainingOptions ToOptions(ParseResult p) => ToOptions(p, Data);

    internal static TrainingOptions ToOptions(ParseResult p, Option<string?> data) => new()
    {
        Data = p.GetValue(data) ?? "", Model = p.GetValue(Model)!, Output = p.GetValue(Output)!, Overwrite = p.GetValue(Overwrite),
        Resume = p.GetValue(Resume), TestSize = p.GetValue(TestSize), Seed = p.GetValue(Seed), DataSeed = p.GetValue(DataSeed), Limit = p.GetValue(Limit),
        MaxLength = p.GetValue(MaxLength), LearningRate = p.GetValue(Lr), WeightDecay = p.GetValue(WeightDecay),
        WarmupRatio = p.GetValue(WarmupRatio), Epochs = p.GetValue(Epochs), BatchSize = p.GetValue(BatchSize),
        GradientAccumulation = p.GetValue(GradientAccumulation), MaxGradNorm = p.GetValue(MaxGradNorm), EvalBatchSize = p.GetValue(EvalBatchSize),
        LoraR = p.GetValue(LoraR), LoraAlpha = p.GetValue(LoraAlpha), LoraDropout = p.GetValue(LoraDropout), LoraTargets = p.GetValue(LoraTargets)!,
        FullFinetune = p.GetValue(FullFinetune), FromScratch = p.GetValue(FromScratch), Precision = p.GetValue(Precision)!,
        Device = p.GetValue(Device)!, Threads = p.GetValue(Threads), TextColumn = p.GetValue(TextColumn)!,
        LabelColumn = p.GetValue(LabelColumn)!, SkipInvalidRows = p.GetValue(SkipInvalidRows), Encoding = p.GetValue(Encoding)!,
        SaveSteps = p.GetValue(SaveSteps), SaveMinutes = p.GetValue(SaveMinutes), KeepBest = p.GetValue(KeepBest), BestMetric = p.GetValue(BestMetric)!,
        Truncation = p.GetValue(Truncation)!, Quantize = p.GetValue(Quantize), DoubleQuant = p.GetValue(DoubleQuant),
    };

    static Task<int> RunAsync(ParseResult parse, CancellationToken cancellationToken) => CliErrors.RunAsync("train", async () =>
    {
        var options = ToOptions(parse);
        using var view = new TrainingView();
        var result = await Trainer.RunAsync(options, new HubClient(HubOptions.FromEnvironment()), new SyncProgress<TrainingEvent>(view.Handle), cancellationToken).ConfigureAwait(false);
        view.Finish(result);
        return result.Interrupted ? CliApp.Interrupted : CliApp.Success;
    });
}
