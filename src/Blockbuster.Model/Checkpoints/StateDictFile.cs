using static TorchSharp.torch;

namespace Blockbuster.Model.Checkpoints;

/// <summary>Reads a state dict by file type: <c>.safetensors</c>, or PyTorch's <c>.bin</c>/<c>.pt</c>/<c>.pth</c>.</summary>
public static class StateDictFile
{
    public static Dictionary<string, Tensor> Read(string path)
    {
        if (!File.Exists(path)) throw new ModelFormatException($"{path}: file not found.");
        return Path.GetExtension(path).ToLowerInvariant() switch
        {
            ".safetensors" => SafetensorsFile.Read(path),
            ".bin" or ".pt" or ".pth" => PytorchBinFile.Read(path),
            var ext => throw new ModelFormatException($"{path}: unknown checkpoint type '{ext}' (expected .safetensors or .bin)."),
        };
    }
}
