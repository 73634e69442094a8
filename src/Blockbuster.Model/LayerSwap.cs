using System.Reflection;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Blockbuster.Model;

/// <summary>
/// Swaps one linear layer of a built model for another module, as PEFT's <c>setattr(parent, name, new)</c>
/// does: LoRA injection and 4-bit quantisation are steps over the built model, so the model files never
/// mention them. TorchSharp's <see cref="Linear"/> is sealed, so the swappable fields are typed
/// <c>nn.Module&lt;Tensor, Tensor&gt;</c>; the field and the registered submodule both change, and the
/// state-dict key follows the registered name.
/// </summary>
public static class LayerSwap
{
    /// <summary>Every plain <see cref="Linear"/> under <paramref name="root"/> with its dotted name, its parent and its field name.</summary>
    public static IEnumerable<(string Name, nn.Module Parent, string Field, Linear Layer)> Linears(nn.Module root) =>
        Layers(root).Where(l => l.Layer is Linear).Select(l => (l.Name, l.Parent, l.Field, (Linear)l.Layer));

    /// <summary>Every frozen-base candidate under <paramref name="root"/>: plain and 4-bit linear layers.</summary>
    public static IEnumerable<(string Name, nn.Module Parent, string Field, nn.Module<Tensor, Tensor> Layer)> Layers(nn.Module root)
    {
        var modules = root.named_modules().ToDictionary(m => m.name, m => m.module);
        modules[""] = root;
        foreach (var (name, module) in modules.ToList())
        {
            if (module is not (Linear or Quantization.Linear4bit) || name.Length == 0) continue;
            int dot = name.LastIndexOf('.');
            var parent = modules[dot < 0 ? "" : name[..dot]];
            yield return (name, parent, name[(dot + 1)..], (nn.Module<Tensor, Tensor>)module);
        }
    }

    /// <summary>Puts <paramref name="replacement"/> where <paramref name="parent"/>'s <paramref name="field"/> was.</summary>
    public static void Replace(nn.Module parent, string field, nn.Module<Tensor, Tensor> replacement)
    {
        var info = parent.GetType().GetField(field, BindingFlags.Public | BindingFlags.Instance);
        if (info is null || info.IsInitOnly || !info.FieldType.IsAssignableFrom(replacement.GetType()))
            throw new InvalidOperationException($"{parent.GetType().Name}.{field} cannot hold a {replacement.GetType().Name}.");
        info.SetValue(parent, replacement);
        // TorchSharp's register_module refuses a name it holds (PyTorch's setattr replaces it), so the old entry
        // goes first; TorchSharp keeps its children in this private ordered dictionary.
        var children = typeof(nn.Module).GetField("_internal_submodules", BindingFlags.NonPublic | BindingFlags.Instance)?.GetValue(parent)
                       ?? throw new InvalidOperationException("this TorchSharp version keeps its submodules elsewhere; LayerSwap needs updating.");
        children.GetType().GetMethod("Remove", [typeof(string)])!.Invoke(children, [field]);
        parent.register_module(field, replacement);
    }
}
