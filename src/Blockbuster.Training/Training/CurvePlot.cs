using System.Text.Json.Nodes;
using Blockbuster.Model;
using ScottPlot;

namespace Blockbuster.Training;

/// <summary>
/// training_curves.png, derived from the training log (training_log.jsonl, the one history a run keeps):
/// training loss per optimizer step (raw and smoothed), held-out loss and accuracy at each epoch's end,
/// epochs marked. The accuracy axis spans at least chance (50%, with a margin) to 100%, so a 0.8-point wiggle between
/// epochs looks like one.
/// </summary>
public static class CurvePlot
{
    /// <summary>
    /// The smoothed curve's exponential-moving-average weight: TensorBoard's slider at 0.9 (~10 steps) for short runs,
    /// a window of a hundredth of the run for long ones, so the line of a 16,000-step run is not as ragged as its steps.
    /// </summary>
    public static double SmoothingWeight(int steps) => 1 - 1.0 / Math.Max(10, steps / 100);

    /// <param name="heldOut">what the held-out points measure ("held-out", or "held-out masked-token" for pretraining)</param>
    /// <param name="training">what the per-step loss is over ("training loss", or more where pretraining adds an objective)</param>
    /// <param name="lossAxis">the left axis: what the losses are</param>
    public static void Save(string path, IReadOnlyList<string> logLines, string heldOut = "held-out", string training = "training loss",
                            string lossAxis = "cross-entropy loss")
    {
        var steps = new List<(double Step, double Loss)>();
        var evals = new List<(double Step, double Epoch, double Loss, double Accuracy)>();
        foreach (var line in logLines)
        {
            var node = JsonNode.Parse(line)!.AsObject();
            double step = node["step"]!.GetValue<double>();
            if (node["loss"] is { } loss) steps.Add((step, loss.GetValue<double>()));
            if (node["eval_accuracy"] is { } accuracy)
                evals.Add((step, node["epoch"]!.GetValue<double>(), node["eval_loss"]?.GetValue<double>() ?? double.NaN, accuracy.GetValue<double>()));
        }
        var plot = new Plot();

        double lossTop = Math.Max(steps.Count > 0 ? steps.Max(p => p.Loss) : 0, evals.Where(e => !double.IsNaN(e.Loss)).Select(e => e.Loss).DefaultIfEmpty(0).Max()) * 1.12 + 1e-6;
        // Evaluations that close an epoch get a dashed line and a name; pretraining also evaluates between them.
        foreach (var e in evals.Where(e => Math.Abs(e.Epoch - Math.Round(e.Epoch)) < 1e-6))
        {
            // Each epoch ends with a held-out evaluation: a dashed line and its name just left of it, at the top.
            var marker = plot.Add.VerticalLine(e.Step, 1, Colors.Gray.WithAlpha(0.6));
            marker.LinePattern = LinePattern.Dashed;
            var name = plot.Add.Text($"end of epoch {e.Epoch:0.##} ", e.Step, lossTop);
            name.LabelFontSize = 12;
            name.LabelFontColor = Colors.DimGray;
            name.LabelAlignment = Alignment.UpperRight;
        }
        if (steps.Count > 0)
        {
            double[] xs = steps.Select(p => p.Step).ToArray(), ys = steps.Select(p => p.Loss).ToArray();
            var raw = plot.Add.ScatterLine(xs, ys, Colors.SteelBlue.WithAlpha(0.25));
            raw.LegendText = $"{training} (per step)";
            double weight = SmoothingWeight(ys.Length);
            var smooth = plot.Add.ScatterLine(xs, Smooth(ys, weight), Colors.SteelBlue);
            smooth.LineWidth = 2;
            smooth.LegendText = $"{training} (EMA, weight {weight:0.###}, ~{1 / (1 - weight):0} steps)";
        }
        var withLoss = evals.Where(e => !double.IsNaN(e.Loss)).ToList();
        if (withLoss.Count > 0)
        {
            var heldOutLoss = plot.Add.Scatter(withLoss.Select(e => e.Step).ToArray(), withLoss.Select(e => e.Loss).ToArray(), Colors.DarkOrange);
            heldOutLoss.LegendText = $"{heldOut} loss";
            heldOutLoss.MarkerSize = 9;
            heldOutLoss.LineWidth = 2;
        }
        if (evals.Count > 0)
        {
            var accuracy = plot.Add.Scatter(evals.Select(e => e.Step).ToArray(), evals.Select(e => e.Accuracy * 100).ToArray(), Colors.SeaGreen);
            accuracy.LegendText = $"{heldOut} accuracy (%, right axis)";
            accuracy.Axes.YAxis = plot.Axes.Right;
            accuracy.MarkerSize = 9;
            accuracy.LineWidth = 2;
            accuracy.MarkerShape = MarkerShape.FilledSquare;
            double lowest = evals.Min(e => e.Accuracy * 100);
            plot.Axes.Right.Min = Math.Floor((Math.Min(50, lowest) - 5) / 5) * 5;   // chance level and a margin below it
            plot.Axes.Right.Max = 101;
            plot.Axes.Right.Label.Text = $"{heldOut} accuracy (%)";
        }
        plot.Axes.AutoScaleX();
        plot.Axes.Left.Min = 0;   // losses are non-negative; the top follows the data
        plot.Axes.Left.Max = lossTop;   // headroom above the curves for the epoch names
        plot.XLabel("optimizer step");
        plot.YLabel(lossAxis);
        plot.ShowLegend(Edge.Bottom);   // below the axes, where it hides no curve
        var png = plot.GetImage(1000, 600).GetImageBytes(ImageFormat.Png);
        AtomicFile.Write(path, stream => stream.Write(png));
    }

    static double[] Smooth(double[] values, double weight)
    {
        var smoothed = new double[values.Length];
        double last = values.Length > 0 ? values[0] : 0;
        for (int i = 0; i < values.Length; i++) smoothed[i] = last = last * weight + (1 - weight) * values[i];
        return smoothed;
    }
}
