namespace Blockbuster.Training;

/// <summary>
/// transformers' get_linear_schedule_with_warmup: the learning rate of optimizer step k (0-based)
/// rises linearly from 0 over the warmup steps, then falls linearly to 0 at <c>totalSteps</c>.
/// </summary>
public sealed record LinearSchedule(double BaseLearningRate, int TotalSteps, int WarmupSteps)
{
    public static LinearSchedule Create(double baseLearningRate, int totalSteps, double warmupRatio) =>
        new(baseLearningRate, totalSteps, (int)Math.Ceiling(totalSteps * warmupRatio));

    public double LearningRate(int step)
    {
        if (step < WarmupSteps) return BaseLearningRate * step / Math.Max(1, WarmupSteps);
        return BaseLearningRate * Math.Max(0.0, (double)(TotalSteps - step) / Math.Max(1, TotalSteps - WarmupSteps));
    }
}
