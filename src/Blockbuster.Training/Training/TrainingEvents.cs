using Blockbuster.Model.Checkpoints;
using Blockbuster.Model.Hub;
using Blockbuster.Training.Evaluation;

namespace Blockbuster.Training;

/// <summary>What the trainer reports while it runs; the CLI renders these.</summary>
public abstract record TrainingEvent;

public sealed record TrainingStage(string Message) : TrainingEvent;

public sealed record TrainingDownload(DownloadProgress Progress) : TrainingEvent;

public sealed record TrainingStarted(
    int TrainCount, int TestCount, int SkippedRows, int Epochs, int StepsPerEpoch, int TotalSteps, int StartStep,
    string Device, string Precision, long TrainableParameters, long TotalParameters, LoadReport? Load,
    double LearningRate, int WarmupSteps, bool Lora) : TrainingEvent;

public sealed record StepCompleted(
    int Epoch, int Step, int TotalSteps, double Loss, double LearningRate, double TokensPerSecond,
    double ExamplesPerSecond, TimeSpan Elapsed, bool Skipped, long TokensSoFar) : TrainingEvent;

public sealed record EvaluationProgress(int Epoch, int Done, int Total) : TrainingEvent;

public sealed record EpochCompleted(int Epoch, int Epochs, ClassificationMetrics Metrics, TimeSpan Elapsed) : TrainingEvent;

/// <summary>How a run ended: final metrics, or <see cref="Interrupted"/> after a checkpoint on Ctrl+C.</summary>
/// <param name="BestEpoch">with --keep-best, the epoch the output holds (its metrics are <paramref name="Metrics"/>)</param>
public sealed record TrainingResult(string Output, ClassificationMetrics? Metrics, bool Interrupted, int Steps, TimeSpan Elapsed, double TokensPerSecond, int? BestEpoch = null);
