namespace Blockbuster.Training.Pretraining;

/// <summary>Masked-token loss and accuracy on the held-out blocks, after <paramref name="Step"/> optimizer steps.</summary>
public sealed record MlmEvaluated(int Step, double Epoch, double Loss, double Accuracy, TimeSpan Elapsed) : TrainingEvent;

/// <summary>How a pretraining run ended.</summary>
public sealed record PretrainResult(string Output, double? HeldOutLoss, double? HeldOutAccuracy, bool Interrupted, int Steps, TimeSpan Elapsed, double TokensPerSecond);
