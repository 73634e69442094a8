using System.Runtime.InteropServices;
using Google.Protobuf;
using Onnx;
using static Blockbuster.Model.Onnx.OnnxGraphBuilder;
using DataType = Onnx.TensorProto.Types.DataType;

namespace Blockbuster.Model.Onnx;

/// <summary>
/// Dynamic int8 quantisation of a float graph, as ONNX Runtime's <c>quantize_dynamic</c> (and so Optimum's
/// <c>ORTQuantizer</c> with <c>AutoQuantizationConfig.avx512_vnni(is_static=False, per_channel=True)</c>) writes it:
/// every MatMul whose right operand is a 2-D float initializer becomes
/// <c>DynamicQuantizeLinear(x) → MatMulInteger(x_q, W_q, x_zp, W_zp) → Cast → Mul(x_scale · W_scale)</c>,
/// with W symmetric int8 per output column (zero point 0) and activations uint8 quantised at run time.
/// ONNX Runtime fuses that pattern into its <c>DynamicQuantizeMatMul</c> kernel (VNNI on CPUs that have it).
/// </summary>
public static class DynamicInt8
{
    public static void Apply(ModelProto model)
    {
        var graph = model.Graph;
        var initializers = graph.Initializer.ToDictionary(t => t.Name);
        var replaced = new HashSet<string>();
        var nodes = graph.Node.ToList();
        graph.Node.Clear();
        var g = new OnnxGraphBuilder(graph.Name);
        foreach (var node in nodes)
        {
            if (node.OpType != "MatMul" || !initializers.TryGetValue(node.Input[1], out var weight)
                || weight.DataType != (int)DataType.Float || weight.Dims.Count != 2)
            {
                g.Graph.Node.Add(node);
                continue;
            }
            var (quantized, scales) = QuantizePerColumn(weight);
            long columns = weight.Dims[1];
            string p = weight.Name;
            var wq = g.Initializer(p + "_quantized", quantized, weight.Dims[0], columns);
            var wzp = g.Initializer(p + "_zero_point", new sbyte[columns], columns);
            var ws = g.Initializer(p + "_scale", scales, columns);
            var x = g.Node("DynamicQuantizeLinear", [node.Input[0]], [p + ".x_quantized", p + ".x_scale", p + ".x_zero_point"], null);
            var product = g.Node("MatMulInteger", [x[0], wq, x[2], wzp], p + ".matmul_int32");
            var scale = g.Node("Mul", [x[1], ws], p + ".scale");
            var asFloat = g.Node("Cast", [product], p + ".matmul_float", Attribute("to", (long)DataType.Float));
            g.Graph.Node.Add(new NodeProto { OpType = "Mul", Name = node.Name + "/dequantize", Input = { asFloat, scale }, Output = { node.Output[0] } });
            replaced.Add(weight.Name);
        }
        graph.Node.AddRange(g.Graph.Node);
        foreach (var name in replaced) graph.Initializer.Remove(initializers[name]);
        graph.Initializer.AddRange(g.Graph.Initializer);
    }

    /// <summary>W (in, out) → int8 codes round(W / s) with s = max|W[:, j]| / 127 per column j.</summary>
    static (sbyte[] Codes, float[] Scales) QuantizePerColumn(TensorProto weight)
    {
        int rows = (int)weight.Dims[0], columns = (int)weight.Dims[1];
        var w = MemoryMarshal.Cast<byte, float>(weight.RawData.Span);
        var scales = new float[columns];
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < columns; j++)
                scales[j] = MathF.Max(scales[j], MathF.Abs(w[i * columns + j]));
        for (int j = 0; j < columns; j++) scales[j] = scales[j] > 0 ? scales[j] / 127f : 1f;
        var codes = new sbyte[rows * columns];
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < columns; j++)
                codes[i * columns + j] = (sbyte)Math.Clamp(MathF.Round(w[i * columns + j] / scales[j], MidpointRounding.ToEven), -127f, 127f);
        return (codes, scales);
    }
}
