using System.Text.Json.Nodes;
using Blockbuster.Model;
using Blockbuster.Model.Checkpoints;
using Blockbuster.Model.Onnx;
using Blockbuster.Training.Data;
using Blockbuster.Training.Export;
using Blockbuster.Training.Tokenization;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using static TorchSharp.torch;

namespace Blockbuster.Tests;

/// <summary>
/// <c>export --format onnx</c> checked by ONNX Runtime, an independent implementation: its logits on the exported
/// graph against Blockbuster's fp32 forward, on reviews of mixed lengths in padded batches; the exported
/// tokenizer.json against our tokenizer through Hugging Face's own (Tokenizers.DotNet).
/// </summary>
[Collection("torch-global-state")]
public class OnnxExportTests(TrainedTinyModel trained) : IClassFixture<TrainedTinyModel>
{
    static readonly string[] TinyTexts =
    [
        "great", "the movie was awful", "i loved this film , it was great fun !",
        "boring plot and bad acting . i hated it . the film was awful , awful , awful and boring",
        "this movie is good", "a", "the acting was great but the plot was bad <br /> <br /> fun though",
    ];

    [Fact]
    public async Task A_trained_lora_model_matches_onnx_runtime_within_1e4()
    {
        using var dir = new TempDir();
        var report = await OnnxExporter.RunAsync(new ExportOptions(trained.Output, Output: dir.File("onnx")), trained.Hub);
        Assert.Equal(["model.onnx", "config.json", "vocab.txt", "tokenizer_config.json", "special_tokens_map.json", "tokenizer.json"], report.Files);
        var (maxError, sameLabels) = await Compare(trained.Output, Path.Combine(report.Output, "model.onnx"), TinyTexts, 32, batchSize: 3);
        Assert.True(maxError <= 1e-4, $"max |Δlogit| {maxError}");
        Assert.True(sameLabels);

        // The PEFT adapter folder (base + adapter) exports the same merged model.
        var fromAdapter = await OnnxExporter.RunAsync(new ExportOptions(Path.Combine(trained.Output, "adapter"), Output: dir.File("onnx-adapter")), trained.Hub);
        var (adapterError, _) = await Compare(trained.Output, Path.Combine(fromAdapter.Output, "model.onnx"), TinyTexts, 32, batchSize: 4);
        Assert.True(adapterError <= 1e-4, $"adapter export max |Δlogit| {adapterError}");
    }

