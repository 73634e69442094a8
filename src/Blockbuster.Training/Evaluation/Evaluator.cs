using System.Diagnostics;
using System.Globalization;
using Blockbuster.Model;
using Blockbuster.Model.Hub;
using Blockbuster.Training.Data;
using Blockbuster.Training.Tokenization;
using CsvHelper;
using TorchSharp;

namespace Blockbuster.Training.Evaluation;

/// <summary>
/// Scores a trained model: by default on the held-out split training saved (re-read from the recorded
/// CSV, whose sha256 must still match), or on any labelled CSV. Writes a confusion-matrix PNG next to
/// metrics.json when scoring the saved split, and optionally a predictions CSV.
/// </summary>
public static class Evaluator
{
    public const string ConfusionPng = "confusion_matrix.png";

    public static async Task<EvalReport> RunAsync(EvalOptions o, HubClient hub, IProgress<int>? progress = null, CancellationToken cancellationToken = default)
    {
        if (o.BatchSize <= 0) throw new UsageException("batch_size", $"must be positive, got {o.BatchSize}.");
        var clock = Stopwatch.StartNew();
        TorchRuntime.SetThreads(o.Threads);
        var device = SentimentClassifier.InferenceDevice(o.Device, o.Int8);
        var folder = await ModelFolder.ResolveForInferenceAsync(hub, o.Model, null, cancellationToken).ConfigureAwait(false);

        // The CSV is parsed and hashed (~1 s for IMDB in a fresh process) while LibTorch starts and the model
        // loads; missing files are still reported before anything loads.
        // So is tokenizing (~0.6 s for 10k reviews), when the folder's own config and vocabulary say how.
        bool savedSplit = o.Data is null;
        var reading = savedSplit ? ReadSavedSplit(folder) : ReadCsv(o);
        var early = TokenizerBeforeLoad(folder, o.MaxLength);
        if (o.Windows && o.Truncation is not null)
            throw new UsageException("windows", "reads the whole review, so it takes no `truncation`: choose one of them.");
        var truncation = ModelSettings.Truncation(folder, o.Truncation);
        Encoding[][] Encode(BertWordPieceTokenizer tokenizer, string[] texts, int maxLength) =>
            tokenizer.EncodeAllForReading(texts, maxLength, truncation, o.Windows, o.Threads, cancellationToken);
        var tokenizing = early is var (earlyTokenizer, earlyMaxLength)
            ? reading.ContinueWith(r => Encode(earlyTokenizer, r.Result.Reviews.Texts.ToArray(), earlyMaxLength),
                                   cancellationToken, TaskContinuationOptions.OnlyOnRanToCompletion, TaskScheduler.Default)
            : null;
        var loaded = await ModelFolder.ForInferenceAsync(hub, folder, null, cancellationToken, o.Quantize).ConfigureAwait(false);
        using var model = loaded.Model;
        var (reviews, source) = await reading.ConfigureAwait(false);
        if (!(model.Config.NumLabels == 2 && model.Config.Labels.Contains(SentimentLabel.Positive)))
            throw new ModelFormatException($"{folder}: eval needs a two-label sentiment model with a '{SentimentLabel.Positive}' label; this one has {string.Join(", ", model.Config.Labels)}.");
        model.to(device);
        if (o.Int8) SentimentClassifier.QuantizeInt8(model, o.Quantize);
        var precision = PrecisionPolicy.Resolve(ModelSettings.Precision(folder, o.Precision), device);
        var (tokenizer, maxLength) = early ?? (BertWordPieceTokenizer.Load(loaded.VocabPath, loaded.TokenizerConfigPath),
                                               ModelSettings.MaxLength(folder, o.MaxLength, model.Config));
        var predictor = new Predictor(model, tokenizer, device, precision, maxLength, o.BatchSize);
        var loadTime = clock.Elapsed;

        var scoring = Stopwatch.StartNew();
        var windows = tokenizing is null
            ? Encode(tokenizer, reviews.Texts.ToArray(), maxLength)
            : await tokenizing.ConfigureAwait(false);
        var probabilities = predictor.Probabilities(windows, progress, cancellationToken);
        scoring.Stop();

        // Positive class = 'positive' whatever its id; labels in the data are 1 = positive.
        int positive = SentimentLabel.PositiveIndex(model.Config.Labels);
        var positiveProbability = probabilities.Select(p => (double)p[positive]).ToArray();
        var metrics = ClassificationMetrics.Compute(reviews.Labels, positiveProbability);

        // --plot PATH writes the picture for any data; scoring the saved split also puts it beside metrics.json.
        string? png = o.PlotPath ?? (savedSplit && Directory.Exists(folder) && IsWritable(folder) ? Path.Combine(folder, ConfusionPng) : null);
        if (png is not null) ConfusionPlot.Save(png, metrics, SentimentLabel.Names);
        if (o.PredictionsPath is { } predictionsPath) WritePredictions(predictionsPath, reviews, positiveProbability);

        return new EvalReport(metrics, SentimentLabel.Names, source, folder, loaded.Kind, loadTime, scoring.Elapsed,
            reviews.Count / Math.Max(scoring.Elapsed.TotalSeconds, 1e-9), precision.Name, png, o.PredictionsPath,
            windows.Sum(w => w.Length));
    }

