using System.Text.Json.Serialization;

namespace Blockbuster.Training;

/// <summary>
/// Everything <c>blockbuster train</c> takes. Defaults are the original recipe: bert-tiny, stratified
/// 80/20 split with seed 42, max length 512, AdamW (weight decay 0.01), lr 3e-5 with linear decay,
/// 3 epochs, batch 16 × gradient accumulation 2, clipping at 1.0, LoRA r 8 / alpha 16 / dropout 0.1 on
/// query and value. Serialised as <c>training_args.json</c>.
/// </summary>
public sealed record TrainingOptions
{
    /// <summary>The layout of output folders this Blockbuster writes; a later one may read older folders by it.</summary>
    public const int CurrentFormat = 2;

    /// <summary>Written into training_args.json; 1 for folders from before it was recorded.</summary>
    [JsonPropertyName("blockbuster_format")] public int Format { get; init; } = CurrentFormat;   // (missing in format-1 folders)
    [JsonPropertyName("blockbuster_version")] public string? Version { get; init; } = Blockbuster.Model.BlockbusterVersion.Current;
    [JsonPropertyName("data")] public string Data { get; init; } = "";
    [JsonPropertyName("text_column")] public string TextColumn { get; init; } = "review";
    [JsonPropertyName("label_column")] public string LabelColumn { get; init; } = "sentiment";
    [JsonPropertyName("skip_invalid_rows")] public bool SkipInvalidRows { get; init; }
    /// <summary>utf-8 (strict) or latin1.</summary>
    [JsonPropertyName("encoding")] public string Encoding { get; init; } = Blockbuster.Training.Data.TextEncoding.Utf8;
    [JsonPropertyName("model")] public string Model { get; init; } = "prajjwal1/bert-tiny";
    [JsonPropertyName("output")] public string Output { get; init; } = "./blockbuster-model";
    [JsonPropertyName("overwrite")] public bool Overwrite { get; init; }
    [JsonPropertyName("resume")] public bool Resume { get; init; }
    [JsonPropertyName("test_size")] public double TestSize { get; init; } = 0.2;
    [JsonPropertyName("seed")] public int Seed { get; init; } = 42;
    /// <summary>
    /// Seed of the batch order alone (transformers' data_seed); null: <see cref="Seed"/>. Runs that differ only in it share
    /// the split, the initial weights and the teacher's scores, and are diverse ingredients for <c>blockbuster average</c>.
    /// </summary>
    [JsonPropertyName("data_seed")] public int? DataSeed { get; init; }
    [JsonPropertyName("limit")] public int? Limit { get; init; }
    [JsonPropertyName("max_length")] public int MaxLength { get; init; } = 512;
    /// <summary>null: 3e-5, or 1e-3 with --from-scratch.</summary>
    [JsonPropertyName("learning_rate")] public double? LearningRate { get; init; }
    [JsonPropertyName("weight_decay")] public double WeightDecay { get; init; } = 0.01;
    /// <summary>null: 0, or 0.1 with --from-scratch.</summary>
    [JsonPropertyName("warmup_ratio")] public double? WarmupRatio { get; init; }
    [JsonPropertyName("epochs")] public int Epochs { get; init; } = 3;
    [JsonPropertyName("batch_size")] public int BatchSize { get; init; } = 16;
    [JsonPropertyName("gradient_accumulation_steps")] public int GradientAccumulation { get; init; } = 2;
    [JsonPropertyName("max_grad_norm")] public double MaxGradNorm { get; init; } = 1.0;
    [JsonPropertyName("eval_batch_size")] public int EvalBatchSize { get; init; } = 8;
    [JsonPropertyName("lora_r")] public int LoraR { get; init; } = 8;
    [JsonPropertyName("lora_alpha")] public double LoraAlpha { get; init; } = 16;
    [JsonPropertyName("lora_dropout")] public double LoraDropout { get; init; } = 0.1;
    [JsonPropertyName("lora_targets")] public string[] LoraTargets { get; init; } = ["query", "value"];
    [JsonPropertyName("full_finetune")] public bool FullFinetune { get; init; }
    [JsonPropertyName("from_scratch")] public bool FromScratch { get; init; }
    [JsonPropertyName("precision")] public string Precision { get; init; } = "auto";
    [JsonPropertyName("device")] public string Device { get; init; } = "auto";
    [JsonPropertyName("threads")] public int Threads { get; init; }
    /// <summary>Checkpoint every N optimizer steps (and at each epoch's end).</summary>
    [JsonPropertyName("save_steps")] public int SaveSteps { get; init; } = 500;
    /// <summary>Also checkpoint once this many minutes passed since the last save, so a slow run never loses more.</summary>
    [JsonPropertyName("save_minutes")] public double SaveMinutes { get; init; } = 5;
    /// <summary>The output keeps the epoch with the best held-out <see cref="BestMetric"/> (transformers' load_best_model_at_end).</summary>
    [JsonPropertyName("keep_best")] public bool KeepBest { get; init; }
    [JsonPropertyName("metric_for_best_model")] public string BestMetric { get; init; } = "accuracy";
    /// <summary>head, tail or head+tail: which tokens of a long review are kept; eval and predict reuse it.</summary>
    [JsonPropertyName("truncation")] public string Truncation { get; init; } = "head";
    /// <summary>"nf4": QLoRA, the frozen encoder and pooler held in 4 bits (bitsandbytes' load_in_4bit); null: full precision.</summary>
    [JsonPropertyName("quantize")] public string? Quantize { get; init; }
    /// <summary>With nf4: quantise the block absmax values again (bnb_4bit_use_double_quant).</summary>
    [JsonPropertyName("double_quant")] public bool DoubleQuant { get; init; } = true;
    /// <summary>
    /// Knowledge distillation (blockbuster distill): the classifier folders whose soft labels the student learns, their
    /// probabilities averaged when there are several (an ensemble, as Hinton et al. 2015 distil); empty: ordinary training.
    /// </summary>
    [JsonPropertyName("teacher"), JsonConverter(typeof(OneOrManyStrings))] public string[] Teachers { get; init; } = [];

