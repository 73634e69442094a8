using System.Globalization;
using System.Text;
using Blockbuster.Training.Evaluation;

namespace Blockbuster.Cli.Rendering;

/// <summary>
/// predict's output for any number of texts: texts are taken in chunks, scored, printed and let go, so a
/// file of millions of lines runs in constant memory. Progress (texts so far and per second) goes to stderr
/// on a terminal; per-text notes (empty, truncated) are printed for the first few and then counted.
/// </summary>
public sealed class StreamingPredictions(SentimentClassifier classifier, bool json, Func<string, SentimentPrediction, string> jsonLine,
                                         CancellationToken cancellationToken) : IDisposable
{
    const int ChunkSize = 4096, NotesShown = 20;
    readonly List<string> pending = new(ChunkSize);
    readonly bool live = !Console.IsErrorRedirected;
    readonly System.Diagnostics.Stopwatch clock = System.Diagnostics.Stopwatch.StartNew();
    int notes, truncated, empty;

    public int Count { get; private set; }
    public int Labelled { get; private set; }

    public void Add(string text)
    {
        pending.Add(text);
        if (pending.Count == ChunkSize) Flush();
    }

    public void Flush()
    {
        if (pending.Count == 0) return;
        var predictions = classifier.Predict(pending, cancellationToken);
        var output = new StringBuilder();
        for (int i = 0; i < pending.Count; i++)
        {
            var p = predictions[i];
            int number = Count + i + 1;
            if (p.Error is { } error) { empty++; Note($"text {number}: {error}, no prediction."); }
            else if (p.Truncated) { truncated++; if (!json) Note($"text {number} was truncated to {classifier.MaxLength} tokens."); }
            if (p.Label is not null) Labelled++;
            output.AppendLine(json ? jsonLine(pending[i], p) : p.Label is null ? "(empty)" : $"{p.Label} {p.Probability.ToString("F2", CultureInfo.InvariantCulture)}");
        }
        Count += pending.Count;
        pending.Clear();
        ClearProgress();
        Console.Out.Write(output.ToString());
        Console.Out.Flush();
        if (live) Console.Error.Write($"\r{Count:N0} texts, {Count / Math.Max(clock.Elapsed.TotalSeconds, 1e-9):N0}/s");
    }

    void Note(string message)
    {
        if (++notes > NotesShown) return;
        ClearProgress();
        Console.Error.WriteLine($"blockbuster predict: {message}");
    }

    void ClearProgress() { if (live) Console.Error.Write("\r\u001b[2K"); }

    /// <summary>The notes not shown one by one, as one line each.</summary>
    public void Dispose()
    {
        ClearProgress();
        if (notes > NotesShown)
            Console.Error.WriteLine($"blockbuster predict: {empty:N0} empty and {truncated:N0} truncated texts in all (the first {NotesShown} were listed).");
    }
}
