namespace Blockbuster.Training.Evaluation;

/// <summary>What <c>blockbuster eval</c> takes.</summary>
/// <param name="Data">a labelled CSV to score; null scores the held-out split that training saved</param>
/// <param name="MaxLength">null: the length the model was trained with (training_args.json), else 512</param>
/// <param name="PredictionsPath">a CSV to write text, label, predicted label and probability to</param>
/// <param name="Quantize">run the encoder and pooler in NF4</param>
/// <param name="Int8">dynamic int8 linear layers in the encoder (CPU), as PyTorch's quantize_dynamic</param>
/// <param name="Windows">read every token of a longer review, in evenly spaced windows of MaxLength whose probabilities are averaged (not with Truncation)</param>
/// <param name="Truncation">head, tail or head+tail; null: as trained (training_args.json), else head</param>
/// <param name="Encoding">how --data is decoded: utf-8 (strict) or latin1</param>
/// <param name="PlotPath">a PNG to draw the confusion matrix in (scoring the saved split writes one beside metrics.json anyway)</param>
public sealed record EvalOptions(
    string Model = "./blockbuster-model", string? Data = null, string TextColumn = "review", string LabelColumn = "sentiment",
    bool SkipInvalidRows = false, int? MaxLength = null, int BatchSize = 16, string Device = "auto", int Threads = 0,
    string Precision = "auto", string? PredictionsPath = null, string? PlotPath = null, string Encoding = Data.TextEncoding.Utf8, string? Truncation = null, Model.Quantization.Nf4Options? Quantize = null, bool Int8 = false,
    bool Windows = false);

/// <summary>The result of an evaluation. <paramref name="Windows"/>: the forward passes' inputs, one per review unless read in windows.</summary>
public sealed record EvalReport(
    ClassificationMetrics Metrics, IReadOnlyList<string> Labels, string Source, string ModelFolder, string ModelKind,
    TimeSpan LoadTime, TimeSpan ScoreTime, double ReviewsPerSecond, string Precision, string? ConfusionMatrixPng, string? PredictionsPath,
    int Windows);
