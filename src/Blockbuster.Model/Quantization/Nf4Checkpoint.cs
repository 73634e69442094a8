using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Blockbuster.Model.Checkpoints;
using static TorchSharp.torch;

namespace Blockbuster.Model.Quantization;

/// <summary>
/// A 4-bit base as bitsandbytes serialises one (transformers' save_pretrained of a load_in_4bit model):
/// config.json with <c>quantization_config</c>, and for each quantised layer at prefix p the packed codes
/// <c>p.weight</c> ((⌈n/2⌉, 1) uint8) beside its quant state — <c>p.weight.absmax</c>, <c>p.weight.quant_map</c>,
/// with double quantisation <c>p.weight.nested_absmax</c> and <c>p.weight.nested_quant_map</c>, and
/// <c>p.weight.quant_state.bitsandbytes__nf4</c>, a uint8 tensor holding the JSON of the rest (quant_type,
/// blocksize, dtype, shape, nested_blocksize, nested_dtype, nested_offset). Embeddings, LayerNorms and biases
/// are stored as they are. Reading it back rebuilds the very same 4-bit layers (no requantisation).
/// </summary>
public static class Nf4Checkpoint
{
    const string StateSuffix = ".weight.quant_state.bitsandbytes__nf4";

    /// <summary>True for a folder whose config.json says its weights are bitsandbytes 4-bit.</summary>
    public static bool IsQuantizedFolder(string folder)
    {
        var path = Path.Combine(folder, ModelFolder.Config);
        if (!File.Exists(path)) return false;
        try
        {
            var q = JsonNode.Parse(File.ReadAllText(path))?["quantization_config"];
            return q?["quant_method"]?.GetValue<string>() == "bitsandbytes" && q["load_in_4bit"]?.GetValue<bool>() == true;
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException) { return false; }
    }

    /// <summary>transformers' BitsAndBytesConfig.to_dict() for this model's 4-bit settings.</summary>
    public static JsonObject QuantizationConfig(bool doubleQuant, string computeDtype) => new()
    {
        ["_load_in_4bit"] = true, ["_load_in_8bit"] = false,
        ["bnb_4bit_compute_dtype"] = computeDtype, ["bnb_4bit_quant_storage"] = "uint8", ["bnb_4bit_quant_type"] = "nf4",
        ["bnb_4bit_use_double_quant"] = doubleQuant, ["llm_int8_enable_fp32_cpu_offload"] = false, ["llm_int8_has_fp16_weight"] = false,
        ["llm_int8_skip_modules"] = null, ["llm_int8_threshold"] = 6.0, ["load_in_4bit"] = true, ["load_in_8bit"] = false,
        ["quant_method"] = "bitsandbytes",
    };

    /// <summary>The frozen base (<c>BertModel</c> keys) of a model whose encoder holds 4-bit layers.</summary>
    public static Dictionary<string, Tensor> BaseStateDict(BertModel bert)
    {
        var quantized = bert.named_modules().Where(m => m.module is Linear4bit).ToDictionary(m => m.name, m => (Linear4bit)m.module);
        var result = new Dictionary<string, Tensor>();
        foreach (var (key, tensor) in bert.state_dict())
        {
            if (CheckpointLoader.IsLoraFactor(key) || quantized.Keys.Any(q => key.StartsWith(q + ".", StringComparison.Ordinal))) continue;
            result[CheckpointLoader.CheckpointKey(key)] = DetachedCopy.Of(tensor);
        }
        foreach (var (name, layer) in quantized)
        {
            var p = CheckpointLoader.CheckpointKey(name + ".").TrimEnd('.');
            result[p + ".weight"] = layer.Packed.clone();
            if (layer.bias is { } bias) result[p + ".bias"] = DetachedCopy.Of(bias);
            result[p + ".weight.absmax"] = layer.Absmax.clone();
            result[p + ".weight.quant_map"] = tensor(Nf4.Code);
            var state = new JsonObject { ["quant_type"] = "nf4", ["blocksize"] = layer.BlockSize, ["dtype"] = "float32", ["shape"] = new JsonArray(layer.OutFeatures, layer.InFeatures) };
            if (layer.DoubleQuantized)
            {
                result[p + ".weight.nested_absmax"] = layer.NestedAbsmax!.clone();
                result[p + ".weight.nested_quant_map"] = tensor(layer.NestedQuantMap);
                state["nested_blocksize"] = DoubleQuant.BlockSize;
                state["nested_dtype"] = "float32";
                state["nested_offset"] = layer.NestedOffset;
            }
            // bitsandbytes' pack_dict_to_tensor: json.dumps (its default separators), UTF-8 bytes, a uint8 tensor.
            result[p + StateSuffix] = tensor(Encoding.UTF8.GetBytes(PythonJson(state)), dtype: ScalarType.Byte);
        }
        return result;
    }

    /// <summary>json.dumps with its default separators (", " and ": ").</summary>
    static string PythonJson(JsonObject o)
    {
        static string Value(JsonNode? n) => n switch
        {
            null => "null",
            JsonArray a => "[" + string.Join(", ", a.Select(Value)) + "]",
            JsonObject obj => "{" + string.Join(", ", obj.Select(kv => JsonSerializer.Serialize(kv.Key) + ": " + Value(kv.Value))) + "}",
            // Python's repr of the fp32 value as a double: shortest round trip, a lower-case exponent (1e-05).
            JsonValue v when v.TryGetValue<float>(out var f) && !v.TryGetValue<int>(out _) => PythonFloat(f),
            _ => n.ToJsonString(),
        };
        return Value(o);
    }