    /// <summary>
    /// The tokenizer and max length of a classifier folder (weights, config and vocab.txt side by side), known
    /// before its weights load; null for an adapter folder, whose base model may supply them.
    /// </summary>
    static (BertWordPieceTokenizer Tokenizer, int MaxLength)? TokenizerBeforeLoad(string folder, int? requestedMaxLength) =>
        ModelFolder.ClassifierTokenizerFiles(folder) is var (vocab, tokenizerConfig)
            ? (BertWordPieceTokenizer.Load(vocab, tokenizerConfig),
               ModelSettings.MaxLength(folder, requestedMaxLength, BertConfig.Load(Path.Combine(folder, ModelFolder.Config))))
            : null;

    static Task<(ReviewSet Reviews, string Source)> ReadSavedSplit(string folder)
    {
        var splitPath = Path.Combine(folder, SplitRecord.FileName);
        if (!File.Exists(splitPath))
            throw new DataFormatException($"{folder} has no {SplitRecord.FileName} (it was not written by 'blockbuster train'); pass `data` PATH to score a labelled CSV.");
        var split = SplitRecord.Load(splitPath);
        DataPreparation.CheckDataExists(split);
        return Task.Run(() =>
        {
            var (_, test) = DataPreparation.FromSplit(split);
            return (test, $"held-out split of {Path.GetFileName(split.DataPath)} ({test.Count:N0} reviews)");
        });
    }

    static Task<(ReviewSet Reviews, string Source)> ReadCsv(EvalOptions o)
    {
        if (!File.Exists(o.Data)) throw new DataFormatException($"{o.Data}: file not found.");
        return Task.Run(() =>
        {
            var reviews = ReviewCsv.Read(o.Data!, new ReviewCsvOptions(o.TextColumn, o.LabelColumn, o.SkipInvalidRows, o.Encoding));
            var skipped = reviews.SkippedRows > 0 ? $", {reviews.SkippedRows:N0} invalid rows skipped" : "";
            return (reviews, $"{Path.GetFileName(o.Data)} ({reviews.Count:N0} reviews{skipped})");
        });
    }

    static void WritePredictions(string path, ReviewSet reviews, IReadOnlyList<double> positiveProbability) =>
        AtomicFile.Write(path, stream =>
        {
            using var writer = new StreamWriter(stream, leaveOpen: true);
            using var csv = new CsvWriter(writer, CultureInfo.InvariantCulture);
            csv.WriteField("text"); csv.WriteField("label"); csv.WriteField("predicted"); csv.WriteField("probability");
            csv.NextRecord();
            for (int i = 0; i < reviews.Count; i++)
            {
                bool predictedPositive = positiveProbability[i] >= 0.5;
                csv.WriteField(reviews.Texts[i]);
                csv.WriteField(SentimentLabel.Names[reviews.Labels[i]]);
                csv.WriteField(SentimentLabel.Names[predictedPositive ? 1 : 0]);
                csv.WriteField((predictedPositive ? positiveProbability[i] : 1 - positiveProbability[i]).ToString("F6", CultureInfo.InvariantCulture));
                csv.NextRecord();
            }
        });

    static bool IsWritable(string folder)
    {
        try
        {
            var probe = Path.Combine(folder, $".write-test-{Guid.NewGuid():N}");
            File.WriteAllText(probe, "");
            File.Delete(probe);
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException) { return false; }
    }
}
