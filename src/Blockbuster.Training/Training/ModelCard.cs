using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Blockbuster.Model.Hub;

namespace Blockbuster.Training;

/// <summary>
/// README.md in the Hugging Face model card format: YAML front matter (license, base_model, datasets,
/// metrics, pipeline_tag, model-index with the held-out results), then the data, split, recipe, the
/// command that reproduces the run, the metrics and the limitations, so the folder is ready for the Hub.
/// </summary>
public static class ModelCard
{
    public const string FileName = "README.md";

    public static void Write(string path, OutputFolder.Snapshot s) => File.WriteAllText(path, Render(s));

    public static string Render(OutputFolder.Snapshot s)
    {
        var o = s.Options;
        var m = s.Metrics;
        bool hubBase = !o.FromScratch && !Directory.Exists(o.Model) && !HubClient.LooksLikeLocalPath(o.Model);
        var name = Path.GetFileName(Path.GetFullPath(o.Output).TrimEnd(Path.DirectorySeparatorChar));
        var culture = CultureInfo.InvariantCulture;
        string Percent(string key) => m?[key] is { } v ? (v.GetValue<double>() * 100).ToString("F2", culture) + " %" : "n/a";

        var card = new StringBuilder();
        card.AppendLine("---");
        card.AppendLine(hubBase && o.Model == "prajjwal1/bert-tiny" ? "license: mit" : "license: other");
        if (hubBase) card.AppendLine($"base_model: {o.Model}");
        card.AppendLine("library_name: transformers");
        card.AppendLine("pipeline_tag: text-classification");
        card.AppendLine("language: en");
        card.AppendLine("datasets:\n- stanfordnlp/imdb");
        card.AppendLine("metrics:\n- accuracy\n- precision\n- recall\n- f1");
        card.AppendLine("tags:\n- blockbuster\n- sentiment-analysis" + (o.UsesLora ? "\n- lora\n- peft" : ""));
        if (m is not null)
        {
            card.AppendLine("model-index:");
            card.AppendLine($"- name: {name}");
            card.AppendLine("  results:");
            card.AppendLine("  - task:\n      type: text-classification\n      name: Sentiment classification");
            card.AppendLine($"    dataset:\n      type: imdb\n      name: {Path.GetFileName(o.Data)}, held-out {o.TestSize:P0} (stratified, seed {o.Seed})\n      split: held-out");
            card.AppendLine("    metrics:");
            foreach (var key in new[] { "accuracy", "precision", "recall", "f1" })
                card.AppendLine($"    - type: {key}\n      value: {m[key]!.GetValue<double>().ToString("R", culture)}");
        }
        card.AppendLine("---");
        card.AppendLine();
        card.AppendLine($"# {name}");
        card.AppendLine();
        card.AppendLine($"A movie-review sentiment classifier (`negative` / `positive`) fine-tuned with Blockbuster {s.Options.Version} " +
                        $"from {(o.FromScratch ? $"random weights in the shape of `{o.Model}`" : $"`{o.Model}`")}" +
                        $"{(o.UsesLora ? $", with LoRA adapters (r {o.LoraR}, alpha {o.LoraAlpha}, on {string.Join(", ", o.LoraTargets)}) merged into `model.safetensors`; the PEFT adapter alone is in `adapter/`" : ", every weight trained")}.");
        card.AppendLine();
        card.AppendLine("## Data and split");
        card.AppendLine();
        card.AppendLine($"`{Path.GetFileName(o.Data)}` (sha256 `{s.Split.DataSha256}`): {s.Split.TrainRows.Length:N0} reviews for training and " +
                        $"{s.Split.TestRows.Length:N0} held out, a stratified split with seed {o.Seed}; `split.json` lists the CSV rows of each side. " +
                        "A random split of the IMDB reviews puts reviews of the same film on both sides, which flatters a model compared with " +
                        "the dataset's own train/test halves (disjoint films).");
        card.AppendLine();
        card.AppendLine("## Recipe");
        card.AppendLine();
        card.AppendLine($"AdamW (weight decay {o.WeightDecay}), peak learning rate {o.EffectiveLearningRate} with linear decay (warmup {o.EffectiveWarmupRatio:P0}), " +
                        $"{o.Epochs} epochs, batch {o.BatchSize} × gradient accumulation {o.GradientAccumulation}, max length {o.MaxLength} " +
                        $"(truncation: {o.Truncation}), clipping at {o.MaxGradNorm}, precision {o.Precision}." +
                        (o.KeepBest ? $" The weights are those of the epoch with the best held-out {o.BestMetric}." : ""));
        card.AppendLine();
        card.AppendLine("```");
        card.AppendLine(Command(o));
        card.AppendLine("```");
        card.AppendLine();
        card.AppendLine("## Held-out metrics");
        card.AppendLine();
        if (m is null) card.AppendLine("Not evaluated yet (the run was saved before its first epoch ended).");
        else
        {
            card.AppendLine($"Epoch {m["epoch"]}{(m["best_epoch"] is { } b ? $" (best by {o.BestMetric})" : "")}, {m["count"]} reviews:");
            card.AppendLine();
            card.AppendLine("| accuracy | precision | recall | F1 |");
            card.AppendLine("|---|---|---|---|");
            card.AppendLine($"| {Percent("accuracy")} | {Percent("precision")} | {Percent("recall")} | {Percent("f1")} |");
        }
        card.AppendLine();
        card.AppendLine("## Use");
        card.AppendLine();
        card.AppendLine($"```\nblockbuster predict --model {name} \"I loved this movie!\"\n```");
        card.AppendLine();
        card.AppendLine("or with Python transformers: `AutoModelForSequenceClassification.from_pretrained(folder)` and `AutoTokenizer.from_pretrained(folder)`.");
        card.AppendLine();
        card.AppendLine("## Limitations");
        card.AppendLine();
        card.AppendLine($"Trained on English IMDB movie reviews only; other domains, languages, sarcasm and mixed opinions are scored less reliably. " +
                        $"Reviews longer than {o.MaxLength} word pieces are truncated ({o.Truncation}). The two labels are all it knows: " +
                        "a neutral text still gets one of them.");
        return card.ToString();
    }