    static string PythonFloat(float f)
    {
        var s = ((double)f).ToString("R", System.Globalization.CultureInfo.InvariantCulture).Replace('E', 'e');
        return s.Contains('.') || s.Contains('e') || s.Contains("Infinity") || s.Contains("NaN") ? s : s + ".0";
    }

    /// <summary>
    /// Takes the 4-bit layers out of a bitsandbytes state dict and puts them into <paramref name="model"/> in
    /// place of its linear layers; returns the state dict without their keys, for the ordinary loader.
    /// </summary>
    public static Dictionary<string, Tensor> LoadQuantizedLayers(BertForSequenceClassification model, IReadOnlyDictionary<string, Tensor> checkpoint, string source)
    {
        var remaining = checkpoint.ToDictionary(kv => kv.Key, kv => kv.Value);
        var layers = LayerSwap.Linears(model.bert).ToDictionary(l => l.Name, l => l);
        foreach (var stateKey in checkpoint.Keys.Where(k => k.EndsWith(StateSuffix, StringComparison.Ordinal)).ToList())
        {
            var p = stateKey[..^StateSuffix.Length];
            var name = p.StartsWith("bert.", StringComparison.Ordinal) ? p["bert.".Length..] : p;
            if (!layers.TryGetValue(name, out var target))
                throw new ModelFormatException($"{source}: 4-bit tensor '{stateKey}' names no linear layer of this BERT.");
            JsonObject state;
            try { state = JsonNode.Parse(Encoding.UTF8.GetString(checkpoint[stateKey].to(ScalarType.Byte).data<byte>().ToArray()))!.AsObject(); }
            catch (Exception e) when (e is JsonException or InvalidOperationException or NullReferenceException)
            { throw new ModelFormatException($"{source}: '{stateKey}' does not hold bitsandbytes' JSON quant state."); }
            if (state["quant_type"]?.GetValue<string>() != "nf4") throw new ModelFormatException($"{source}: '{stateKey}': quant_type {state["quant_type"]} is not supported (only nf4).");
            if (state["blocksize"]?.GetValue<int>() != Nf4.BlockSize) throw new ModelFormatException($"{source}: '{stateKey}': blocksize {state["blocksize"]} is not supported (only {Nf4.BlockSize}).");
            var shape = state["shape"]!.AsArray().Select(d => d!.GetValue<long>()).ToArray();
            var expected = target.Layer.weight!.shape;
            if (!shape.SequenceEqual(expected))
                throw new ModelFormatException($"{source}: '{stateKey}' has shape {CheckpointLoader.Shape(shape)} but the model expects {CheckpointLoader.Shape(expected)}.");
            Tensor Take(string key) => remaining.Remove(key, out var t) ? t : throw new ModelFormatException($"{source}: missing tensor '{key}' of the 4-bit layer '{p}'.");
            remaining.Remove(stateKey);
            var packed = Take(p + ".weight");
            var absmax = Take(p + ".weight.absmax");
            var quantMap = Take(p + ".weight.quant_map").to(ScalarType.Float32).data<float>().ToArray();
            if (!quantMap.SequenceEqual(Nf4.Code)) throw new ModelFormatException($"{source}: '{p}.weight.quant_map' is not the NF4 code table.");
            bool nested = state.ContainsKey("nested_offset");
            Tensor? nestedAbsmax = null, nestedMap = null;
            if (nested)
            {
                if (state["nested_blocksize"]?.GetValue<int>() != DoubleQuant.BlockSize) throw new ModelFormatException($"{source}: '{stateKey}': nested_blocksize {state["nested_blocksize"]} is not supported (only {DoubleQuant.BlockSize}).");
                nestedAbsmax = Take(p + ".weight.nested_absmax");
                nestedMap = Take(p + ".weight.nested_quant_map").to(ScalarType.Float32).clone();
                if (nestedMap.numel() != 256) throw new ModelFormatException($"{source}: '{p}.weight.nested_quant_map' has {nestedMap.numel()} values, not 256.");
            }
            long n = shape[0] * shape[1];
            if (packed.numel() != (n + 1) / 2 || absmax.numel() != (n + Nf4.BlockSize - 1) / Nf4.BlockSize)
                throw new ModelFormatException($"{source}: the 4-bit tensors of '{p}' do not fit its shape {CheckpointLoader.Shape(shape)}.");
            remaining.Remove(p + ".bias", out var bias);
            var layer = Linear4bit.FromParts(shape[0], shape[1], packed.clone(), nested ? absmax.to(ScalarType.Byte).clone() : absmax.to(ScalarType.Float32).clone(),
                nestedAbsmax?.to(ScalarType.Float32).clone(), nested ? (float)state["nested_offset"]!.GetValue<double>() : null, bias?.clone(), nestedMap);
            LayerSwap.Replace(target.Parent, target.Field, layer);
            target.Layer.Dispose();
        }
        return remaining;
    }
}