    /// <summary>Whether this run distils (has teachers).</summary>
    [JsonIgnore] public bool Distills => Teachers.Length > 0;
    /// <summary>Unlabelled CSVs (a text column) the student also learns the teacher's soft labels on.</summary>
    [JsonPropertyName("unlabelled")] public string[] Unlabelled { get; init; } = [];
    /// <summary>An earlier distill output whose cached teacher scores (same teachers, split and unlabelled texts) this run reuses.</summary>
    [JsonPropertyName("teacher_scores")] public string? TeacherScores { get; init; }
    /// <summary>Softmax temperature of the distillation loss (Hinton et al. 2015); the KL term is scaled by T².</summary>
    [JsonPropertyName("temperature")] public double Temperature { get; init; } = 2.0;
    /// <summary>Weight of the distillation (KL) term; 1 − alpha weighs the cross-entropy on the true labels.</summary>
    [JsonPropertyName("alpha")] public double Alpha { get; init; } = 0.5;
    /// <summary>
    /// Augmented copies of every text the student learns from, labelled by the teacher only (a random window of the
    /// words, some masked: <see cref="Data.TextAugmentation"/>); 0: the texts as they are.
    /// </summary>
    [JsonPropertyName("augment")] public int Augment { get; init; }

    public const double FineTuneLearningRate = 3e-5;
    public const double FromScratchLearningRate = 1e-3;
    public const double FromScratchWarmupRatio = 0.1;

    [JsonIgnore] public double EffectiveLearningRate => LearningRate ?? (FromScratch ? FromScratchLearningRate : FineTuneLearningRate);
    [JsonIgnore] public int EffectiveDataSeed => DataSeed ?? Seed;
    [JsonIgnore] public double EffectiveWarmupRatio => WarmupRatio ?? (FromScratch ? FromScratchWarmupRatio : 0.0);
    [JsonIgnore] public bool UsesLora => !FullFinetune;
    [JsonIgnore] public Model.Quantization.Nf4Options? Nf4 => Quantize == "nf4" ? new(DoubleQuant) : null;

