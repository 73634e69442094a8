using System.IO.Compression;
using System.Text;
using Blockbuster.Model;
using Blockbuster.Model.Checkpoints;
using static TorchSharp.torch;

namespace Blockbuster.Tests;

[Collection("torch-global-state")]
public class CheckpointLoaderTests
{
    static Dictionary<string, Tensor> State(BertForSequenceClassification model) => ModelExport.MergedStateDict(model);

    static Tensor Logits(BertForSequenceClassification model)
    {
        model.eval();
        using var _ = no_grad();
        var ids = tensor(new long[,] { { 2, 10, 11, 12, 3, 0 }, { 2, 13, 14, 3, 0, 0 } });
        var mask = (ids != 0).to(ScalarType.Int64);
        return model.call(ids, mask, zeros_like(ids));
    }

    static ModelFormatException LoadError(Dictionary<string, Tensor> state)
    {
        using var model = new BertForSequenceClassification(TinyModels.Config());
        return Assert.Throws<ModelFormatException>(() => CheckpointLoader.Load(model, state, "ckpt"));
    }

    [Fact]
    public void Safetensors_round_trip_gives_identical_logits()
    {
        using var dir = new TempDir();
        using var source = new BertForSequenceClassification(TinyModels.Config());
        SafetensorsFile.Write(dir.File("model.safetensors"), State(source));
        using var copy = new BertForSequenceClassification(TinyModels.Config());
        var report = CheckpointLoader.Load(copy, dir.File("model.safetensors"), allowFreshClassifier: false);
        Assert.Empty(report.FreshKeys);
        Assert.True(Logits(source).allclose(Logits(copy), rtol: 0, atol: 0));
    }

    [Fact]
    public void Safetensors_reader_matches_TorchSharp_PyBridge_on_a_real_checkpoint_and_every_dtype()
    {
        // The reader fills tensors straight from the file; PyBridge's reader is the reference it replaced.
        static void SameAsPyBridge(string path)
        {
            var ours = SafetensorsFile.Read(path);
            var reference = TorchSharp.PyBridge.Safetensors.LoadStateDict(path);
            Assert.Equal(reference.Keys.Order(), ours.Keys.Order());
            foreach (var (key, expected) in reference)
            {
                Assert.Equal(expected.dtype, ours[key].dtype);
                Assert.Equal(expected.shape, ours[key].shape);
                Assert.True(expected.equal(ours[key]).all().item<bool>(), key);
            }
        }
        SameAsPyBridge(Path.Combine(Paths.MiniLm, "model.safetensors"));

        using var dir = new TempDir();
        var mixed = new Dictionary<string, Tensor>
        {
            ["f64"] = randn(3, 5, dtype: ScalarType.Float64), ["f32"] = randn(7), ["f16"] = randn(2, 3).to(ScalarType.Float16),
            ["bf16"] = randn(4, 4).to(ScalarType.BFloat16), ["i64"] = randint(-1000, 1000, [6], dtype: ScalarType.Int64),
            ["i32"] = randint(-1000, 1000, [2, 2], dtype: ScalarType.Int32), ["i16"] = randint(-1000, 1000, [5], dtype: ScalarType.Int16),
            ["i8"] = randint(-100, 100, [9], dtype: ScalarType.Int8), ["u8"] = randint(0, 255, [3, 1], dtype: ScalarType.Byte),
            ["bool"] = randn(8) > 0, ["empty"] = zeros(0, 4), ["scalar"] = tensor(3.5f),
        };
        SafetensorsFile.Write(dir.File("mixed.safetensors"), mixed);
        SameAsPyBridge(dir.File("mixed.safetensors"));
    }

    [Fact]
    public void Pytorch_bin_round_trip_gives_identical_logits()
    {
        using var dir = new TempDir();
        using var source = new BertForSequenceClassification(TinyModels.Config());
        PytorchBinFile.Write(dir.File("pytorch_model.bin"), State(source));
        using var copy = new BertForSequenceClassification(TinyModels.Config());
        CheckpointLoader.Load(copy, dir.File("pytorch_model.bin"), allowFreshClassifier: false);
        Assert.True(Logits(source).allclose(Logits(copy), rtol: 0, atol: 0));
    }

    [Fact]
    public void Old_names_missing_prefix_pretraining_heads_and_position_ids_are_handled()
    {
        using var source = new BertForSequenceClassification(TinyModels.Config());
        var state = State(source)
            .Where(kv => !kv.Key.StartsWith("classifier.", StringComparison.Ordinal))
            .ToDictionary(kv => kv.Key["bert.".Length..].Replace("LayerNorm.weight", "LayerNorm.gamma").Replace("LayerNorm.bias", "LayerNorm.beta"), kv => kv.Value);
        state["cls.predictions.bias"] = zeros(120);
        state["embeddings.position_ids"] = arange(64).unsqueeze(0);
        using var copy = new BertForSequenceClassification(TinyModels.Config());
        var report = CheckpointLoader.Load(copy, state, "ckpt");
        Assert.Equal(["classifier.weight", "classifier.bias"], report.FreshKeys);
        Assert.Equal(2, report.IgnoredKeys.Count);
        Assert.True(report.ClassifierIsFresh);
        Assert.True(source.bert.pooler!.state_dict()["dense.weight"].allclose(copy.bert.pooler!.state_dict()["dense.weight"], rtol: 0, atol: 0));
    }

