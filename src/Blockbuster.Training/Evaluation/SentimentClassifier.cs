using Blockbuster.Model;
using Blockbuster.Model.Hub;
using Blockbuster.Training.Tokenization;
using TorchSharp;

namespace Blockbuster.Training.Evaluation;

/// <summary>What <c>blockbuster predict</c> takes besides the texts.</summary>
/// <param name="Windows">read every token of a longer text, in evenly spaced windows of MaxLength whose probabilities are averaged (not with Truncation)</param>
public sealed record PredictOptions(string Model = "./blockbuster-model", int? MaxLength = null, int BatchSize = 16,
                                    string Device = "auto", int Threads = 0, string Precision = "auto", string? Truncation = null,
                                    Model.Quantization.Nf4Options? Quantize = null, bool Int8 = false, bool Windows = false);

/// <summary>One text's prediction. <see cref="Label"/> is null for an empty text, which gets no prediction.</summary>
public sealed record SentimentPrediction(string? Label, double Probability, IReadOnlyDictionary<string, double> Probabilities,
                                         int Tokens, bool Truncated, string? Error);

/// <summary>
/// A trained classifier loaded once (a <c>train</c> output, a Hugging Face BERT classifier folder, a PEFT adapter folder or a
/// Hub id); texts are tokenized and batched together. Safe for concurrent callers (they take turns on the model).
/// <code>
/// using var classifier = await SentimentClassifier.LoadAsync("./blockbuster-model");
/// var p = classifier.Predict("A wonderful film.");   // p.Label == "positive", p.Probability == 0.98…
/// </code>
/// </summary>
public sealed class SentimentClassifier : IDisposable
{
    readonly LoadedModel loaded;
    readonly BertWordPieceTokenizer tokenizer;
    readonly Predictor predictor;

    public int MaxLength { get; }
    public Truncation Truncation { get; }
    /// <summary>Whether a text longer than <see cref="MaxLength"/> is read whole, in windows (else cut by <see cref="Truncation"/>).</summary>
    public bool Windows { get; }
    public IReadOnlyList<string> Labels => loaded.Model.Config.Labels;
    public string Kind => loaded.Kind;
    public string Folder => loaded.Folder;
    /// <summary>How the encoder's weights are held: "nf4", "int8", or null for full precision.</summary>
    public string? Quantization { get; }

    readonly string precision;
    readonly object gate = new();   // one forward pass at a time: the predictor already uses both cores

    SentimentClassifier(LoadedModel loaded, BertWordPieceTokenizer tokenizer, Predictor predictor, int maxLength, Truncation truncation, bool windows,
                        string precision, string? quantization)
    {
        Windows = windows;
        this.precision = precision;
        Quantization = quantization;
        Truncation = truncation;
        this.loaded = loaded;
        this.tokenizer = tokenizer;
        this.predictor = predictor;
        MaxLength = maxLength;
    }

    public static async Task<SentimentClassifier> LoadAsync(PredictOptions o, HubClient hub, CancellationToken cancellationToken = default)
    {
        if (o.BatchSize <= 0) throw new UsageException("batch_size", $"must be positive, got {o.BatchSize}.");
        if (o.Windows && o.Truncation is not null)
            throw new UsageException("windows", "reads the whole text, so it takes no `truncation`: choose one of them.");
        TorchRuntime.SetThreads(o.Threads);
        var device = InferenceDevice(o.Device, o.Int8);
        var folder = await ModelFolder.ResolveForInferenceAsync(hub, o.Model, null, cancellationToken).ConfigureAwait(false);
        // A classifier folder names its vocabulary before the weights load: read it on the other core meanwhile.
        var earlyTokenizer = ModelFolder.ClassifierTokenizerFiles(folder) is var (vocab, tokenizerConfig)
            ? Task.Run(() => BertWordPieceTokenizer.Load(vocab, tokenizerConfig), cancellationToken)
            : null;
        var loaded = await ModelFolder.ForInferenceAsync(hub, folder, null, cancellationToken, o.Quantize).ConfigureAwait(false);
        try
        {
            loaded.Model.to(device);
            if (o.Int8) QuantizeInt8(loaded.Model, o.Quantize);
            var precision = PrecisionPolicy.Resolve(ModelSettings.Precision(folder, o.Precision), device);
            int maxLength = ModelSettings.MaxLength(folder, o.MaxLength, loaded.Model.Config);
            var tokenizer = earlyTokenizer is not null
                ? await earlyTokenizer.ConfigureAwait(false)
                : BertWordPieceTokenizer.Load(loaded.VocabPath, loaded.TokenizerConfigPath);
            return new SentimentClassifier(loaded, tokenizer, new Predictor(loaded.Model, tokenizer, device, precision, maxLength, o.BatchSize), maxLength,
                                           ModelSettings.Truncation(folder, o.Truncation), o.Windows, precision.Name,
                                           o.Int8 ? "int8" : o.Quantize is not null ? "nf4" : null);
        }
        catch
        {
            loaded.Model.Dispose();
            throw;
        }
    }

