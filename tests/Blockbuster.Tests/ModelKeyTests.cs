using Blockbuster.Model;
using Blockbuster.Model.Checkpoints;
using Blockbuster.Model.Lora;

namespace Blockbuster.Tests;

[Collection("torch-global-state")]
public class ModelKeyTests
{
    /// <summary>The keys transformers' BertForSequenceClassification has for a config, written out from modeling_bert.py.</summary>
    static List<string> HuggingFaceKeys(int layers)
    {
        var keys = new List<string>
        {
            "bert.embeddings.word_embeddings.weight", "bert.embeddings.position_embeddings.weight",
            "bert.embeddings.token_type_embeddings.weight", "bert.embeddings.LayerNorm.weight", "bert.embeddings.LayerNorm.bias",
        };
        for (int i = 0; i < layers; i++)
        {
            var p = $"bert.encoder.layer.{i}.";
            foreach (var m in new[] { "attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense",
                                      "attention.output.LayerNorm", "intermediate.dense", "output.dense", "output.LayerNorm" })
            {
                keys.Add(p + m + ".weight");
                keys.Add(p + m + ".bias");
            }
        }
        keys.AddRange(["bert.pooler.dense.weight", "bert.pooler.dense.bias", "classifier.weight", "classifier.bias"]);
        return keys;
    }

    [Fact]
    public void State_dict_keys_equal_the_hugging_face_key_list()
    {
        var config = BertConfig.Load(Path.Combine(Paths.BertTiny, "config.json"));
        using var model = new BertForSequenceClassification(config);
        Assert.Equal(HuggingFaceKeys(2).Order(), model.state_dict().Keys.Order());
        Assert.Equal([2L, 128L], model.classifier.weight!.shape);
        Assert.Equal([512L, 128L], model.bert.encoder.layer[0].intermediate.dense is TorchSharp.Modules.Linear l ? l.weight!.shape : []);
    }

    [Fact]
    public void Keys_match_a_real_hugging_face_checkpoint()
    {
        var config = BertConfig.Load(Path.Combine(Paths.MiniLm, "config.json"));
        using var model = new BertForSequenceClassification(config);
        var fileKeys = SafetensorsFile.ReadHeader(Path.Combine(Paths.MiniLm, "model.safetensors")).Keys.Select(k => "bert." + k);
        var ours = model.state_dict().Keys.Where(k => !k.StartsWith("classifier.", StringComparison.Ordinal));
        Assert.Equal(fileKeys.Order(), ours.Order());
    }

    [Fact]
    public void Lora_model_keeps_base_weights_under_base_layer_like_peft()
    {
        var config = BertConfig.Load(Path.Combine(Paths.BertTiny, "config.json"));
        using var model = Blockbuster.Model.Lora.LoraInjection.Inject(new BertForSequenceClassification(config), new LoraConfig());
        var keys = model.state_dict().Keys.ToHashSet();
        Assert.Contains("bert.encoder.layer.0.attention.self.query.base_layer.weight", keys);
        Assert.Contains("bert.encoder.layer.0.attention.self.query.lora_A.weight", keys);
        Assert.Contains("bert.encoder.layer.1.attention.self.value.lora_B.weight", keys);
        Assert.Contains("bert.encoder.layer.0.attention.self.key.weight", keys);   // not targeted
        Assert.Equal(HuggingFaceKeys(2).Order(), ModelExport.MergedStateDict(model).Keys.Order());
    }

    [Fact]
    public void From_scratch_uses_bert_init()
    {
        var config = BertConfig.Load(Path.Combine(Paths.BertTiny, "config.json"));
        using var model = new BertForSequenceClassification(config);
        var word = model.bert.embeddings.word_embeddings.weight!;
        Assert.InRange(word.std().item<float>(), 0.019, 0.021);
        Assert.Equal(0f, word[0].abs().sum().item<float>());                          // padding row
        Assert.Equal(1f, model.bert.embeddings.LayerNorm.weight!.mean().item<float>());
        Assert.Equal(0f, model.classifier.bias!.abs().sum().item<float>());
    }

    [Theory]
    [InlineData("""{"hidden_size": 100, "num_attention_heads": 3}""", "not a multiple of num_attention_heads")]
    [InlineData("""{"hidden_size": 0}""", "hidden_size must be positive")]
    [InlineData("""{"hidden_act": "swish2"}""", "hidden_act 'swish2' is not supported")]
    [InlineData("""{"hidden_dropout_prob": 1.5}""", "hidden_dropout_prob must be in [0, 1)")]
    [InlineData("""{"hidden_size": "big"}""", "not a valid config.json")]
    public void Invalid_configs_are_clear_errors(string json, string expected)
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("config.json"), json);
        var e = Assert.Throws<ModelFormatException>(() => BertConfig.Load(dir.File("config.json")));
        Assert.Contains(expected, e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }
}
