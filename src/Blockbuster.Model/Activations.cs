using static TorchSharp.torch;

namespace Blockbuster.Model;

/// <summary>transformers' ACT2FN, for the activations BERT checkpoints use.</summary>
public static class Activations
{
    public static readonly string[] Known = ["gelu", "gelu_new", "gelu_pytorch_tanh", "gelu_fast", "relu", "tanh"];

    public static bool IsKnown(string name) => Known.Contains(name);

    public static Tensor Apply(string name, Tensor x) => name switch
    {
        "gelu" => nn.functional.gelu(x),                                               // exact erf GELU
        "gelu_new" or "gelu_pytorch_tanh" or "gelu_fast" => nn.functional.gelu(x, TorchSharp.Modules.GELU.Approximate.tanh),
        "relu" => nn.functional.relu(x),
        "tanh" => x.tanh(),
        _ => throw new ModelFormatException($"hidden_act '{name}' is not supported."),
    };
}
