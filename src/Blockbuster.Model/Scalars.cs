using TorchSharp;

namespace Blockbuster.Model;

/// <summary>
/// Scalar arguments that stay reachable for the whole native call. TorchSharp turns a number argument, and the
/// implicit alpha of <c>tensor + tensor</c>, into a temporary <see cref="Scalar"/> whose finalizer frees the native
/// value; nothing keeps that temporary alive while the call it was made for runs, so a garbage collection started by
/// another thread can free it mid-call (the open dotnet/TorchSharp#1434 disposes them eagerly instead). With two
/// inference threads, <c>predict --file</c> over millions of lines failed about once a million batches' additions
/// with LibTorch's "Expected false to be true" from <c>Scalar::toFloat</c>. Model code therefore passes these
/// rooted constants, a per-module field, or a <c>using var</c> scalar, never a bare number or operator.
/// </summary>
public static class Scalars
{
    public static readonly Scalar Zero = 0.ToScalar();
    public static readonly Scalar One = 1.ToScalar();
    public static readonly Scalar NegativeInfinity = float.NegativeInfinity.ToScalar();
}
