namespace Blockbuster.Training;

/// <summary>Training loss per step and held-out accuracy per epoch, as a PNG (ScottPlot).</summary>
public static class CurvePlot
{
    public static void Save(string path, IReadOnlyList<(double Step, double Loss)> losses, IReadOnlyList<(double Step, double Accuracy)> accuracies)
    {
        var plot = new ScottPlot.Plot();
        if (losses.Count > 0)
        {
            var loss = plot.Add.ScatterLine(losses.Select(p => p.Step).ToArray(), Smooth(losses.Select(p => p.Loss).ToArray()));
            loss.LegendText = "training loss (smoothed)";
            loss.LineWidth = 1.5f;
        }
        if (accuracies.Count > 0)
        {
            var accuracy = plot.Add.Scatter(accuracies.Select(p => p.Step).ToArray(), accuracies.Select(p => p.Accuracy * 100).ToArray());
            accuracy.LegendText = "held-out accuracy (%)";
            accuracy.Axes.YAxis = plot.Axes.Right;
            accuracy.MarkerSize = 8;
            plot.Axes.Right.Label.Text = "accuracy (%)";
        }
        plot.Title("Blockbuster training");
        plot.XLabel("optimizer step");
        plot.YLabel("loss");
        plot.ShowLegend(ScottPlot.Alignment.UpperRight);
        plot.SavePng(path, 1000, 560);
    }

    /// <summary>Exponential moving average, like TensorBoard's smoothing slider at 0.9.</summary>
    static double[] Smooth(double[] values, double weight = 0.9)
    {
        var smoothed = new double[values.Length];
        double last = values.Length > 0 ? values[0] : 0;
        for (int i = 0; i < values.Length; i++) smoothed[i] = last = last * weight + (1 - weight) * values[i];
        return smoothed;
    }
}
