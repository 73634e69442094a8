using System.Text.Json.Nodes;
using Blockbuster.Model;
using Blockbuster.Model.Checkpoints;
using Blockbuster.Model.Hub;
using static TorchSharp.torch;

namespace Blockbuster.Training.Averaging;

/// <summary>
/// <c>blockbuster average</c>: the uniform average of classifiers' weights, a "model soup" (Wortsman et al. 2022, the
/// "uniform soup"; mergekit's <c>linear</c> merge). Models fine-tuned from one start sit in one basin of the loss,
/// and their average is one model of the same size that often scores better than each: a student ensemble's gain
/// without an ensemble's cost. Each model loads as <c>eval</c> loads it (LoRA merged) and is added in fp32, one
/// at a time. The models must share the shape, labels and vocabulary, and the held-out split when they have one
/// (split.json, kept so that <c>eval</c> scores it); the output is an ordinary classifier folder, written as one unit.
/// </summary>
public static class ModelAverager
{
    public static async Task<AverageReport> RunAsync(AverageOptions o, HubClient hub, CancellationToken cancellationToken = default)
    {
        if (o.Models.Count < 2) throw new UsageException("model", $"takes two or more classifier folders to average, got {o.Models.Count}.");
        OutputFolder.CheckWritable(o.Output, o.Overwrite, resume: false);
        var folders = new List<string>();
        foreach (var model in o.Models)
            folders.Add(await ModelFolder.ResolveForInferenceAsync(hub, model, null, cancellationToken).ConfigureAwait(false));

        Dictionary<string, Tensor>? sum = null;
        BertConfig? config = null;
        string? vocab = null, tokenizerConfig = null;
        string? split = ReadSplit(folders[0]);
        try
        {
            foreach (var folder in folders)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var loaded = await ModelFolder.ForInferenceAsync(hub, folder, null, cancellationToken).ConfigureAwait(false);
                using var model = loaded.Model;
                using var scope = NewDisposeScope();
                var state = ModelExport.MergedStateDict(model);
                if (sum is null)
                {
                    (config, vocab, tokenizerConfig) = (model.Config, loaded.VocabPath, loaded.TokenizerConfigPath);
                    sum = state.ToDictionary(kv => kv.Key, kv => kv.Value.to(ScalarType.Float32).clone().MoveToOuterDisposeScope());
                    continue;
                }
                CheckSameKind(folders[0], config!, vocab!, split, folder, model.Config, loaded.VocabPath, state, sum);
                foreach (var (key, tensor) in state) sum[key].add_(tensor.to(ScalarType.Float32));
            }

            foreach (var tensor in sum!.Values) tensor.div_(folders.Count);
            AtomicFolder.Write(o.Output, dir =>
            {
                (config! with { Architectures = ["BertForSequenceClassification"] }).Save(Path.Combine(dir, ModelFolder.Config));
                SafetensorsFile.Write(Path.Combine(dir, ModelFolder.Safetensors), sum);
                // Copied by content, not File.Copy: that would keep a read-only mode from a read-only source.
                File.WriteAllBytes(Path.Combine(dir, ModelFolder.Vocab), File.ReadAllBytes(vocab!));
                if (tokenizerConfig is not null) File.WriteAllBytes(Path.Combine(dir, ModelFolder.TokenizerConfig), File.ReadAllBytes(tokenizerConfig));
                if (split is not null) File.WriteAllText(Path.Combine(dir, SplitRecord.FileName), split);
                File.WriteAllText(Path.Combine(dir, OutputFolder.ArgsFile), TrainingArgs(folders).ToJsonString(new() { WriteIndented = true }));
            });
            return new AverageReport(Path.GetFullPath(o.Output), folders, sum.Values.Sum(t => t.numel()), config!.Labels, split is not null);
        }
        finally
        {
            foreach (var tensor in sum?.Values ?? Enumerable.Empty<Tensor>()) tensor.Dispose();
        }
    }

    /// <summary>A model that cannot be averaged with the first is named with the first difference found.</summary>
    static void CheckSameKind(string first, BertConfig firstConfig, string firstVocab, string? firstSplit,
                              string folder, BertConfig config, string vocab, Dictionary<string, Tensor> state, Dictionary<string, Tensor> sum)
    {
        if (!config.Labels.SequenceEqual(firstConfig.Labels))
            throw new ModelFormatException($"{folder}: labels {string.Join(", ", config.Labels)} differ from {first}'s {string.Join(", ", firstConfig.Labels)}; only models of one task can be averaged.");
        foreach (var key in sum.Keys.Union(state.Keys))
        {
            if (!state.TryGetValue(key, out var tensor) || !sum.TryGetValue(key, out var total))
                throw new ModelFormatException($"{folder}: weight {key} is in one model and not the other ({first}); only models of one shape can be averaged.");
            if (!tensor.shape.SequenceEqual(total.shape))
                throw new ModelFormatException($"{folder}: weight {key} is [{string.Join(", ", tensor.shape)}], [{string.Join(", ", total.shape)}] in {first}; only models of one shape can be averaged.");
        }
        if (!File.ReadAllBytes(vocab).AsSpan().SequenceEqual(File.ReadAllBytes(firstVocab)))
            throw new ModelFormatException($"{folder}: its vocabulary differs from {first}'s; the same ids would mean other words.");
        if (ReadSplit(folder) != firstSplit)
            throw new ModelFormatException($"{folder}: its {SplitRecord.FileName} differs from {first}'s (or only one has it); an average of models " +
                                          "trained on other reviews would have no held-out reviews of its own.");
    }

    static string? ReadSplit(string folder)
    {
        var path = Path.Combine(folder, SplitRecord.FileName);
        return File.Exists(path) ? File.ReadAllText(path) : null;
    }

    /// <summary>The first model's training_args.json (eval and predict read its max_length and truncation), and what was averaged.</summary>
    static JsonObject TrainingArgs(IReadOnlyList<string> folders)
    {
        var path = Path.Combine(folders[0], OutputFolder.ArgsFile);
        var args = File.Exists(path) && JsonNode.Parse(File.ReadAllText(path)) is JsonObject saved ? saved : new JsonObject();
        args["average_of"] = new JsonArray([.. folders.Select(f => (JsonNode)Path.GetFullPath(f))]);
        return args;
    }
}
