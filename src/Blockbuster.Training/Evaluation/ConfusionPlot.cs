namespace Blockbuster.Training.Evaluation;

/// <summary>The confusion matrix as an annotated heatmap PNG (ScottPlot), written atomically.</summary>
public static class ConfusionPlot
{
    public static void Save(string path, ClassificationMetrics metrics, IReadOnlyList<string> labels)
    {
        int n = metrics.ConfusionMatrix.Length;
        // Heatmap rows are drawn top to bottom; row 0 = true label 0.
        var values = new double[n, n];
        for (int r = 0; r < n; r++)
            for (int c = 0; c < n; c++)
                values[r, c] = metrics.ConfusionMatrix[r][c];

        var plot = new ScottPlot.Plot();
        var heatmap = plot.Add.Heatmap(values);
        heatmap.Colormap = new ScottPlot.Colormaps.Blues();
        for (int r = 0; r < n; r++)
            for (int c = 0; c < n; c++)
            {
                var text = plot.Add.Text($"{metrics.ConfusionMatrix[r][c]:N0}", c, n - 1 - r);
                text.LabelFontSize = 26;
                text.LabelAlignment = ScottPlot.Alignment.MiddleCenter;
                text.LabelFontColor = values[r, c] > values.Cast<double>().Max() / 2 ? ScottPlot.Colors.White : ScottPlot.Colors.Black;
            }
        plot.Axes.Bottom.SetTicks(Enumerable.Range(0, n).Select(i => (double)i).ToArray(), labels.ToArray());
        plot.Axes.Left.SetTicks(Enumerable.Range(0, n).Select(i => (double)(n - 1 - i)).ToArray(), labels.ToArray());
        plot.XLabel("predicted");
        plot.YLabel("true");
        plot.Title($"Confusion matrix — accuracy {metrics.Accuracy:P2}, F1 {metrics.F1:P2}");
        var temp = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(path))!, $".{Path.GetFileName(path)}.{Guid.NewGuid():N}.png");
        try
        {
            plot.SavePng(temp, 620, 560);
            File.Move(temp, path, overwrite: true);
        }
        finally
        {
            if (File.Exists(temp)) File.Delete(temp);
        }
    }
}