    [Fact]
    public void Missing_tensor_names_the_key_and_shape()
    {
        using var source = new BertForSequenceClassification(TinyModels.Config());
        var state = State(source);
        state.Remove("bert.encoder.layer.1.output.dense.weight");
        var e = LoadError(state);
        Assert.Equal("ckpt: missing tensor 'bert.encoder.layer.1.output.dense.weight' (model expects shape [16, 32]).", e.Message);
    }

    [Fact]
    public void Wrong_shape_names_the_key_and_both_shapes()
    {
        using var source = new BertForSequenceClassification(TinyModels.Config());
        var state = State(source);
        state["bert.pooler.dense.weight"] = zeros(16, 8);
        var e = LoadError(state);
        Assert.Equal("ckpt: tensor 'bert.pooler.dense.weight' has shape [16, 8] but the model expects [16, 16].", e.Message);
    }

    [Fact]
    public void Unexpected_tensor_is_an_error()
    {
        using var source = new BertForSequenceClassification(TinyModels.Config());
        var state = State(source);
        state["bert.encoder.layer.2.output.dense.weight"] = zeros(16, 32);
        Assert.Contains("unexpected tensor 'bert.encoder.layer.2.output.dense.weight' of shape [16, 32]", LoadError(state).Message);
    }

    [Fact]
    public void Missing_classifier_is_an_error_when_a_trained_head_is_required()
    {
        using var source = new BertForSequenceClassification(TinyModels.Config());
        var state = State(source);
        state.Remove("classifier.weight");
        using var model = new BertForSequenceClassification(TinyModels.Config());
        var e = Assert.Throws<ModelFormatException>(() => CheckpointLoader.Load(model, state, "ckpt", allowFreshClassifier: false));
        Assert.Equal("ckpt: no 'classifier.weight'; this is a base or masked-LM model, not a sentiment classifier: fine-tune it with 'blockbuster train --model' first.", e.Message);
    }

    [Fact]
    public void Empty_file_is_a_clear_error()
    {
        using var dir = new TempDir();
        File.WriteAllBytes(dir.File("model.safetensors"), []);
        var e = Assert.Throws<ModelFormatException>(() => StateDictFile.Read(dir.File("model.safetensors")));
        Assert.EndsWith("model.safetensors: file is empty, not a safetensors file.", e.Message);
        File.WriteAllBytes(dir.File("pytorch_model.bin"), []);
        Assert.Contains("file is empty", Assert.Throws<ModelFormatException>(() => StateDictFile.Read(dir.File("pytorch_model.bin"))).Message);
    }

    [Fact]
    public void Header_claiming_more_bytes_than_the_file_holds_is_a_clear_error()
    {
        using var dir = new TempDir();
        var bytes = new byte[8 + 10];
        BitConverter.GetBytes(1_000_000UL).CopyTo(bytes, 0);
        File.WriteAllBytes(dir.File("model.safetensors"), bytes);
        var e = Assert.Throws<ModelFormatException>(() => StateDictFile.Read(dir.File("model.safetensors")));
        Assert.Contains("header claims 1000000 bytes but only 10 follow", e.Message);
    }

    [Fact]
    public void Truncated_safetensors_is_a_clear_error()
    {
        using var dir = new TempDir();
        using var source = new BertForSequenceClassification(TinyModels.Config());
        SafetensorsFile.Write(dir.File("full.safetensors"), State(source));
        var full = File.ReadAllBytes(dir.File("full.safetensors"));
        File.WriteAllBytes(dir.File("model.safetensors"), full[..(full.Length - 100)]);
        var e = Assert.Throws<ModelFormatException>(() => StateDictFile.Read(dir.File("model.safetensors")));
        Assert.Contains("the file is truncated", e.Message);
        File.WriteAllBytes(dir.File("tiny.safetensors"), full[..5]);
        Assert.Contains("truncated safetensors file (5 bytes", Assert.Throws<ModelFormatException>(() => StateDictFile.Read(dir.File("tiny.safetensors"))).Message);
    }

    [Fact]
    public void Pickle_asking_for_os_system_is_refused_in_one_line()
    {
        using var dir = new TempDir();
        // protocol 2: GLOBAL os.system, the string "echo pwned", TUPLE1, REDUCE, STOP
        var pickle = new List<byte> { 0x80, 0x02 };
        pickle.AddRange(Encoding.ASCII.GetBytes("cos\nsystem\n"));
        pickle.Add((byte)'X'); pickle.AddRange(BitConverter.GetBytes(10)); pickle.AddRange(Encoding.ASCII.GetBytes("echo pwned"));
        pickle.AddRange([0x85, (byte)'R', (byte)'.']);
        using (var zip = ZipFile.Open(dir.File("pytorch_model.bin"), ZipArchiveMode.Create))
        {
            using var entry = zip.CreateEntry("archive/data.pkl").Open();
            entry.Write(pickle.ToArray());
        }
        var e = Assert.Throws<ModelFormatException>(() => StateDictFile.Read(dir.File("pytorch_model.bin")));
        Assert.Contains("pytorch_model.bin: refused to load", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void Failed_load_leaves_the_model_untouched()
    {
        using var source = new BertForSequenceClassification(TinyModels.Config());
        var state = State(source);
        state["bert.pooler.dense.weight"] = zeros(3, 3);
        using var model = new BertForSequenceClassification(TinyModels.Config());
        var before = model.bert.embeddings.word_embeddings.weight!.clone();
        Assert.Throws<ModelFormatException>(() => CheckpointLoader.Load(model, state, "ckpt"));
        Assert.True(before.allclose(model.bert.embeddings.word_embeddings.weight!, rtol: 0, atol: 0));
    }
}
