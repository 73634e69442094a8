using Blockbuster.Training;
using Blockbuster.Training.Evaluation;
using SkiaSharp;

namespace Blockbuster.Tests;

/// <summary>The pictures are checked from their pixels, as a reader sees them.</summary>
public class PlotTests
{
    static ClassificationMetrics Metrics(long tn, long fp, long fn, long tp) => new()
    {
        ConfusionMatrix = [[tn, fp], [fn, tp]], Support = [tn + fp, fn + tp], Count = (int)(tn + fp + fn + tp),
        Accuracy = (double)(tn + tp) / (tn + fp + fn + tp), F1 = 2.0 * tp / (2 * tp + fp + fn),
    };

    // The full-data matrix that showed the bug (two big correct counts invisible), a lopsided one, one with a zero.
    [Theory]
    [InlineData(4425, 575, 521, 4479)]
    [InlineData(4990, 10, 2000, 3000)]
    [InlineData(0, 7, 3, 0)]
    public void Every_count_contrasts_with_its_cell_and_larger_counts_sit_on_darker_cells(long tn, long fp, long fn, long tp)
    {
        var (png, cells) = ConfusionPlot.Render(Metrics(tn, fp, fn, tp), ["negative", "positive"]);
        // To look at the pictures: BLOCKBUSTER_PLOT_DIR=/tmp/plots dotnet test --filter PlotTests
        if (Environment.GetEnvironmentVariable("BLOCKBUSTER_PLOT_DIR") is { Length: > 0 } dir)
            File.WriteAllBytes(Path.Combine(Directory.CreateDirectory(dir).FullName, $"confusion-{tn}-{fp}-{fn}-{tp}.png"), png);
        using var bitmap = SKBitmap.Decode(png);
        Assert.Equal(ConfusionPlot.Width, bitmap.Width);
        Assert.Equal(4, cells.Count);

        var background = new Dictionary<long, double>();
        foreach (var cell in cells)
        {
            Assert.True(cell.Right - cell.Left > 100 && cell.Bottom - cell.Top > 100, $"cell {cell.Row},{cell.Column} is too small: {cell}");
            // The cell's own colour, sampled just inside its four corners (away from the label).
            var corners = new[] { (cell.Left + 8, cell.Top + 8), (cell.Right - 8, cell.Top + 8), (cell.Left + 8, cell.Bottom - 8), (cell.Right - 8, cell.Bottom - 8) }
                .Select(p => bitmap.GetPixel((int)p.Item1, (int)p.Item2)).ToList();
            Assert.All(corners, c => Assert.Equal(corners[0], c));
            var fill = corners[0];

            // The label: pixels in the middle of the cell that contrast with the fill. Anti-aliased edges contrast
            // less; the glyphs' cores carry the label's colour.
            int cx = (int)((cell.Left + cell.Right) / 2), cy = (int)((cell.Top + cell.Bottom) / 2);
            int halfWidth = (int)((cell.Right - cell.Left) * 0.4), halfHeight = (int)((cell.Bottom - cell.Top) * 0.2);
            int readable = 0;
            for (int x = cx - halfWidth; x <= cx + halfWidth; x++)
                for (int y = cy - halfHeight; y <= cy + halfHeight; y++)
                    if (Contrast(bitmap.GetPixel(x, y), fill) >= 4.5) readable++;
            Assert.True(readable >= 40, $"count {cell.Count} at ({cell.Row},{cell.Column}): only {readable} label pixels reach contrast 4.5 with the cell {fill}");
            background[cell.Count] = Luminance(fill);
        }

        var byCount = background.OrderBy(kv => kv.Key).ToList();
        for (int i = 1; i < byCount.Count; i++)
            Assert.True(byCount[i].Value < byCount[i - 1].Value, $"count {byCount[i].Key} is drawn lighter than {byCount[i - 1].Key}");
    }

    [Fact]
    public void Training_curves_are_drawn_from_the_log()
    {
        var log = new List<string>();
        for (int step = 1; step <= 60; step++) log.Add($$"""{"step":{{step}},"epoch":{{step / 20.0}},"loss":{{0.7 - step * 0.004}}}""");
        foreach (var (step, epoch, accuracy) in new[] { (20, 1, 0.8825), (40, 2, 0.8905), (60, 3, 0.8880) })
            log.Add($$"""{"step":{{step}},"epoch":{{epoch}},"eval_accuracy":{{accuracy}},"eval_loss":0.3}""");
        var path = Path.Combine(Path.GetTempPath(), $"curves-{Guid.NewGuid():N}.png");
        try
        {
            CurvePlot.Save(path, log);
            using var bitmap = SKBitmap.Decode(path);
            Assert.Equal(1000, bitmap.Width);
            Assert.Equal(600, bitmap.Height);
        }
        finally { File.Delete(path); }
    }

    [Theory]
    [InlineData(60, 10)]       // a short run: TensorBoard's 0.9, ~10 steps
    [InlineData(16_668, 166)]  // a long distillation: a hundredth of the run
    public void The_smoothed_curve_averages_over_a_hundredth_of_a_long_run(int steps, int window) =>
        Assert.Equal(1 - 1.0 / window, CurvePlot.SmoothingWeight(steps), 12);

    static double Luminance(SKColor c) => ConfusionPlot.Luminance(c.Red, c.Green, c.Blue);

    static double Contrast(SKColor a, SKColor b)
    {
        double la = Luminance(a), lb = Luminance(b);
        return (Math.Max(la, lb) + 0.05) / (Math.Min(la, lb) + 0.05);
    }
}
