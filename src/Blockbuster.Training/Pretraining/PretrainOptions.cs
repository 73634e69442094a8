using System.Text.Json.Serialization;

namespace Blockbuster.Training.Pretraining;

/// <summary>
/// Everything <c>blockbuster pretrain</c> takes: masked-language-model pretraining as transformers'
/// run_mlm.py does it (texts concatenated and cut into blocks, 15% of tokens chosen: 80% [MASK], 10% random,
/// 10% unchanged, drawn afresh each epoch). Serialised as <c>pretrain_args.json</c>.
/// </summary>
public sealed record PretrainOptions
{
    /// <summary>Unlabelled CSVs (a text column); every non-empty text is used.</summary>
    [JsonPropertyName("data")] public string[] Data { get; init; } = [];
    /// <summary>A split.json written by train: the training reviews of its CSV are added, never the held-out ones.</summary>
    [JsonPropertyName("train_split")] public string? TrainSplit { get; init; }
    [JsonPropertyName("text_column")] public string TextColumn { get; init; } = "review";
    /// <summary>utf-8 (strict) or latin1, for --data.</summary>
    [JsonPropertyName("encoding")] public string Encoding { get; init; } = Blockbuster.Training.Data.TextEncoding.Utf8;
    [JsonPropertyName("model")] public string Model { get; init; } = "prajjwal1/bert-tiny";
    [JsonPropertyName("from_scratch")] public bool FromScratch { get; init; }
    [JsonPropertyName("output")] public string Output { get; init; } = "./blockbuster-mlm";
    [JsonPropertyName("overwrite")] public bool Overwrite { get; init; }
    [JsonPropertyName("resume")] public bool Resume { get; init; }
    [JsonPropertyName("max_length")] public int MaxLength { get; init; } = 128;
    [JsonPropertyName("mlm_probability")] public double MlmProbability { get; init; } = 0.15;
    /// <summary>Words of its block's first text each [CLS] predicts beside the masked tokens (0: plain masked LM).</summary>
    [JsonPropertyName("cls_words")] public int ClsWords { get; init; }
    /// <summary>A pretrained BERT (same vocabulary) whose hidden states the student also learns (TinyBERT's general distillation); null: masked LM only.</summary>
    [JsonPropertyName("teacher")] public string? Teacher { get; init; }
    /// <summary>Weight of the distillation loss (hidden-state MSE + [CLS] cosine) beside the masked-LM loss.</summary>
    [JsonPropertyName("teacher_weight")] public double TeacherWeight { get; init; } = 1.0;
    [JsonPropertyName("epochs")] public int Epochs { get; init; } = 10;
    [JsonPropertyName("batch_size")] public int BatchSize { get; init; } = 128;
    [JsonPropertyName("learning_rate")] public double LearningRate { get; init; } = 1e-3;
    [JsonPropertyName("warmup_ratio")] public double WarmupRatio { get; init; } = 0.05;
    [JsonPropertyName("weight_decay")] public double WeightDecay { get; init; } = 0.01;
    [JsonPropertyName("max_grad_norm")] public double MaxGradNorm { get; init; } = 1.0;
    /// <summary>Blocks held out for the masked-token loss and accuracy report.</summary>
    [JsonPropertyName("held_out_blocks")] public int HeldOutBlocks { get; init; } = 1000;
    [JsonPropertyName("save_steps")] public int SaveSteps { get; init; } = 500;
    [JsonPropertyName("seed")] public int Seed { get; init; } = 42;
    [JsonPropertyName("limit")] public int? Limit { get; init; }
    [JsonPropertyName("precision")] public string Precision { get; init; } = "auto";
    [JsonPropertyName("device")] public string Device { get; init; } = "auto";
    [JsonPropertyName("threads")] public int Threads { get; init; }

    public void Validate()
    {
        void Check(bool ok, string option, string problem) { if (!ok) throw new Blockbuster.Model.UsageException(option, problem); }
        Check(Data.Length > 0 || TrainSplit is not null, "data", "(a CSV, repeatable) or `train_split` (a split.json) must give the text to pretrain on.");
        Check(MaxLength is >= 8 and <= 8192, "max_length", $"must be between 8 and 8192, got {MaxLength}.");
        Check(MlmProbability is > 0 and < 1, "mlm_probability", $"must be between 0 and 1, got {MlmProbability}.");
        Check(ClsWords is >= 0 and <= 64, "cls_words", $"must be between 0 and 64, got {ClsWords}.");
        Check(TeacherWeight > 0, "teacher_weight", $"must be positive, got {TeacherWeight}.");
        Check(Epochs > 0, "epochs", $"must be positive, got {Epochs}.");
        Check(BatchSize > 0, "batch_size", $"must be positive, got {BatchSize}.");
        Check(LearningRate > 0, "learning_rate", $"must be positive, got {LearningRate}.");
        Check(WarmupRatio is >= 0 and < 1, "warmup_ratio", $"must be in [0, 1), got {WarmupRatio}.");
        Check(WeightDecay >= 0, "weight_decay", $"must not be negative, got {WeightDecay}.");
        Check(MaxGradNorm > 0, "max_grad_norm", $"must be positive, got {MaxGradNorm}.");
        Check(HeldOutBlocks >= 0, "held_out_blocks", $"must not be negative, got {HeldOutBlocks}.");
        Check(SaveSteps > 0, "save_steps", $"must be positive, got {SaveSteps}.");
        Check(Limit is null or > 0, "limit", $"must be positive, got {Limit}.");
        Check(Precision is "auto" or "fp32" or "bf16" or "fp16", "precision", $"must be auto, fp32, bf16 or fp16, got '{Precision}'.");
        Check(Device is "auto" or "cpu" or "cuda", "device", $"must be auto, cpu or cuda, got '{Device}'.");
        Check(!(Overwrite && Resume), "overwrite", "cannot be combined with `resume`.");
        Blockbuster.Training.Data.TextEncoding.Get(Encoding);
    }
}