    public void Validate()
    {
        void Check(bool ok, string option, string problem) { if (!ok) throw new Blockbuster.Model.UsageException(option, problem); }
        Check(TestSize is > 0 and < 1, "test_size", $"must be between 0 and 1, got {TestSize}.");
        Check(MaxLength is >= 8 and <= 8192, "max_length", $"must be between 8 and 8192, got {MaxLength}.");
        Check(EffectiveLearningRate > 0, "learning_rate", $"must be positive, got {EffectiveLearningRate}.");
        Check(WeightDecay >= 0, "weight_decay", $"must not be negative, got {WeightDecay}.");
        Check(EffectiveWarmupRatio is >= 0 and < 1, "warmup_ratio", $"must be in [0, 1), got {EffectiveWarmupRatio}.");
        Check(Epochs > 0, "epochs", $"must be positive, got {Epochs}.");
        Check(BatchSize > 0, "batch_size", $"must be positive, got {BatchSize}.");
        Check(GradientAccumulation > 0, "gradient_accumulation_steps", $"must be positive, got {GradientAccumulation}.");
        Check(MaxGradNorm > 0, "max_grad_norm", $"must be positive, got {MaxGradNorm}.");
        Check(Limit is null or >= 10, "limit", $"must be at least 10, got {Limit}.");
        Check(LoraR > 0, "lora_r", $"must be positive, got {LoraR}.");
        Check(LoraAlpha > 0, "lora_alpha", $"must be positive, got {LoraAlpha}.");
        Check(LoraDropout is >= 0 and < 1, "lora_dropout", $"must be in [0, 1), got {LoraDropout}.");
        Check(Precision is "auto" or "fp32" or "bf16" or "fp16", "precision", $"must be auto, fp32, bf16 or fp16, got '{Precision}'.");
        Check(Device is "auto" or "cpu" or "cuda", "device", $"must be auto, cpu or cuda, got '{Device}'.");
        Check(!(Overwrite && Resume), "overwrite", "cannot be combined with `resume`.");
        Check(SaveSteps > 0, "save_steps", $"must be positive, got {SaveSteps}.");
        Check(SaveMinutes > 0, "save_minutes", $"must be positive, got {SaveMinutes}.");
        Check(BestMetric is "accuracy" or "f1" or "loss", "metric_for_best_model", $"must be accuracy, f1 or loss, got '{BestMetric}'.");
        Tokenization.TruncationRules.Parse(Truncation);
        Check(Quantize is null or "nf4", "quantize", $"must be nf4, got '{Quantize}'.");
        Check(Temperature > 0, "temperature", $"must be positive, got {Temperature}.");
        Check(Alpha is >= 0 and <= 1, "alpha", $"must be between 0 and 1, got {Alpha}.");
        Check(Distills || Resume || Data.Length > 0, "data", "must name the labelled CSV to train on.");
        Check(Distills || Unlabelled.Length == 0, "unlabelled", "texts need a `teacher` to label them (blockbuster distill).");
        Check(Teachers.Distinct(StringComparer.Ordinal).Count() == Teachers.Length, "teacher", "names the same folder twice.");
        Check(!Teachers.Any(t => Path.GetFullPath(t).TrimEnd('/') == Path.GetFullPath(Output).TrimEnd('/')), "output", $"{Output} is a teacher's folder; the student would replace it.");
        Check(Augment >= 0, "augment", $"must not be negative, got {Augment}.");
        Check(Distills || Augment == 0, "augment", "copies are labelled by a `teacher` (blockbuster distill).");
        Check(Distills || TeacherScores is null, "teacher_scores", "reuses a distillation's cached teacher scores; it needs a `teacher`.");
        Check(Quantize is null || !FullFinetune, "quantize", "nf4 freezes the base in 4 bits and trains LoRA adapters on top (QLoRA); it cannot be combined with `full_finetune`.");
        Check(Quantize is null || !FromScratch, "quantize", "nf4 quantises pretrained weights; random weights from `from_scratch` have nothing to keep, so train them in full precision.");
        Blockbuster.Training.Data.TextEncoding.Get(Encoding);
    }
}
