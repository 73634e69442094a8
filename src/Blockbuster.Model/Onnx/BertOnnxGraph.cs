using Onnx;
using static Blockbuster.Model.Onnx.OnnxGraphBuilder;
using static TorchSharp.torch;
using DataType = Onnx.TensorProto.Types.DataType;

namespace Blockbuster.Model.Onnx;

/// <summary>
/// transformers' <c>BertForSequenceClassification</c> forward as an ONNX graph (opset 17), written node by node
/// from a merged state dict (transformers keys), in the shape PyTorch's exporter gives it, so ONNX Runtime's
/// fusions (LayerNorm, GELU, attention) recognise it. Inputs <c>input_ids</c>, <c>attention_mask</c>,
/// <c>token_type_ids</c> (int64, batch × sequence, both dynamic); output <c>logits</c> (float32, batch × labels).
/// Inference only: dropout is the identity.
/// </summary>
public static class BertOnnxGraph
{
    public const int Opset = 17;
    const string Batch = "batch_size", Sequence = "sequence_length";

    public static ModelProto Build(BertConfig config, IReadOnlyDictionary<string, Tensor> state)
    {
        if (config.HiddenSize % config.NumAttentionHeads != 0)
            throw new ModelFormatException($"hidden_size {config.HiddenSize} is not a multiple of num_attention_heads {config.NumAttentionHeads}.");
        var g = new OnnxGraphBuilder("bert_for_sequence_classification");
        var weights = new Weights(g, state);
        g.Graph.Input.Add(Value("input_ids", DataType.Int64, Batch, Sequence));
        g.Graph.Input.Add(Value("attention_mask", DataType.Int64, Batch, Sequence));
        g.Graph.Input.Add(Value("token_type_ids", DataType.Int64, Batch, Sequence));

        var hidden = Embeddings(g, weights, config);                                   // (B, T, H)
        var bias = AttentionBias(g);                                                   // (B, 1, 1, T)
        for (int i = 0; i < config.NumHiddenLayers; i++)
            hidden = Layer(g, weights, config, $"bert.encoder.layer.{i}.", hidden, bias);

        // Pooler: tanh(dense(hidden[:, 0])), then the classifier on it.
        var first = g.Node("Gather", [hidden, g.Scalar("zero", 0L)], "bert.pooler.first_token", Attribute("axis", 1L));   // (B, H)
        var pooled = g.Node("Tanh", [Linear(g, weights, "bert.pooler.dense.", first)], "bert.pooler.output");
        var logits = Linear(g, weights, "classifier.", pooled);
        g.Node("Identity", [logits], "logits");
        g.Graph.Output.Add(Value("logits", DataType.Float, Batch, config.NumLabels));
        weights.CheckAllUsed();

        var model = new ModelProto
        {
            IrVersion = 8,
            ProducerName = "blockbuster",
            ProducerVersion = BlockbusterVersion.Current,
            Graph = g.Graph,
        };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = Opset });
        return model;
    }

    static string Embeddings(OnnxGraphBuilder g, Weights w, BertConfig config)
    {
        const string p = "bert.embeddings.";
        var words = g.Node("Gather", [w.Raw(p + "word_embeddings.weight"), "input_ids"], "embeddings.words");          // (B, T, H)
        var types = g.Node("Gather", [w.Raw(p + "token_type_embeddings.weight"), "token_type_ids"], "embeddings.types");
        // position_ids = arange(T): Shape → T → Range.
        var shape = g.Node("Shape", ["input_ids"], "embeddings.input_shape");
        var length = g.Node("Gather", [shape, g.Scalar("one", 1L)], "embeddings.sequence_length", Attribute("axis", 0L));
        var positions = g.Node("Range", [g.Scalar("zero", 0L), length, g.Scalar("one", 1L)], "embeddings.position_ids");  // (T)
        var position = g.Node("Gather", [w.Raw(p + "position_embeddings.weight"), positions], "embeddings.positions");  // (T, H)
        var sum = g.Node("Add", [g.Node("Add", [words, types], "embeddings.words_types"), position], "embeddings.sum");
        return LayerNorm(g, w, config, p + "LayerNorm.", sum);
    }

    /// <summary>(1 − mask) · float.MinValue as (B, 1, 1, T), as transformers' extended attention mask.</summary>
    static string AttentionBias(OnnxGraphBuilder g)
    {
        var mask = g.Node("Cast", ["attention_mask"], "mask.float", Attribute("to", (long)DataType.Float));
        var expanded = g.Node("Unsqueeze", [mask, g.Initializer("mask.axes", [1L, 2L], 2)], "mask.expanded");
        var inverted = g.Node("Sub", [g.Scalar("one_float", 1f), expanded], "mask.inverted");
        return g.Node("Mul", [inverted, g.Scalar("float_min", float.MinValue)], "mask.bias");
    }

    static string Layer(OnnxGraphBuilder g, Weights w, BertConfig config, string p, string hidden, string bias)
    {
        long heads = config.NumAttentionHeads, headSize = config.HeadSize;
        var headShape = g.Shared("heads_shape", () => g.Initializer("heads_shape", [0L, 0L, heads, headSize], 4));             // (B, T, nh, hs); 0 keeps a dim
        string Heads(string name, long[] perm) =>
            g.Node("Transpose", [g.Node("Reshape", [Linear(g, w, p + "attention.self." + name + ".", hidden), headShape], p + name + ".heads")],
                   p + name + ".transposed", Attribute("perm", perm));
        var query = Heads("query", [0, 2, 1, 3]);                                               // (B, nh, T, hs)
        var key = Heads("key", [0, 2, 3, 1]);                                                   // (B, nh, hs, T)
        var value = Heads("value", [0, 2, 1, 3]);                                               // (B, nh, T, hs)
        var scores = g.Node("MatMul", [query, key], p + "attention.scores");                    // (B, nh, T, T)
        scores = g.Node("Div", [scores, g.Scalar("sqrt_head_size", MathF.Sqrt(headSize))], p + "attention.scaled");
        scores = g.Node("Add", [scores, bias], p + "attention.masked");
        var probabilities = g.Node("Softmax", [scores], p + "attention.probabilities", Attribute("axis", -1L));
        var context = g.Node("MatMul", [probabilities, value], p + "attention.context");        // (B, nh, T, hs)
        context = g.Node("Transpose", [context], p + "attention.context_transposed", Attribute("perm", 0L, 2L, 1L, 3L));
        context = g.Node("Reshape", [context, g.Shared("hidden_shape", () => g.Initializer("hidden_shape", [0L, 0L, (long)config.HiddenSize], 3))], p + "attention.context_merged");   // (B, T, H)

        var attended = g.Node("Add", [Linear(g, w, p + "attention.output.dense.", context), hidden], p + "attention.residual");
        attended = LayerNorm(g, w, config, p + "attention.output.LayerNorm.", attended);
        var intermediate = Activation(g, config.HiddenAct, Linear(g, w, p + "intermediate.dense.", attended), p + "intermediate");
        var output = g.Node("Add", [Linear(g, w, p + "output.dense.", intermediate), attended], p + "output.residual");
        return LayerNorm(g, w, config, p + "output.LayerNorm.", output);
    }

    /// <summary>x·Wᵀ + b as MatMul with the transposed weight stored, then Add: the pattern int8 quantisation rewrites.</summary>
    static string Linear(OnnxGraphBuilder g, Weights w, string p, string input)
    {
        var product = g.Node("MatMul", [input, w.Transposed(p + "weight")], p + "matmul");
        return g.Node("Add", [product, w.Raw(p + "bias")], p + "output");
    }

    static string LayerNorm(OnnxGraphBuilder g, Weights w, BertConfig config, string p, string input) =>
        g.Node("LayerNormalization", [input, w.Raw(p + "weight"), w.Raw(p + "bias")], p + "output",
               Attribute("axis", -1L), Attribute("epsilon", (float)config.LayerNormEps));

    /// <summary>transformers' ACT2FN in ONNX ops: erf GELU as x · ½(1 + erf(x/√2)), the tanh form for gelu_new.</summary>
    static string Activation(OnnxGraphBuilder g, string name, string x, string p)
    {
        switch (name)
        {
            case "gelu":
                var erf = g.Node("Erf", [g.Node("Div", [x, g.Scalar("sqrt2", MathF.Sqrt(2f))], p + ".gelu_scaled")], p + ".gelu_erf");
                var onePlus = g.Node("Add", [erf, g.Scalar("one_float", 1f)], p + ".gelu_one_plus");
                var product = g.Node("Mul", [x, onePlus], p + ".gelu_product");
                return g.Node("Mul", [product, g.Scalar("half", 0.5f)], p + ".gelu");
            case "gelu_new" or "gelu_pytorch_tanh" or "gelu_fast":
                // ½x(1 + tanh(√(2/π)(x + 0.044715x³)))
                var cube = g.Node("Mul", [g.Node("Mul", [x, x], p + ".square"), x], p + ".cube");
                var inner = g.Node("Add", [x, g.Node("Mul", [cube, g.Scalar("gelu_c", 0.044715f)], p + ".cube_scaled")], p + ".inner");
                var tanh = g.Node("Tanh", [g.Node("Mul", [inner, g.Scalar("sqrt_2_over_pi", MathF.Sqrt(2f / MathF.PI))], p + ".tanh_in")], p + ".tanh");
                var half = g.Node("Mul", [x, g.Scalar("half", 0.5f)], p + ".half_x");
                return g.Node("Mul", [half, g.Node("Add", [tanh, g.Scalar("one_float", 1f)], p + ".tanh_one_plus")], p + ".gelu_new");
            case "relu": return g.Node("Relu", [x], p + ".relu");
            case "tanh": return g.Node("Tanh", [x], p + ".tanh");
            default: throw new ModelFormatException($"hidden_act '{name}' cannot be exported to ONNX.");
        }
    }

    /// <summary>The state dict as initializers, each added once; every tensor must be used (no silent leftovers).</summary>
    sealed class Weights(OnnxGraphBuilder g, IReadOnlyDictionary<string, Tensor> state)
    {
        readonly Dictionary<string, string> added = new();

        public string Raw(string key) => Add(key, key, t => t);

        /// <summary>A Linear weight (out, in) stored as (in, out) so MatMul(x, W) needs no Transpose node.</summary>
        public string Transposed(string key) => Add(key, key + "_transposed", t => t.t());

        string Add(string key, string name, Func<Tensor, Tensor> layout)
        {
            if (added.TryGetValue(name, out var existing)) return existing;
            if (!state.TryGetValue(key, out var tensor)) throw new ModelFormatException($"the model has no '{key}' to export.");
            using var _ = NewDisposeScope();
            var t = layout(tensor.detach().to(ScalarType.Float32).cpu()).contiguous();
            var data = t.data<float>().ToArray();
            return added[name] = g.Initializer(name, data, t.shape);
        }

        public void CheckAllUsed()
        {
            var used = added.Keys.Select(n => n.EndsWith("_transposed", StringComparison.Ordinal) ? n[..^"_transposed".Length] : n).ToHashSet();
            var left = state.Keys.Where(k => !used.Contains(k) && !k.EndsWith("position_ids", StringComparison.Ordinal)).ToArray();
            if (left.Length > 0) throw new ModelFormatException($"the ONNX graph does not use '{left[0]}'" + (left.Length > 1 ? $" and {left.Length - 1} more tensors." : "."));
        }
    }
}
