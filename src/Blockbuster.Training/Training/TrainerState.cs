using System.Text.Json;
using System.Text.Json.Serialization;
using Blockbuster.Training.Evaluation;

namespace Blockbuster.Training;

/// <summary>
/// Where a run stands, saved in <c>checkpoint/trainer_state.json</c> with the model, optimizer and RNG
/// states beside it, so <c>--resume</c> continues exactly: same batches, same dropout masks, same updates.
/// </summary>
public sealed record TrainerState
{
    /// <summary>Epoch in progress (0-based); equals the epoch count when training finished.</summary>
    [JsonPropertyName("epoch")] public int Epoch { get; init; }
    /// <summary>Micro-batches of <see cref="Epoch"/> already trained (always at an optimizer-step boundary).</summary>
    [JsonPropertyName("micro_batch")] public int MicroBatch { get; init; }
    [JsonPropertyName("global_step")] public int GlobalStep { get; init; }
    [JsonPropertyName("loss_scale")] public double? LossScale { get; init; }
    [JsonPropertyName("loss_scale_good_steps")] public int LossScaleGoodSteps { get; init; }
    [JsonPropertyName("skipped_steps")] public int SkippedSteps { get; init; }
    [JsonPropertyName("train_seconds")] public double TrainSeconds { get; init; }
    /// <summary>State of the dropout mask generator (xoshiro256**).</summary>
    [JsonPropertyName("dropout_rng")] public ulong[]? DropoutRng { get; init; }
    [JsonPropertyName("epoch_metrics")] public List<ClassificationMetrics> EpochMetrics { get; init; } = [];
    /// <summary>With --keep-best: the epoch (1-based) whose weights the output exports.</summary>
    [JsonPropertyName("best_epoch")] public int? BestEpoch { get; init; }

    public const string Folder = "checkpoint";
    public const string FileName = "trainer_state.json";
    public const string ModelStateFile = "model_state.safetensors";
    public const string OptimizerFile = "optimizer.bin";
    public const string RngFile = "rng_state.safetensors";

    static readonly JsonSerializerOptions JsonOptions = new() { WriteIndented = true };

    public string ToJson() => JsonSerializer.Serialize(this, JsonOptions);

    public static TrainerState Load(string path) =>
        JsonSerializer.Deserialize<TrainerState>(File.ReadAllText(path), JsonOptions) ?? throw new InvalidDataException($"{path}: empty trainer state.");
}
