using Blockbuster.Model;
using Blockbuster.Model.Checkpoints;

namespace Blockbuster.Tests;

/// <summary>Small models and model folders built inside a test.</summary>
public static class TinyModels
{
    public static BertConfig Config(int vocab = 120) => new()
    {
        VocabSize = vocab, HiddenSize = 16, NumHiddenLayers = 2, NumAttentionHeads = 2, IntermediateSize = 32,
        MaxPositionEmbeddings = 64, HiddenDropoutProb = 0.1, AttentionProbsDropoutProb = 0.1,
    };

    /// <summary>A plain Hugging Face BERT folder: config.json, model.safetensors (no bert. prefix), vocab.txt.</summary>
    public static string WriteBaseFolder(string folder, int seed = 1, BertConfig? config = null)
    {
        Directory.CreateDirectory(folder);
        TorchSharp.torch.manual_seed(seed);
        config ??= Config();
        using var model = new BertForSequenceClassification(config);
        var state = ModelExport.MergedStateDict(model)
            .Where(kv => kv.Key.StartsWith("bert.", StringComparison.Ordinal))
            .ToDictionary(kv => kv.Key["bert.".Length..], kv => kv.Value);
        SafetensorsFile.Write(Path.Combine(folder, "model.safetensors"), state);
        config.Save(Path.Combine(folder, "config.json"));
        File.WriteAllLines(Path.Combine(folder, "vocab.txt"), Vocab());
        return folder;
    }

    /// <summary>A classifier folder as <c>train</c> writes one: bert.* and classifier.* keys, labels in config.json.</summary>
    public static string WriteClassifierFolder(string folder, int seed = 1, BertConfig? config = null)
    {
        Directory.CreateDirectory(folder);
        TorchSharp.torch.manual_seed(seed);
        config = (config ?? Config()) with { Id2Label = new() { ["0"] = "negative", ["1"] = "positive" }, Label2Id = new() { ["negative"] = 0, ["positive"] = 1 } };
        using var model = new BertForSequenceClassification(config);
        SafetensorsFile.Write(Path.Combine(folder, "model.safetensors"), ModelExport.MergedStateDict(model).ToDictionary(kv => kv.Key, kv => kv.Value));
        config.Save(Path.Combine(folder, "config.json"));
        File.WriteAllLines(Path.Combine(folder, "vocab.txt"), Vocab());
        return folder;
    }

    /// <summary>A 120-word WordPiece vocabulary: specials, letters, a few words and suffixes.</summary>
    public static IEnumerable<string> Vocab()
    {
        string[] specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"];
        string[] words = ["the", "movie", "film", "good", "bad", "great", "awful", "loved", "hated", "was", "is", "it", "this", "a", "i",
                          "##s", "##ing", "##ed", "##ly", ".", ",", "!", "?", "<", ">", "/", "br", "'", "-", "plot", "acting", "boring", "fun"];
        var letters = Enumerable.Range('a', 26).Select(c => ((char)c).ToString());
        var sub = Enumerable.Range('a', 26).Select(c => "##" + (char)c);
        var all = specials.Concat(words).Concat(letters).Concat(sub).Distinct().ToList();
        while (all.Count < 120) all.Add($"[unused{all.Count}]");
        return all;
    }
}
