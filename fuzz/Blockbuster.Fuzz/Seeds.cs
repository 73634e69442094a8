using System.Text;
using Blockbuster.Model;
using Blockbuster.Model.Checkpoints;
using Blockbuster.Model.Lora;
using static TorchSharp.torch;

namespace Blockbuster.Fuzz;

/// <summary>The starting corpus: one small valid file per reader (AFL++ works best from inputs under a few KB).</summary>
public static class Seeds
{
    public static void Write(string folder)
    {
        manual_seed(1);
        var tensors = new Dictionary<string, Tensor>
        {
            ["embeddings.word_embeddings.weight"] = randn(6, 4),
            ["embeddings.LayerNorm.bias"] = zeros(4).to(ScalarType.BFloat16),
            ["encoder.layer.0.attention.self.query.weight"] = randn(4, 4).to(ScalarType.Float16),
            ["position_ids"] = arange(6, dtype: ScalarType.Int64),
        };
        foreach (var reader in Readers.All)
        {
            var dir = Directory.CreateDirectory(Path.Combine(folder, reader.Name)).FullName;
            var path = Path.Combine(dir, reader.FileName);
            switch (reader.Name)
            {
                case "safetensors": SafetensorsFile.Write(path, tensors); break;
                case "pytorch-bin": PytorchBinFile.Write(path, tensors.Where(kv => kv.Value.dtype == ScalarType.Float32).ToDictionary()); break;
                case "config":
                    new BertConfig { VocabSize = 30, HiddenSize = 4, NumHiddenLayers = 1, NumAttentionHeads = 2, IntermediateSize = 8, MaxPositionEmbeddings = 16 }
                        .WithLabels(["negative", "positive"]).Save(path);
                    break;
                case "adapter-config": new LoraConfig { BaseModelNameOrPath = "prajjwal1/bert-tiny" }.Save(path); break;
                case "vocab":
                    File.WriteAllLines(path, ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "movie", "was", "great", "fun", "##s", "é", "!"]);
                    break;
                case "tokenizer-config":
                    File.WriteAllText(path, """{"do_lower_case": true, "strip_accents": null, "tokenize_chinese_chars": true, "model_max_length": 512, "tokenizer_class": "BertTokenizer"}""");
                    break;
                case "csv":
                    File.WriteAllText(path, "review,sentiment\n\"a \"\"quoted\"\", multi\nline review\",positive\nplain,negative\n\"x\",pos\n", new UTF8Encoding(false));
                    break;
                default: throw new InvalidOperationException($"no seed for reader '{reader.Name}'");
            }
            reader.Read(path);   // every seed must load
        }
    }
}
