using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using static TorchSharp.torch;

namespace Blockbuster.Model.Checkpoints;

/// <summary>
/// safetensors state dicts: an 8-byte little-endian header length, a JSON header
/// (<c>{"name": {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {...}}</c>), then the raw data.
/// The header is checked here, so a damaged file fails with a sentence naming the problem instead of
/// an exception from deep inside a reader. Each tensor's bytes are read from the file straight into its
/// LibTorch storage (one copy, no managed buffer): on a cold <c>predict</c> this took the weights read from
/// ~40 ms (TorchSharp.PyBridge's reader, which parses the header again) to a few.
/// </summary>
public static class SafetensorsFile
{
    static readonly Dictionary<string, int> DtypeSizes = new()
    {
        ["F64"] = 8, ["F32"] = 4, ["F16"] = 2, ["BF16"] = 2, ["I64"] = 8, ["I32"] = 4,
        ["I16"] = 2, ["I8"] = 1, ["U8"] = 1, ["BOOL"] = 1,
    };

    const long MaxHeaderBytes = 100_000_000;   // the limit the reference implementation uses

    /// <summary>One tensor in the header: its dtype name, shape and byte range within the data section.</summary>
    sealed record Entry(string Dtype, long[] Shape, long Begin, long End);

    /// <summary>Checks the header against the file: sizes, offsets, dtypes, shapes. Returns each tensor's shape.</summary>
    public static Dictionary<string, long[]> ReadHeader(string path) =>
        ParseHeader(path).Entries.ToDictionary(kv => kv.Key, kv => kv.Value.Shape);

    static (Dictionary<string, Entry> Entries, long DataStart) ParseHeader(string path)
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
            // A repeated key is refused while parsing (fuzzing found JsonObject throwing ArgumentException on it later).
            root = JsonNode.Parse(Encoding.UTF8.GetString(header), documentOptions: new JsonDocumentOptions { AllowDuplicateProperties = false }) as JsonObject
                   ?? throw new ModelFormatException($"{path}: safetensors header is not a JSON object.");
        }
        catch (JsonException e)
        {
            throw new ModelFormatException($"{path}: safetensors header is not valid JSON ({ExceptionText.Clause(e)}).");
        }

        long dataBytes = length - 8 - (long)headerBytes;
        var entries = new Dictionary<string, Entry>();
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
                entries[name] = new Entry(dtype, shape, offsets[0], offsets[1]);
            }
            catch (Exception e) when (e is NullReferenceException or InvalidOperationException or FormatException)
            {
                throw new ModelFormatException($"{path}: tensor '{name}' has a malformed header entry.");
            }
        }
        return (entries, 8 + (long)headerBytes);
    }

    public static Dictionary<string, Tensor> Read(string path)
    {
        var (entries, dataStart) = ParseHeader(path);
        var tensors = new Dictionary<string, Tensor>(entries.Count);
        try
        {
            using var handle = File.OpenHandle(path);
            foreach (var (name, entry) in entries)
            {
                var tensor = empty(entry.Shape, ScalarTypeOf(entry.Dtype));
                tensors.Add(name, tensor);
                ReadInto(handle, dataStart + entry.Begin, entry.End - entry.Begin, tensor, path);
            }
            return tensors;
        }
        catch
        {
            foreach (var t in tensors.Values) t.Dispose();
            throw;
        }
    }

    /// <summary>Fills a fresh contiguous CPU tensor with <paramref name="count"/> bytes of the file (little-endian, as x64 and arm64 are).</summary>
    static void ReadInto(Microsoft.Win32.SafeHandles.SafeFileHandle handle, long offset, long count, Tensor tensor, string path)
    {
        if (count == 0) return;
        // Tensor.bytes is a span over the tensor's own storage, at most 2 GB: larger tensors are read in slices.
        using var flat = tensor.view(-1);
        long perSlice = (1L << 30) / tensor.ElementSize, elements = flat.shape[0];
        for (long start = 0; start < elements; start += perSlice)
        {
            using var slice = flat.narrow(0, start, Math.Min(perSlice, elements - start));
            var destination = slice.bytes;
            long at = offset + start * tensor.ElementSize;
            for (int done = 0; done < destination.Length;)
            {
                int read = RandomAccess.Read(handle, destination[done..], at + done);
                if (read == 0) throw new ModelFormatException($"{path}: the file ended while reading its tensors; it is truncated.");
                done += read;
            }
        }
    }

    static ScalarType ScalarTypeOf(string dtype) => dtype switch
    {
        "F64" => ScalarType.Float64,
        "F32" => ScalarType.Float32,
        "F16" => ScalarType.Float16,
        "BF16" => ScalarType.BFloat16,
        "I64" => ScalarType.Int64,
        "I32" => ScalarType.Int32,
        "I16" => ScalarType.Int16,
        "I8" => ScalarType.Int8,
        "U8" => ScalarType.Byte,
        "BOOL" => ScalarType.Bool,
        _ => throw new ModelFormatException($"safetensors dtype {dtype} is not supported."),
    };

    /// <summary>
    /// Writes tensors with <c>{"format": "pt"}</c> metadata (transformers checks it), keys sorted, data
    /// 8-byte aligned as the reference writer does. Written to a temporary file and renamed into place.
    /// Each tensor's bytes go from its own storage to the file (a CPU tensor is not copied at all): a checkpoint
    /// used to gather managed copies of every tensor first, hundreds of MB on the large-object heap per save
    /// for a full fine-tune's model and optimizer state.
    /// </summary>
    public static void Write(string path, IReadOnlyDictionary<string, Tensor> tensors)
    {
        var names = tensors.Keys.OrderBy(k => k, StringComparer.Ordinal).ToList();
        var header = new JsonObject { ["__metadata__"] = new JsonObject { ["format"] = "pt" } };
        long offset = 0;
        foreach (var name in names)
        {
            var tensor = tensors[name];
            long bytes = tensor.numel() * tensor.ElementSize;
            header[name] = new JsonObject
            {
                ["dtype"] = DtypeName(tensor.dtype),
                ["shape"] = new JsonArray(tensor.shape.Select(d => (JsonNode)d).ToArray()),
                ["data_offsets"] = new JsonArray(offset, offset + bytes),
            };
            offset += bytes;
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
            foreach (var name in names) WriteData(stream, tensors[name]);
        });
    }

    /// <summary>A tensor's bytes in row-major order, from a contiguous CPU view of it, in slices of at most 1 GB (Tensor.bytes spans up to 2 GB).</summary>
    static void WriteData(Stream stream, Tensor tensor)
    {
        // The scope roots the chain's temporaries while the next call runs (see DetachedCopy) and frees them after.
        using var scope = NewDisposeScope();
        var cpu = tensor.detach().cpu().contiguous();
        if (cpu.numel() == 0) return;
        var flat = cpu.view(-1);
        long perSlice = (1L << 30) / cpu.ElementSize, elements = flat.shape[0];
        for (long start = 0; start < elements; start += perSlice)
        {
            using var slice = flat.narrow(0, start, Math.Min(perSlice, elements - start));
            stream.Write(slice.bytes);
        }
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
