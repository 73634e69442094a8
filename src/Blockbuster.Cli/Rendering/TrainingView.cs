using System.Globalization;
using Blockbuster.Model.Hub;
using Blockbuster.Training;
using Blockbuster.Training.Evaluation;
using Blockbuster.Training.Pretraining;
using Spectre.Console;

namespace Blockbuster.Cli.Rendering;

/// <summary>
/// Shows training as it runs: a live line (epoch, step, loss, lr, tokens/s, ETA) on a terminal, plain
/// log lines when stderr is redirected. Progress goes to stderr, results to stdout.
/// </summary>
public sealed class TrainingView(string unit = "reviews") : IDisposable
{
    readonly IAnsiConsole err = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
    readonly bool live = !Console.IsErrorRedirected && AnsiConsole.Profile.Capabilities.Ansi;
    TrainingStarted? started;
    readonly System.Diagnostics.Stopwatch sinceStart = new();   // this process's share of the run, for the ETA
    DateTime lastPlain = DateTime.MinValue;
    string lastLine = "";

    public void Handle(TrainingEvent e)
    {
        switch (e)
        {
            case TrainingStage s:
                ClearLive();
                err.MarkupLine($"[grey]•[/] {Markup.Escape(s.Message)}");
                break;
            case TrainingDownload { Progress: var d }:
                Live($"downloading {d.Repo}/{d.File}: {Bytes(d.Bytes)}{(d.Total is { } t ? " / " + Bytes(t) : "")}", d.Done);
                break;
            case TrainingStarted s:
                started = s;
                sinceStart.Restart();
                ClearLive();
                var mode = s.Lora ? "LoRA" : "full fine-tune";
                err.MarkupLine($"[grey]•[/] {s.TrainCount:N0} training / {s.TestCount:N0} held-out {unit}{(s.SkippedRows > 0 ? $" ({s.SkippedRows:N0} invalid rows skipped)" : "")}; " +
                               $"{mode}: {s.TrainableParameters:N0} of {s.TotalParameters:N0} parameters trainable");
                err.MarkupLine($"[grey]•[/] {Count(s.Epochs, "epoch")} × {Count(s.StepsPerEpoch, "step")}, lr {s.LearningRate.ToString("0.##e-0", CultureInfo.InvariantCulture)} (warmup {Count(s.WarmupSteps, "step")}), {s.Device}, {s.Precision}" +
                               (s.StartStep > 0 ? $", resuming at step {s.StartStep:N0}" : ""));
                if (s.Load is { ClassifierIsFresh: true }) err.MarkupLine("[grey]•[/] classifier head newly initialised (the checkpoint has none)");
                if (s.Load is { PoolerIsFresh: true }) err.MarkupLine("[grey]•[/] pooler newly initialised and trained (the checkpoint has none, as a masked-LM one)");
                break;
            case StepCompleted s when started is not null:
                var remaining = s.Step > started.StartStep
                    ? TimeSpan.FromSeconds(sinceStart.Elapsed.TotalSeconds / (s.Step - started.StartStep) * (s.TotalSteps - s.Step)) : TimeSpan.Zero;
                var line = $"epoch {s.Epoch + 1}/{started.Epochs}  step {s.Step:N0}/{s.TotalSteps:N0} ({100.0 * s.Step / s.TotalSteps:F0}%)  " +
                           $"loss {s.Loss:F4}  lr {s.LearningRate:0.00e+0}  {s.TokensPerSecond:N0} tok/s  ETA {Duration(remaining)}" + (s.Skipped ? "  (step skipped: inf/nan)" : "");
                Live(line, force: false);
                break;
            case EvaluationProgress p:
                Live(p.Epoch < 0 ? $"scoring with the teacher: {p.Done:N0}/{p.Total:N0} texts" : $"evaluating epoch {p.Epoch + 1}: {p.Done:N0}/{p.Total:N0} reviews", force: false);
                break;
            case MlmEvaluated m:
                ClearLive();
                err.MarkupLine($"[green]step {m.Step:N0}[/] (epoch {m.Epoch:F2})  held-out masked-token loss {m.Loss:F4}  accuracy {m.Accuracy:P2}  [grey]({Duration(m.Elapsed)})[/]");
                break;
            case EpochCompleted c:
                ClearLive();
                err.MarkupLine($"[green]epoch {c.Epoch}/{c.Epochs}[/]  accuracy {c.Metrics.Accuracy:P2}  precision {c.Metrics.Precision:P2}  recall {c.Metrics.Recall:P2}  " +
                               $"F1 {c.Metrics.F1:P2}  [grey]({Duration(c.Elapsed)})[/]");
                break;
        }
    }

    public void Finish(TrainingResult result)
    {
        ClearLive();
        if (result.Interrupted)
        {
            err.MarkupLine($"[yellow]Interrupted[/]: checkpoint saved in {Markup.Escape(result.Output)}; continue with [bold]--resume[/].");
            return;
        }
        if (result.Metrics is { } m) MetricsTable.Write(AnsiConsole.Console, m, $"Held-out metrics ({m.Count:N0} reviews{(result.BestEpoch is { } e ? $", best epoch {e}" : "")})");
        AnsiConsole.MarkupLine($"Saved to [bold]{Markup.Escape(result.Output)}[/] in {Duration(result.Elapsed)}.");
    }

    public void Finish(PretrainResult result)
    {
        ClearLive();
        if (result.Interrupted)
        {
            err.MarkupLine($"[yellow]Interrupted[/]: checkpoint saved in {Markup.Escape(result.Output)}; continue with [bold]--resume[/].");
            return;
        }
        if (result.HeldOutLoss is { } loss)
            AnsiConsole.MarkupLine($"Held-out masked-token loss {loss:F4} (perplexity {Math.Exp(loss):F1}), accuracy {result.HeldOutAccuracy:P2}");
        AnsiConsole.MarkupLine($"Saved to [bold]{Markup.Escape(result.Output)}[/] in {Duration(result.Elapsed)}.");
    }

    void Live(string line, bool force)
    {
        if (live)
        {
            lastLine = line;
            Console.Error.Write("\r\u001b[2K" + line);
            return;
        }
        if (force || DateTime.UtcNow - lastPlain > TimeSpan.FromSeconds(10))
        {
            lastPlain = DateTime.UtcNow;
            Console.Error.WriteLine(line);
        }
    }

    void ClearLive()
    {
        if (live && lastLine.Length > 0) Console.Error.Write("\r\u001b[2K");
        lastLine = "";
    }

    public void Dispose() => ClearLive();

    /// <summary>"1 epoch", "1,250 steps": a count with its noun, plural unless it is one.</summary>
    static string Count(int n, string noun) => n == 1 ? $"1 {noun}" : $"{n:N0} {noun}s";

    internal static string Duration(TimeSpan t) => t.TotalHours >= 1 ? $"{(int)t.TotalHours}h{t.Minutes:00}m" : t.TotalMinutes >= 1 ? $"{(int)t.TotalMinutes}m{t.Seconds:00}s" : $"{t.TotalSeconds:F1}s";

    static string Bytes(long b) => b >= 1 << 20 ? $"{b / (double)(1 << 20):F1} MB" : $"{b / 1024.0:F0} kB";
}
