using static TorchSharp.torch;

namespace Blockbuster.Model;

/// <summary>
/// <c>t.detach().clone()</c> without the unrooted temporary. Outside a dispose scope nothing references the tensor
/// <c>detach()</c> returns once its handle is passed to <c>clone</c>, so its finalizer can free it mid-call, as with
/// TorchSharp's temporary Scalars (<see cref="Scalars"/>). Seen once in the test suite: building a model folder beside
/// other torch tests failed in <c>clone</c> with "Could not run 'aten::_copy_from' with arguments from the 'HPU'
/// backend", a freed tensor's garbage read as its device.
/// </summary>
public static class DetachedCopy
{
    /// <summary>A copy of <paramref name="t"/>'s values, off the autograd graph, owned by the caller's dispose scope.</summary>
    public static Tensor Of(Tensor t)
    {
        using var detached = t.detach();   // rooted until clone has returned
        return detached.clone();
    }
}
