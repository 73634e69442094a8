using Blockbuster.Model;
using ScottPlot;

namespace Blockbuster.Training.Evaluation;

/// <summary>
/// The confusion matrix as an annotated PNG (ScottPlot). Cells are filled on a sequential light-to-dark
/// blue ramp (matplotlib's "Blues": a large count is a dark cell), and each count is drawn in white or
/// black, whichever contrasts more with its own cell's colour. Row margins give each true class's recall,
/// column margins each predicted class's precision.
/// </summary>
public static class ConfusionPlot
{
    public const int Width = 680, Height = 600;

    /// <summary>Where a cell landed in the image, for callers (tests) that check the pixels.</summary>
    public sealed record Cell(int Row, int Column, long Count, float Left, float Top, float Right, float Bottom);

    public static void Save(string path, ClassificationMetrics metrics, IReadOnlyList<string> labels)
    {
        var (png, _) = Render(metrics, labels);
        AtomicFile.Write(path, stream => stream.Write(png));
    }

    public static (byte[] Png, IReadOnlyList<Cell> Cells) Render(ClassificationMetrics metrics, IReadOnlyList<string> labels)
    {
        var matrix = metrics.ConfusionMatrix;   // [true][predicted]
        int n = matrix.Length;
        long max = Math.Max(1, matrix.SelectMany(r => r).Max());

        var plot = new Plot();
        var drawn = new List<(int Row, int Column, long Count)>();
        for (int r = 0; r < n; r++)
            for (int c = 0; c < n; c++)
            {
                // Row 0 (true label 0) at the top: its cell spans y in [n-1, n].
                double top = n - r, bottom = n - r - 1;
                var fill = Blues((double)matrix[r][c] / max);
                var rectangle = plot.Add.Rectangle(c, c + 1, bottom, top);
                rectangle.FillStyle.Color = fill;
                rectangle.LineStyle.Color = Colors.White;
                rectangle.LineStyle.Width = 2;
                var label = LabelColourFor(fill);
                var text = plot.Add.Text($"{matrix[r][c]:N0}", c + 0.5, bottom + 0.5);
                text.LabelFontSize = 30;
                text.LabelBold = true;
                text.LabelFontColor = label;
                text.LabelAlignment = Alignment.MiddleCenter;
                drawn.Add((r, c, matrix[r][c]));
            }

        var recall = Enumerable.Range(0, n).Select(r => Ratio(matrix[r][r], matrix[r].Sum())).ToArray();
        var precision = Enumerable.Range(0, n).Select(c => Ratio(matrix[c][c], Enumerable.Range(0, n).Sum(r => matrix[r][c]))).ToArray();
        plot.Axes.Bottom.SetTicks(Enumerable.Range(0, n).Select(i => i + 0.5).ToArray(),
            Enumerable.Range(0, n).Select(i => $"{labels[i]}\nprecision {precision[i]:P1}").ToArray());
        plot.Axes.Left.SetTicks(Enumerable.Range(0, n).Select(i => n - i - 0.5).ToArray(),
            Enumerable.Range(0, n).Select(i => $"{labels[i]}\nrecall {recall[i]:P1}").ToArray());
        plot.Axes.Bottom.TickLabelStyle.FontSize = 15;
        plot.Axes.Left.TickLabelStyle.FontSize = 15;
        plot.Axes.Bottom.MajorTickStyle.Length = 0;
        plot.Axes.Left.MajorTickStyle.Length = 0;
        plot.Axes.SetLimits(0, n, 0, n);
        plot.Grid.IsVisible = false;
        plot.XLabel("predicted label");
        plot.YLabel("true label");
        plot.Title($"Confusion matrix: {metrics.Count:N0} reviews, accuracy {metrics.Accuracy:P2}, F1 {metrics.F1:P2}");
        plot.Axes.Title.Label.FontSize = 16;

        var png = plot.GetImage(Width, Height).GetImageBytes(ImageFormat.Png);
        var cells = drawn.Select(d =>
        {
            var topLeft = plot.GetPixel(new Coordinates(d.Column, n - d.Row));
            var bottomRight = plot.GetPixel(new Coordinates(d.Column + 1, n - d.Row - 1));
            return new Cell(d.Row, d.Column, d.Count, topLeft.X, topLeft.Y, bottomRight.X, bottomRight.Y);
        }).ToList();
        return (png, cells);
    }

    static double Ratio(long part, long whole) => whole == 0 ? 0 : (double)part / whole;

    /// <summary>matplotlib's "Blues" (ColorBrewer), white-ish at 0 and navy at 1.</summary>
    static readonly (byte R, byte G, byte B)[] BluesStops =
    [
        (0xf7, 0xfb, 0xff), (0xde, 0xeb, 0xf7), (0xc6, 0xdb, 0xef), (0x9e, 0xca, 0xe1), (0x6b, 0xae, 0xd6),
        (0x42, 0x92, 0xc6), (0x21, 0x71, 0xb5), (0x08, 0x51, 0x9c), (0x08, 0x30, 0x6b),
    ];

    static Color Blues(double t)
    {
        t = Math.Clamp(t, 0, 1) * (BluesStops.Length - 1);
        int i = Math.Min((int)t, BluesStops.Length - 2);
        double f = t - i;
        byte Mix(byte a, byte b) => (byte)Math.Round(a + (b - a) * f);
        var (lo, hi) = (BluesStops[i], BluesStops[i + 1]);
        return new Color(Mix(lo.R, hi.R), Mix(lo.G, hi.G), Mix(lo.B, hi.B));
    }

    /// <summary>White or black, whichever has the higher WCAG contrast ratio with the fill.</summary>
    public static Color LabelColourFor(Color fill) =>
        ContrastRatio(fill, Colors.White) >= ContrastRatio(fill, Colors.Black) ? Colors.White : Colors.Black;

    /// <summary>WCAG 2 relative luminance of an sRGB colour.</summary>
    public static double Luminance(byte r, byte g, byte b)
    {
        static double Linear(byte v) { double s = v / 255.0; return s <= 0.03928 ? s / 12.92 : Math.Pow((s + 0.055) / 1.055, 2.4); }
        return 0.2126 * Linear(r) + 0.7152 * Linear(g) + 0.0722 * Linear(b);
    }

    /// <summary>WCAG 2 contrast ratio, 1 (same) to 21 (black on white).</summary>
    public static double ContrastRatio(Color a, Color b)
    {
        double la = Luminance(a.R, a.G, a.B), lb = Luminance(b.R, b.G, b.B);
        return (Math.Max(la, lb) + 0.05) / (Math.Min(la, lb) + 0.05);
    }
}
