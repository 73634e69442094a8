using Blockbuster.Training.Evaluation;
using Spectre.Console;

namespace Blockbuster.Cli.Rendering;

/// <summary>The model card's metrics as a table, with the confusion matrix beside them.</summary>
public static class MetricsTable
{
    public static void Write(IAnsiConsole console, ClassificationMetrics m, string title, IReadOnlyList<string>? labels = null)
    {
        labels ??= Training.Data.SentimentLabel.Names;
        var table = new Table().Title(title).AddColumn("metric").AddColumn(new TableColumn("value").RightAligned());
        table.AddRow("accuracy", $"{m.Accuracy:P2}");
        table.AddRow("precision", $"{m.Precision:P2}");
        table.AddRow("recall", $"{m.Recall:P2}");
        table.AddRow("F1", $"{m.F1:P2}");
        table.AddRow("ROC AUC", m.RocAuc is { } auc ? $"{auc:F4}" : "n/a");
        table.AddRow("log loss", $"{m.LogLoss:F4}");

        var confusion = new Table().Title("confusion matrix").AddColumn("true \\ predicted");
        foreach (var l in labels) confusion.AddColumn(new TableColumn(l).RightAligned());
        confusion.AddColumn(new TableColumn("support").RightAligned());
        for (int i = 0; i < m.ConfusionMatrix.Length; i++)
            confusion.AddRow([labels[i], .. m.ConfusionMatrix[i].Select(v => v.ToString("N0")), m.Support[i].ToString("N0")]);
        console.Write(new Columns(table, confusion).Collapse());
    }
}
