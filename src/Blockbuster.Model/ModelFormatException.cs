namespace Blockbuster.Model;

/// <summary>A model folder, config or checkpoint that cannot be used. The message is one line meant for users.</summary>
public sealed class ModelFormatException(string message) : Exception(message);
