using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Blockbuster.Training;

/// <summary>One optimizer update, as train and pretrain both take it: unscale (fp16), clip, step at the given rate, zero.</summary>
public static class OptimizerStep
{
    /// <returns>false when fp16 gradients overflowed and the step was skipped (the loss scale backs off)</returns>
    public static bool Take(IReadOnlyList<Parameter> parameters, OptimizerHelper optimizer, DynamicLossScaler? scaler, double learningRate, double maxGradNorm)
    {
        using var scope = NewDisposeScope();
        bool stepped = scaler is null || scaler.UnscaleAndCheck(parameters);
        if (stepped)
        {
            nn.utils.clip_grad_norm_(parameters, maxGradNorm);
            foreach (var group in optimizer.ParamGroups) group.LearningRate = learningRate;
            optimizer.step();
        }
        optimizer.zero_grad();
        return stepped;
    }
}
