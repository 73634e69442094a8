using System.Runtime.InteropServices;
using Google.Protobuf;
using Onnx;

namespace Blockbuster.Model.Onnx;

/// <summary>
/// Appends nodes and initializers to an ONNX <see cref="GraphProto"/> (OnnxSharp's generated protobuf classes),
/// handing out fresh value names, so a graph reads like the forward pass that it mirrors.
/// </summary>
public sealed class OnnxGraphBuilder(string name)
{
    readonly Dictionary<string, int> counters = new();
    readonly Dictionary<string, string> shared = new();

    public GraphProto Graph { get; } = new() { Name = name };

    /// <summary>A value name not used yet, from a readable prefix (<c>layer.0.query</c> → <c>layer.0.query_3</c>).</summary>
    public string Fresh(string prefix)
    {
        int n = counters.TryGetValue(prefix, out var c) ? c : 0;
        counters[prefix] = n + 1;
        return n == 0 ? prefix : $"{prefix}_{n}";
    }

    /// <summary>One node with one output; returns the output's name.</summary>
    public string Node(string op, IEnumerable<string> inputs, string output, params AttributeProto[] attributes) =>
        Node(op, inputs, [output], null, attributes)[0];

    public IReadOnlyList<string> Node(string op, IEnumerable<string> inputs, IReadOnlyList<string> outputs, string? domain, params AttributeProto[] attributes)
    {
        var names = outputs.Select(Fresh).ToArray();
        var node = new NodeProto { OpType = op, Name = Fresh(op + "/" + names[0]) };
        if (domain is not null) node.Domain = domain;
        node.Input.AddRange(inputs);
        node.Output.AddRange(names);
        node.Attribute.AddRange(attributes);
        Graph.Node.Add(node);
        return names;
    }

    public string Initializer(string name, ReadOnlySpan<float> data, params long[] dims) =>
        AddInitializer(name, TensorProto.Types.DataType.Float, MemoryMarshal.AsBytes(data), dims);

    public string Initializer(string name, ReadOnlySpan<long> data, params long[] dims) =>
        AddInitializer(name, TensorProto.Types.DataType.Int64, MemoryMarshal.AsBytes(data), dims);

    public string Initializer(string name, ReadOnlySpan<sbyte> data, params long[] dims) =>
        AddInitializer(name, TensorProto.Types.DataType.Int8, MemoryMarshal.AsBytes(data), dims);

    /// <summary>A scalar constant (rank 0), e.g. the 1/√d of attention.</summary>
    public string Scalar(string name, float value) => Shared(name, () => Initializer(name, [value]));
    public string Scalar(string name, long value) => Shared(name, () => Initializer(name, [value]));

    /// <summary>A constant made once and reused by name (shapes, scalars).</summary>
    public string Shared(string name, Func<string> create) =>
        shared.TryGetValue(name, out var existing) ? existing : shared[name] = create();

    string AddInitializer(string name, TensorProto.Types.DataType type, ReadOnlySpan<byte> littleEndian, long[] dims)
    {
        var unique = Fresh(name);
        var tensor = new TensorProto { Name = unique, DataType = (int)type, RawData = ByteString.CopyFrom(littleEndian) };
        tensor.Dims.AddRange(dims);
        Graph.Initializer.Add(tensor);
        return unique;
    }

    /// <summary>A graph input or output; a string dimension is symbolic (dynamic), a number fixed.</summary>
    public static ValueInfoProto Value(string name, TensorProto.Types.DataType type, params object[] dims)
    {
        var shape = new TensorShapeProto();
        foreach (var d in dims)
            shape.Dim.Add(d is string symbol ? new TensorShapeProto.Types.Dimension { DimParam = symbol }
                                             : new TensorShapeProto.Types.Dimension { DimValue = Convert.ToInt64(d, System.Globalization.CultureInfo.InvariantCulture) });
        return new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)type, Shape = shape } },
        };
    }

    public static AttributeProto Attribute(string name, long value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };

    public static AttributeProto Attribute(string name, float value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.Float, F = value };

    public static AttributeProto Attribute(string name, params long[] values)
    {
        var a = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
        a.Ints.AddRange(values);
        return a;
    }
}