    /// <summary>The <c>blockbuster train</c> command line that reproduces the run: every option that differs from its default.</summary>
    public static string Command(TrainingOptions o)
    {
        var defaults = JsonSerializer.SerializeToNode(new TrainingOptions())!.AsObject();
        var actual = JsonSerializer.SerializeToNode(o)!.AsObject();
        var flags = new Dictionary<string, string>
        {
            ["learning_rate"] = "--lr", ["gradient_accumulation_steps"] = "--gradient-accumulation", ["metric_for_best_model"] = "--best-metric",
        };
        string[] skip = ["blockbuster_format", "blockbuster_version", "overwrite", "resume", "device", "threads", "output"];
        var line = new StringBuilder(o.Distills ? "blockbuster distill" : "blockbuster train");
        line.Append(" --data ").Append(Quote(o.Data));
        foreach (var (key, value) in actual)
        {
            if (key == "data" || skip.Contains(key) || JsonNode.DeepEquals(value, defaults[key])) continue;
            var flag = flags.GetValueOrDefault(key) ?? "--" + key.Replace('_', '-');
            if (value is JsonValue v && v.TryGetValue<bool>(out var on)) { if (on) line.Append(' ').Append(flag); continue; }
            var text = value is JsonArray array ? string.Join(',', array.Select(x => x!.ToString())) : value?.ToString() ?? "";
            line.Append(' ').Append(flag).Append(' ').Append(Quote(text));
        }
        return line.ToString();
    }

    static string Quote(string s) => s.Length > 0 && s.All(c => char.IsLetterOrDigit(c) || "-_./+,:=".Contains(c)) ? s : $"'{s.Replace("'", "'\\''")}'";
}
