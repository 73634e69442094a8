using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using TorchSharp.PyBridge;
using static TorchSharp.torch;

namespace Blockbuster.Model.Checkpoints;

/// <summary>
/// safetensors state dicts: an 8-byte little-endian header length, a JSON header
/// (<c>{"name": {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {...}}</c>), then the raw data.
/// The header is checked here, so a damaged file fails with a sentence naming the problem instead of
/// an exception from deep inside a reader; reading the tensors is TorchSharp.PyBridge's job.
/// </summary>
public static class SafetensorsFile
{
    static readonly Dictionary<string, int> DtypeSizes = new()
    {
        ["F64"] = 8, ["F32"] = 4, ["F16"] = 2, ["BF16"] = 2, ["I64"] = 8, ["I32"] = 4,
        ["I16"] = 2, ["I8"] = 1, ["U8"] = 1, ["BOOL"] = 1,
    };

    const long MaxHeaderBytes = 100_000_000;   // the limit the reference implementation uses

    /// <summary>Checks the header against the file: sizes, offsets, dtypes, shapes. Returns each tensor's shape.</summary>
    public static Dictionary<string, long[]> ReadHeader(string path)
    {
        var length = ModelFiles.Length(path);
        if (length == 0) throw new ModelFormatException($"{path}: file is empty, not a safetensors file.");
        if (length < 8) throw new ModelFormatException($"{path}: truncated safetensors file ({length} bytes, the header length alone takes 8).");

        using var stream = File.OpenRead(path);
        Span<byte> prefix = stackalloc byte[8];
        stream.ReadExactly(prefix);
        ulong headerBytes = BinaryPrimitives.ReadUInt64LittleEndian(prefix);
        if (headerBytes > (ulong)(length - 8))
            throw new ModelFormatException($"{path}: safetensors header claims {headerBytes} bytes but only {length - 8} follow; the file is truncated or not safetensors.");
        if ((long)headerBytes > MaxHeaderBytes)
            throw new ModelFormatException($"{path}: safetensors header of {headerBytes} bytes is larger than {MaxHeaderBytes}.");

        var header = new byte[headerBytes];
        stream.ReadExactly(header);
        JsonObject root;
        try
        {
            root = JsonNode.Parse(Encoding.UTF8.GetString(header)) as JsonObject
                   ?? throw new ModelFormatException($"{path}: safetensors header is not a JSON object.");
        }
        catch (JsonException e)
        {
            throw new ModelFormatException($"{path}: safetensors header is not valid JSON ({e.Message}).");
        }

        long dataBytes = length - 8 - (long)headerBytes;
        var shapes = new Dictionary<string, long[]>();
        foreach (var (name, node) in root)
        {
            if (name == "__metadata__") continue;
            try
            {
                var dtype = node!["dtype"]!.GetValue<string>();
                var shape = node["shape"]!.AsArray().Select(d => d!.GetValue<long>()).ToArray();
                var offsets = node["data_offsets"]!.AsArray().Select(d => d!.GetValue<long>()).ToArray();
                if (!DtypeSizes.TryGetValue(dtype, out int size))
                    throw new ModelFormatException($"{path}: tensor '{name}' has unsupported dtype {dtype}.");
                if (offsets.Length != 2 || offsets[0] < 0 || offsets[1] < offsets[0])
                    throw new ModelFormatException($"{path}: tensor '{name}' has invalid data_offsets.");
                if (offsets[1] > dataBytes)
                    throw new ModelFormatException($"{path}: tensor '{name}' ends at byte {offsets[1]} but the data section holds {dataBytes}; the file is truncated.");
                long expected = shape.Aggregate(1L, (a, b) => a * b) * size;
                if (offsets[1] - offsets[0] != expected)
                    throw new ModelFormatException($"{path}: tensor '{name}' of shape [{string.Join(", ", shape)}] {dtype} needs {expected} bytes, its offsets span {offsets[1] - offsets[0]}.");
                shapes[name] = shape;
            }
            catch (Exception e) when (e is NullReferenceException or InvalidOperationException or FormatException)
            {
                throw new ModelFormatException($"{path}: tensor '{name}' has a malformed header entry.");
            }
        }
        return shapes;
    }

    public static Dictionary<string, Tensor> Read(string path)
    {
        ReadHeader(path);
        return Safetensors.LoadStateDict(path);
    }

    /// <summary>
    /// Writes tensors with <c>{"format": "pt"}</c> metadata (transformers checks it), keys sorted, data
    /// 8-byte aligned as the reference writer does. Written to a temporary file and renamed into place.
    /// </summary>
    public static void Write(string path, IReadOnlyDictionary<string, Tensor> tensors)
    {
        var names = tensors.Keys.OrderBy(k => k, StringComparer.Ordinal).ToList();
        var header = new JsonObject { ["__metadata__"] = new JsonObject { ["format"] = "pt" } };
        var blobs = new List<byte[]>();
        long offset = 0;
        foreach (var name in names)
        {
            using var cpu = tensors[name].detach().cpu().contiguous();
            var bytes = cpu.bytes.ToArray();
            header[name] = new JsonObject
            {
                ["dtype"] = DtypeName(cpu.dtype),
                ["shape"] = new JsonArray(cpu.shape.Select(d => (JsonNode)d).ToArray()),
                ["data_offsets"] = new JsonArray(offset, offset + bytes.Length),
            };
            blobs.Add(bytes);
            offset += bytes.Length;
        }
        var headerBytes = Encoding.UTF8.GetBytes(header.ToJsonString());
        int padding = (8 - headerBytes.Length % 8) % 8;

        AtomicFile.Write(path, stream =>
        {
            Span<byte> prefix = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(prefix, (ulong)(headerBytes.Length + padding));
            stream.Write(prefix);
            stream.Write(headerBytes);
            for (int i = 0; i < padding; i++) stream.WriteByte((byte)' ');
            foreach (var blob in blobs) stream.Write(blob);
        });
    }

    static string DtypeName(ScalarType type) => type switch
    {
        ScalarType.Float64 => "F64",
        ScalarType.Float32 => "F32",
        ScalarType.Float16 => "F16",
        ScalarType.BFloat16 => "BF16",
        ScalarType.Int64 => "I64",
        ScalarType.Int32 => "I32",
        ScalarType.Int16 => "I16",
        ScalarType.Int8 => "I8",
        ScalarType.Byte => "U8",
        ScalarType.Bool => "BOOL",
        _ => throw new ArgumentException($"dtype {type} has no safetensors name"),
    };
}
