using Blockbuster.Model.Lora;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Blockbuster.Model;

/// <summary>Builds the model's linear layers: plain, or wrapped in LoRA when the adapter targets that name.</summary>
public static class LinearLayers
{
    public static nn.Module<Tensor, Tensor> Create(string name, long inFeatures, long outFeatures, LoraConfig? lora)
    {
        var linear = nn.Linear(inFeatures, outFeatures);
        return lora is not null && lora.Targets(name) ? new LoraLinear(linear, lora) : linear;
    }

    /// <summary>Applies a layer from <see cref="Create"/> under the active <see cref="Autocast"/>.</summary>
    public static Tensor Apply(nn.Module<Tensor, Tensor> layer, Tensor x) =>
        layer is Linear linear ? Autocast.Linear(linear, x) : layer.call(x);
}