    [Fact]
    public async Task The_onnx_graph_has_the_promised_interface()
    {
        using var dir = new TempDir();
        var report = await OnnxExporter.RunAsync(new ExportOptions(trained.Output, Output: dir.File("onnx")), trained.Hub);
        using var session = new InferenceSession(Path.Combine(report.Output, "model.onnx"));
        Assert.Equal(["input_ids", "attention_mask", "token_type_ids"], session.InputMetadata.Keys);
        foreach (var input in session.InputMetadata.Values)
        {
            Assert.Equal(typeof(long), input.ElementType);
            Assert.Equal([-1, -1], input.Dimensions);           // dynamic batch and sequence
        }
        var logits = Assert.Single(session.OutputMetadata);
        Assert.Equal("logits", logits.Key);
        Assert.Equal(typeof(float), logits.Value.ElementType);
        Assert.Equal([-1, 2], logits.Value.Dimensions);
        var model = Onnx.ModelProto.Parser.ParseFrom(File.ReadAllBytes(Path.Combine(report.Output, "model.onnx")));
        Assert.True(model.OpsetImport.Single(o => o.Domain == "").Version >= 17);

        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(report.Output, "config.json")))!;
        Assert.Equal("BertForSequenceClassification", config["architectures"]![0]!.GetValue<string>());
        Assert.Equal("positive", config["id2label"]!["1"]!.GetValue<string>());
        Assert.Equal(32, JsonNode.Parse(File.ReadAllText(Path.Combine(report.Output, "tokenizer_config.json")))!["model_max_length"]!.GetValue<int>());
    }

    /// <summary>all-MiniLM-L6-v2 (6 layers, 384 wide, 12 heads) with a seeded classifier head, on IMDB reviews up to 256 tokens.</summary>
    [Fact]
    public async Task MiniLm_with_a_classifier_head_matches_onnx_runtime_within_1e4()
    {
        using var dir = new TempDir();
        var folder = WriteMiniLmClassifier(dir.File("minilm-classifier"));
        var report = await OnnxExporter.RunAsync(new ExportOptions(folder, Output: dir.File("onnx")), trained.Hub);
        var reviews = ImdbSample(12);
        var (maxError, sameLabels) = await Compare(folder, Path.Combine(report.Output, "model.onnx"), reviews, 256, batchSize: 4);
        Assert.True(maxError <= 1e-4, $"max |Δlogit| {maxError}");
        Assert.True(sameLabels);
    }

    /// <summary>The real bert-tiny shape (2 layers × 128, 30,522 words) at its full 512 tokens, seeded weights.</summary>
    [Fact]
    public async Task Bert_tiny_shape_at_512_tokens_matches_onnx_runtime_within_1e4()
    {
        using var dir = new TempDir();
        var folder = WriteClassifier(dir.File("bert-tiny-classifier"), Paths.BertTiny, weights: null);
        var report = await OnnxExporter.RunAsync(new ExportOptions(folder, Output: dir.File("onnx")), trained.Hub);
        var (maxError, sameLabels) = await Compare(folder, Path.Combine(report.Output, "model.onnx"), ImdbSample(10), 512, batchSize: 5);
        Assert.True(maxError <= 1e-4, $"max |Δlogit| {maxError}");
        Assert.True(sameLabels);
    }

    [Fact]
    public async Task The_exported_tokenizer_json_gives_our_ids_in_hugging_face_tokenizers()
    {
        using var dir = new TempDir();
        var folder = WriteMiniLmClassifier(dir.File("minilm-classifier"));
        var report = await OnnxExporter.RunAsync(new ExportOptions(folder, Output: dir.File("onnx")), trained.Hub);
        var hf = new Tokenizers.DotNet.Tokenizer(Path.Combine(report.Output, "tokenizer.json"));
        var ours = BertWordPieceTokenizer.Load(Path.Combine(report.Output, "vocab.txt"), Path.Combine(report.Output, "tokenizer_config.json"));
        var texts = ImdbSample(300)
            .Concat(["Café <br /> naïve\tcoöperation\nÜBER 100$ + 5 = ^^ | ~", "中文字符 mixed", "unbelievablyunbelievablyunbelievable" + new string('x', 120), ""]);
        foreach (var text in texts)
            Assert.Equal(ours.Encode(text, int.MaxValue / 2).Ids, hf.Encode(text).Select(i => (int)i).ToArray());
    }

    [Fact]
    public async Task Int8_export_quantises_every_weight_matmul_and_keeps_the_predictions()
    {
        using var dir = new TempDir();
        var report = await OnnxExporter.RunAsync(new ExportOptions(trained.Output, Output: dir.File("onnx-int8"), Int8: true), trained.Hub);
        var model = Onnx.ModelProto.Parser.ParseFrom(File.ReadAllBytes(Path.Combine(report.Output, "model.onnx")));
        var initializers = model.Graph.Initializer.Select(t => t.Name).ToHashSet();
        Assert.DoesNotContain(model.Graph.Node, n => n.OpType == "MatMul" && initializers.Contains(n.Input[1]));
        // 2 layers × 6 Linear + pooler + classifier.
        Assert.Equal(14, model.Graph.Node.Count(n => n.OpType == "MatMulInteger"));
        Assert.Equal(14, model.Graph.Node.Count(n => n.OpType == "DynamicQuantizeLinear"));
        Assert.All(model.Graph.Initializer.Where(t => t.Name.EndsWith("_quantized", StringComparison.Ordinal)), t => Assert.Equal((int)Onnx.TensorProto.Types.DataType.Int8, t.DataType));

        var (maxError, _) = await Compare(trained.Output, Path.Combine(report.Output, "model.onnx"), TinyTexts, 32, batchSize: 3);
        Assert.True(maxError < 0.5, $"int8 max |Δlogit| {maxError}");
        // The held-out accuracy of the int8 graph against fp32: same split, both through ONNX Runtime.
        var fp32 = await OnnxExporter.RunAsync(new ExportOptions(trained.Output, Output: dir.File("onnx-fp32")), trained.Hub);
        var split = Training.SplitRecord.Load(Path.Combine(trained.Output, "split.json"));
        var csv = ReviewCsv.Read(trained.Data);
        var testRows = split.TestRows.ToHashSet();
        var heldOut = Enumerable.Range(0, csv.Count).Where(i => testRows.Contains(csv.Rows[i])).ToArray();
        Assert.Equal(96, heldOut.Length);
        double Accuracy(string onnx) => OrtPredict(onnx, Path.Combine(report.Output, "vocab.txt"), heldOut.Select(i => csv.Texts[i]).ToArray(), 32)
            .Zip(heldOut, (p, i) => p == csv.Labels[i] ? 1.0 : 0.0).Average();
        double int8Accuracy = Accuracy(Path.Combine(report.Output, "model.onnx")), fp32Accuracy = Accuracy(Path.Combine(fp32.Output, "model.onnx"));
        Assert.True(Math.Abs(int8Accuracy - fp32Accuracy) <= 0.02, $"int8 {int8Accuracy:P2} vs fp32 {fp32Accuracy:P2}");
    }

    [Fact]
    public async Task Large_weights_go_to_external_data_that_onnx_runtime_reads()
    {
        using var dir = new TempDir();
        var loaded = await ModelFolder.ForInferenceAsync(trained.Hub, trained.Output);
        using var model = loaded.Model;
        var graph = OnnxExporter.BuildGraph(model, int8: false);
        var path = dir.File("model.onnx");
        var files = OnnxModelFile.Write(graph, path, externalDataThreshold: 0);
        Assert.Equal([path, path + "_data"], files);
        var written = Onnx.ModelProto.Parser.ParseFrom(File.ReadAllBytes(path));
        var external = written.Graph.Initializer.Where(t => t.DataLocation == Onnx.TensorProto.Types.DataLocation.External).ToArray();
        Assert.Contains(external, t => t.Name == "bert.embeddings.word_embeddings.weight");
        Assert.Equal(new FileInfo(path + "_data").Length, external.Sum(t => long.Parse(t.ExternalData.Single(e => e.Key == "length").Value)));
        var (maxError, _) = await Compare(trained.Output, path, TinyTexts, 32, batchSize: 7);
        Assert.True(maxError <= 1e-4, $"max |Δlogit| {maxError}");
    }

    [Fact]
    public async Task Bad_input_fails_in_one_line_and_leaves_nothing()
    {
        using var dir = new TempDir();
        // An existing output without --overwrite is left as it was.
        var existing = dir.File("existing");
        Directory.CreateDirectory(existing);
        File.WriteAllText(Path.Combine(existing, "keep.txt"), "mine");
        var e = await Assert.ThrowsAsync<IOException>(() => OnnxExporter.RunAsync(new ExportOptions(trained.Output, Output: existing), trained.Hub));
        Assert.Equal($"output folder {existing} already exists; pass `overwrite` to replace it.", e.Message);
        Assert.Equal(["keep.txt"], Directory.GetFiles(existing).Select(Path.GetFileName));

        // A model folder that is not a classifier: a plain BERT without a head.
        var plain = TinyModels.WriteBaseFolder(dir.File("plain-bert"));
        var notClassifier = await Assert.ThrowsAnyAsync<ModelFormatException>(() => OnnxExporter.RunAsync(new ExportOptions(plain, Output: dir.File("out1")), trained.Hub));
        Assert.DoesNotContain('\n', notClassifier.Message);
        Assert.Contains("classifier", notClassifier.Message);
        Assert.False(Directory.Exists(dir.File("out1")));

        // An output under a file cannot be written.
        File.WriteAllText(dir.File("a-file"), "");
        await Assert.ThrowsAnyAsync<IOException>(() => OnnxExporter.RunAsync(new ExportOptions(trained.Output, Output: Path.Combine(dir.File("a-file"), "onnx")), trained.Hub));

        // An unknown format names the option.
        var format = await Assert.ThrowsAsync<UsageException>(() => OnnxExporter.RunAsync(new ExportOptions(trained.Output, Format: "tflite", Output: dir.File("out2")), trained.Hub));
        Assert.Equal("format", format.Option);
        Assert.Equal(["a-file", "existing", "plain-bert"], Directory.GetFileSystemEntries(dir.Path).Select(Path.GetFileName).Order());
    }

    /// <summary>Our fp32 logits and ONNX Runtime's on the same padded batches: max |Δ| and whether every argmax agrees.</summary>
    async Task<(double MaxError, bool SameLabels)> Compare(string modelFolder, string onnxPath, IReadOnlyList<string> texts, int maxLength, int batchSize)
    {
        var loaded = await ModelFolder.ForInferenceAsync(trained.Hub, modelFolder);
        using var model = loaded.Model;
        var tokenizer = BertWordPieceTokenizer.Load(loaded.VocabPath, loaded.TokenizerConfigPath);
        using var session = new InferenceSession(onnxPath);
        double maxError = 0;
        bool same = true;
        foreach (var chunk in texts.Chunk(batchSize))
        {
            var (ids, mask, types, shape) = Pad(chunk.Select(t => tokenizer.Encode(t, maxLength).Ids).ToArray(), tokenizer.PadId);
            float[] ours;
            using (var _ = no_grad())
            using (var scope = NewDisposeScope())
                ours = model.call(tensor(ids).view(shape), tensor(mask).view(shape), tensor(types).view(shape)).contiguous().data<float>().ToArray();
            var theirs = Run(session, ids, mask, types, shape);
            for (int i = 0; i < ours.Length; i++) maxError = Math.Max(maxError, Math.Abs(ours[i] - theirs[i]));
            int labels = ours.Length / chunk.Length;
            for (int r = 0; r < chunk.Length; r++)
                same &= ArgMax(ours.AsSpan(r * labels, labels)) == ArgMax(theirs.AsSpan(r * labels, labels));
        }
        return (maxError, same);
    }

    static string[] ImdbSample(int count) => [.. ReviewCsv.Read(Paths.ImdbCsv).Texts.Take(count)];

    /// <summary>ONNX Runtime's predicted label ids (argmax of the logits).</summary>
    static int[] OrtPredict(string onnxPath, string vocab, IReadOnlyList<string> texts, int maxLength)
    {
        var tokenizer = BertWordPieceTokenizer.Load(vocab);
        using var session = new InferenceSession(onnxPath);
        var labels = new List<int>();
        foreach (var chunk in texts.Chunk(16))
        {
            var (ids, mask, types, shape) = Pad(chunk.Select(t => tokenizer.Encode(t, maxLength).Ids).ToArray(), tokenizer.PadId);
            var logits = Run(session, ids, mask, types, shape);
            for (int r = 0; r < chunk.Length; r++) labels.Add(ArgMax(logits.AsSpan(r * 2, 2)));
        }
        return [.. labels];
    }

    static (long[] Ids, long[] Mask, long[] Types, long[] Shape) Pad(int[][] encoded, int padId)
    {
        int batch = encoded.Length, length = encoded.Max(e => e.Length);
        var ids = new long[batch * length];
        var mask = new long[batch * length];
        Array.Fill(ids, padId);
        for (int r = 0; r < batch; r++)
            for (int t = 0; t < encoded[r].Length; t++) { ids[r * length + t] = encoded[r][t]; mask[r * length + t] = 1; }
        return (ids, mask, new long[batch * length], [batch, length]);
    }

    static float[] Run(InferenceSession session, long[] ids, long[] mask, long[] types, long[] shape)
    {
        var dims = shape.Select(d => (int)d).ToArray();
        using var results = session.Run(
        [
            NamedOnnxValue.CreateFromTensor("input_ids", new DenseTensor<long>(ids, dims)),
            NamedOnnxValue.CreateFromTensor("attention_mask", new DenseTensor<long>(mask, dims)),
            NamedOnnxValue.CreateFromTensor("token_type_ids", new DenseTensor<long>(types, dims)),
        ]);
        return results.Single(r => r.Name == "logits").AsTensor<float>().ToArray();
    }

    static int ArgMax(ReadOnlySpan<float> values)
    {
        int best = 0;
        for (int i = 1; i < values.Length; i++) if (values[i] > values[best]) best = i;
        return best;
    }

    /// <summary>all-MiniLM-L6-v2's encoder with a seeded random classifier head, saved as a transformers classifier folder.</summary>
    static string WriteMiniLmClassifier(string folder) => WriteClassifier(folder, Paths.MiniLm, Path.Combine(Paths.MiniLm, "model.safetensors"));

    /// <summary>A classifier folder from a model's config and vocabulary: its weights (or BERT's seeded random init) and a seeded head.</summary>
    static string WriteClassifier(string folder, string source, string? weights)
    {
        Directory.CreateDirectory(folder);
        manual_seed(7);
        var config = BertConfig.Load(Path.Combine(source, "config.json")).WithLabels(["negative", "positive"]);
        using var model = new BertForSequenceClassification(config);
        if (weights is not null) CheckpointLoader.Load(model, weights);
        SafetensorsFile.Write(Path.Combine(folder, "model.safetensors"), ModelExport.MergedStateDict(model));
        config.Save(Path.Combine(folder, "config.json"));
        foreach (var file in new[] { "vocab.txt", "tokenizer_config.json" })
            File.Copy(Path.Combine(source, file), Path.Combine(folder, file));
        return folder;
    }
}
