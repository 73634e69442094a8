using System.Text.Json.Serialization;

namespace Blockbuster.Training.Evaluation;

/// <summary>
/// The model card's metrics for a binary classifier, positive class = label 1: accuracy, precision,
/// recall, F1, plus the confusion matrix (rows = true label, columns = predicted), ROC AUC, log loss and
/// support. Precision or recall with a zero denominator is 0 (scikit-learn's zero_division=0), never NaN.
/// </summary>
public sealed record ClassificationMetrics
{
    [JsonPropertyName("accuracy")] public double Accuracy { get; init; }
    [JsonPropertyName("precision")] public double Precision { get; init; }
    [JsonPropertyName("recall")] public double Recall { get; init; }
    [JsonPropertyName("f1")] public double F1 { get; init; }
    [JsonPropertyName("roc_auc")] public double? RocAuc { get; init; }
    [JsonPropertyName("log_loss")] public double LogLoss { get; init; }
    [JsonPropertyName("confusion_matrix")] public long[][] ConfusionMatrix { get; init; } = [];
    [JsonPropertyName("support")] public long[] Support { get; init; } = [];
    [JsonPropertyName("count")] public int Count { get; init; }

    /// <summary>The metrics as one JSON object (their snake_case names), for the files and outputs that embed them.</summary>
    public System.Text.Json.Nodes.JsonObject ToJsonObject() => System.Text.Json.JsonSerializer.SerializeToNode(this)!.AsObject();

    /// <param name="labels">true labels, 0 or 1</param>
    /// <param name="positiveProbabilities">P(label = 1) per example</param>
    public static ClassificationMetrics Compute(IReadOnlyList<int> labels, IReadOnlyList<double> positiveProbabilities)
    {
        if (labels.Count != positiveProbabilities.Count) throw new ArgumentException("labels and probabilities differ in length.");
        if (labels.Count == 0) throw new ArgumentException("no examples to score.");
        long tp = 0, fp = 0, tn = 0, fn = 0;
        double logLoss = 0;
        const double eps = 1e-15;   // scikit-learn's clip
        for (int i = 0; i < labels.Count; i++)
        {
            double p = positiveProbabilities[i];
            bool predicted = p >= 0.5, actual = labels[i] == 1;
            if (predicted && actual) tp++;
            else if (predicted) fp++;
            else if (actual) fn++;
            else tn++;
            double q = Math.Clamp(actual ? p : 1 - p, eps, 1 - eps);
            logLoss -= Math.Log(q);
        }
        double precision = tp + fp == 0 ? 0 : (double)tp / (tp + fp);
        double recall = tp + fn == 0 ? 0 : (double)tp / (tp + fn);
        double f1 = precision + recall == 0 ? 0 : 2 * precision * recall / (precision + recall);
        return new ClassificationMetrics
        {
            Accuracy = (double)(tp + tn) / labels.Count,
            Precision = precision,
            Recall = recall,
            F1 = f1,
            RocAuc = ComputeRocAuc(labels, positiveProbabilities),
            LogLoss = logLoss / labels.Count,
            ConfusionMatrix = [[tn, fp], [fn, tp]],
            Support = [tn + fp, fn + tp],
            Count = labels.Count,
        };
    }

    /// <summary>Area under the ROC curve by the rank-sum (Mann–Whitney U) formula, ties given average ranks.
    /// Undefined (null) when only one class is present.</summary>
    public static double? ComputeRocAuc(IReadOnlyList<int> labels, IReadOnlyList<double> scores)
    {
        long positives = labels.Count(l => l == 1), negatives = labels.Count - positives;
        if (positives == 0 || negatives == 0) return null;
        var order = Enumerable.Range(0, scores.Count).OrderBy(i => scores[i]).ToArray();
        double rankSumPositive = 0;
        int k = 0;
        while (k < order.Length)
        {
            int end = k;
            while (end + 1 < order.Length && scores[order[end + 1]] == scores[order[k]]) end++;
            double averageRank = (k + end) / 2.0 + 1;   // ranks are 1-based
            for (int j = k; j <= end; j++)
                if (labels[order[j]] == 1) rankSumPositive += averageRank;
            k = end + 1;
        }
        return (rankSumPositive - positives * (positives + 1) / 2.0) / ((double)positives * negatives);
    }
}
