namespace Blockbuster.Model.Hub;

/// <summary>A download failure worth another try: a 5xx/408/429 answer, a reset or truncated body, a stall.</summary>
public sealed class TransientDownloadException(string message, Exception? inner = null) : Exception(message, inner);
