using static TorchSharp.torch;

namespace Blockbuster.Training;

/// <summary>
/// torch.cuda.amp.GradScaler's rule for fp16: multiply the loss by a scale before backward, divide the
/// gradients by it before clipping; if any gradient is inf/NaN skip the step and halve the scale;
/// after <c>growthInterval</c> good steps in a row double it.
/// </summary>
public sealed class DynamicLossScaler(double initialScale = 65536, double growthFactor = 2, double backoffFactor = 0.5, int growthInterval = 2000)
{
    public double Scale { get; private set; } = initialScale;
    public int GoodSteps { get; private set; }
    public int SkippedSteps { get; private set; }

    public Tensor ScaleLoss(Tensor loss) => loss * Scale;

    /// <summary>
    /// Divides gradients by the scale; returns false (and backs off) when any is not finite. The per-tensor
    /// checks stay on the device and are combined there, so a step costs one device sync, not one per parameter.
    /// </summary>
    public bool UnscaleAndCheck(IEnumerable<TorchSharp.Modules.Parameter> parameters)
    {
        bool finite = true;
        using (no_grad())
        using (NewDisposeScope())
        {
            Tensor? allFinite = null;
            foreach (var p in parameters)
            {
                if (p.grad is not { } grad) continue;
                grad.div_(Scale);
                var ok = grad.isfinite().all();
                allFinite = allFinite is null ? ok : allFinite.logical_and(ok);
            }
            if (allFinite is not null) finite = allFinite.item<bool>();
        }
        Update(finite);
        return finite;
    }

    public void Update(bool finite)
    {
        if (!finite)
        {
            Scale *= backoffFactor;
            GoodSteps = 0;
            SkippedSteps++;
            return;
        }
        if (++GoodSteps >= growthInterval)
        {
            Scale *= growthFactor;
            GoodSteps = 0;
        }
    }

    public void Restore(double scale, int goodSteps, int skippedSteps)
    {
        Scale = scale;
        GoodSteps = goodSteps;
        SkippedSteps = skippedSteps;
    }
}