    /// <summary>The device eval and predict score on: int8's kernels are CPU ones, so with int8 "auto" means the CPU.</summary>
    internal static TorchSharp.torch.Device InferenceDevice(string requested, bool int8) =>
        TorchRuntime.ResolveDevice(int8 && requested == "auto" ? "cpu" : requested);

    /// <summary>The int8 step (eval and predict share it): after the move to the device, which it must be the CPU.</summary>
    internal static void QuantizeInt8(Model.BertForSequenceClassification model, Model.Quantization.Nf4Options? nf4)
    {
        if (nf4 is not null) throw new UsageException("quantize", "choose one of nf4 and int8.");
        Model.Quantization.Int8DynamicQuantizer.Quantize(model);
    }

    /// <summary>Loads with the defaults (CPU or CUDA as available, the folder's precision and max length, Hub via the environment).</summary>
    public static Task<SentimentClassifier> LoadAsync(string model, CancellationToken cancellationToken = default) =>
        LoadAsync(new PredictOptions(model), new HubClient(HubOptions.FromEnvironment()), cancellationToken);

    /// <summary>One text's label and probabilities.</summary>
    public SentimentPrediction Predict(string text) => Predict([text])[0];

    /// <summary>Many texts, scored in length-sorted batches; results in input order.</summary>
    public IReadOnlyList<SentimentPrediction> Predict(IEnumerable<string> texts, CancellationToken cancellationToken = default) =>
        Predict(texts.ToArray<string?>(), cancellationToken);

    public IReadOnlyList<SentimentPrediction> Predict(IReadOnlyList<string?> texts, CancellationToken cancellationToken = default)
    {
        lock (gate) return PredictUnlocked(texts, cancellationToken);
    }

    IReadOnlyList<SentimentPrediction> PredictUnlocked(IReadOnlyList<string?> texts, CancellationToken cancellationToken)
    {
        var valid = Enumerable.Range(0, texts.Count).Where(i => !string.IsNullOrWhiteSpace(texts[i])).ToArray();
        var validTexts = valid.Select(i => texts[i]).ToArray();
        var windows = tokenizer.EncodeAllForReading(validTexts, MaxLength, Truncation, Windows);
        var probabilities = predictor.Probabilities(windows, null, cancellationToken);
        var result = new SentimentPrediction[texts.Count];
        var none = new Dictionary<string, double>();
        for (int i = 0; i < texts.Count; i++) result[i] = new SentimentPrediction(null, 0, none, 0, false, "empty text");
        for (int k = 0; k < valid.Length; k++)
        {
            var p = probabilities[k];
            int best = Array.IndexOf(p, p.Max());
            var perLabel = Labels.Select((label, j) => (label, j)).ToDictionary(x => x.label, x => (double)p[x.j]);
            // Read in several windows, the text was read whole: its tokens are counted uncut.
            var (tokens, truncated) = windows[k].Length == 1 ? (windows[k][0].Ids.Length, windows[k][0].Truncated) : (CountTokens(validTexts[k]!), false);
            result[valid[k]] = new SentimentPrediction(Labels[best], p[best], perLabel, tokens, truncated, null);
        }
        return result;
    }

    /// <summary>Token ids as scoring sees them: at most <see cref="MaxLength"/>, cut by <see cref="Truncation"/>.</summary>
    public Encoding Encode(string text) => tokenizer.Encode(text, MaxLength, Truncation);

    /// <summary>How many tokens a text has uncut, [CLS] and [SEP] included.</summary>
    public int CountTokens(string text) => tokenizer.Encode(text, int.MaxValue / 2).Ids.Length;

    /// <summary>Logits (N, labels) for encoded texts, in one call of the batched path.</summary>
    public float[][] Logits(IReadOnlyList<Encoding> encodings, CancellationToken cancellationToken = default)
    {
        lock (gate) return predictor.Logits(encodings, cancellationToken);
    }

    /// <summary>The compute precision in use (fp32, bf16, fp16).</summary>
    public string Precision => precision;

    public void Dispose() => loaded.Model.Dispose();
}
