using System.Diagnostics;
using System.Text.Json;
using Blockbuster.Model;

namespace Blockbuster.Tests;

/// <summary>
/// Real <c>blockbuster train</c> processes killed with SIGKILL (by the test, or by themselves at a named
/// point through BLOCKBUSTER_CRASH_AT: mid-step, mid-evaluation, mid-save, between the save's two renames),
/// then resumed: the result must be byte-identical to an uninterrupted run. Also the output folder's lock.
/// </summary>
[Collection("torch-global-state")]
public class CrashSafetyTests
{
    static readonly string Cli = Path.Combine(AppContext.BaseDirectory, "blockbuster.dll");

    sealed record Setup(TempDir Dir, string Data, string Model)
    {
        public string[] Train(string output, int epochs = 2, params string[] more) =>
        [
            "train", "--data", Data, "--model", Model, "--output", output, "--epochs", $"{epochs}", "--batch-size", "8", "--gradient-accumulation", "2",
            "--max-length", "32", "--lr", "5e-3", "--precision", "fp32", "--threads", "1", "--full-finetune", "--save-steps", "5", .. more,
        ];
    }

    static Setup Make()
    {
        var dir = new TempDir();
        return new Setup(dir, SyntheticReviews.WriteCsv(dir.File("reviews.csv"), 480), TinyModels.WriteBaseFolder(dir.File("base")));
    }

    /// <summary>Lines the children wrote to stderr, for the failure messages.</summary>
    readonly System.Collections.Concurrent.ConcurrentQueue<string> errors = new();

    Process Start(string[] args, string? crashAt = null)
    {
        var info = new ProcessStartInfo("dotnet") { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        info.ArgumentList.Add(Cli);
        foreach (var a in args) info.ArgumentList.Add(a);
        info.Environment["BLOCKBUSTER_CRASH_AT"] = crashAt ?? "";
        var process = Process.Start(info)!;
        process.OutputDataReceived += (_, _) => { };   // drained, so a full pipe never blocks the child
        process.ErrorDataReceived += (_, e) => { if (e.Data is { } line) errors.Enqueue(line); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    int Run(string[] args, string? crashAt = null)
    {
        using var process = Start(args, crashAt);
        if (!process.WaitForExit(TimeSpan.FromMinutes(3))) { process.Kill(); throw new TimeoutException(string.Join(' ', args)); }
        process.WaitForExit();   // the output pipes are drained
        return process.ExitCode;
    }

    void AssertSucceeds(string[] args)
    {
        int code = Run(args);
        Assert.True(code == 0, $"exit {code}: {string.Join(" | ", errors.TakeLast(5))}");
    }

    /// <summary>Waits until a run has written its first checkpoint (or ended, or two minutes passed).</summary>
    static async Task FirstCheckpoint(string output, Process process)
    {
        var clock = Stopwatch.StartNew();
        while (!File.Exists(Path.Combine(output, "checkpoint", "trainer_state.json")) && !process.HasExited && clock.Elapsed < TimeSpan.FromMinutes(2))
            await Task.Delay(20);
    }

    static string ComparableMetrics(string folder)
    {
        var json = JsonSerializer.Deserialize<Dictionary<string, JsonElement>>(File.ReadAllText(Path.Combine(folder, "metrics.json")))!;
        json.Remove("train_seconds");
        json.Remove("train_tokens_per_second");
        return JsonSerializer.Serialize(json);
    }

    static void AssertSameAsReference(string reference, string output)
    {
        Assert.Equal(File.ReadAllBytes(Path.Combine(reference, "model.safetensors")), File.ReadAllBytes(Path.Combine(output, "model.safetensors")));
        Assert.Equal(ComparableMetrics(reference), ComparableMetrics(output));
        Assert.Empty(Directory.GetDirectories(Path.GetDirectoryName(output)!, $".{Path.GetFileName(output)}.*"));
    }

    [Theory]
    [InlineData("step:37")]          // between a micro-batch's backward and the optimizer step, in epoch 2
    [InlineData("eval:1")]           // half way through the first held-out evaluation
    [InlineData("save-written:3")]   // a complete new folder written, not yet swapped in
    [InlineData("save-swap:4")]      // the old folder renamed aside, the new one not yet in its place
    public void Killed_at_a_named_point_then_resumed_ends_byte_identical(string crashAt)
    {
        var s = Make();
        using var _ = s.Dir;
        var reference = s.Dir.File("reference");
        AssertSucceeds(s.Train(reference));

        var output = s.Dir.File("crashed");
        int code = Run(s.Train(output), crashAt);
        Assert.Equal(128 + 9, code);   // killed by SIGKILL
        Assert.True(Directory.Exists(output) || Directory.GetDirectories(s.Dir.Path, ".crashed.old-*").Length > 0, "no checkpoint survived");
        AssertSucceeds(["train", "--output", output, "--resume", "--threads", "1"]);
        AssertSameAsReference(reference, output);
    }

    [Fact]
    public async Task Killed_from_outside_at_a_random_moment_then_resumed_ends_byte_identical()
    {
        var s = Make();
        using var _ = s.Dir;
        var reference = s.Dir.File("reference");
        AssertSucceeds(s.Train(reference));

        var output = s.Dir.File("killed");
        using (var process = Start(s.Train(output)))
        {
            // Once the first checkpoint exists, kill at a random moment of the rest of the run.
            await FirstCheckpoint(output, process);
            await Task.Delay(Random.Shared.Next(0, 400));
            if (!process.HasExited) process.Kill();
            process.WaitForExit();
        }
        if (File.Exists(Path.Combine(output, "checkpoint", "trainer_state.json")) &&
            JsonDocument.Parse(File.ReadAllText(Path.Combine(output, "checkpoint", "trainer_state.json"))).RootElement.GetProperty("epoch").GetInt32() < 2)
            AssertSucceeds(["train", "--output", output, "--resume", "--threads", "1"]);
        AssertSameAsReference(reference, output);
    }

    [Fact]
    public async Task A_pretraining_run_killed_and_resumed_in_a_new_process_ends_byte_identical()
    {
        // Every run here is a process of its own: the block order and the masks must not depend on anything a process
        // draws afresh (HashCode.Combine's per-process seed once made two identical commands train on other batches).
        var s = Make();
        using var _ = s.Dir;
        string[] Pretrain(string output) =>
        [
            "pretrain", "--data", s.Data, "--model", s.Model, "--from-scratch", "--output", output, "--max-length", "32", "--batch-size", "16",
            "--epochs", "2", "--lr", "5e-3", "--held-out-blocks", "16", "--save-steps", "3", "--precision", "fp32", "--threads", "1",
        ];
        var reference = s.Dir.File("reference");
        AssertSucceeds(Pretrain(reference));

        var output = s.Dir.File("killed");
        using (var process = Start(Pretrain(output)))
        {
            await FirstCheckpoint(output, process);
            if (!process.HasExited) process.Kill();
            process.WaitForExit();
        }
        var state = Path.Combine(output, "checkpoint", "trainer_state.json");
        if (File.Exists(state) && JsonDocument.Parse(File.ReadAllText(state)).RootElement.GetProperty("epoch").GetInt32() < 2)
            AssertSucceeds(["pretrain", "--output", output, "--resume", "--threads", "1"]);
        Assert.Equal(File.ReadAllBytes(Path.Combine(reference, "model.safetensors")), File.ReadAllBytes(Path.Combine(output, "model.safetensors")));
        Assert.Equal(File.ReadAllText(Path.Combine(reference, "mlm_metrics.json")), File.ReadAllText(Path.Combine(output, "mlm_metrics.json")));
    }

    [Fact]
    public async Task A_second_train_on_a_busy_output_is_refused_and_a_dead_runs_lock_is_taken_over()
    {
        var s = Make();
        using var _ = s.Dir;
        var output = s.Dir.File("busy");
        using var first = Start(s.Train(output, epochs: 50));
        await FirstCheckpoint(output, first);
        Assert.False(first.HasExited, string.Join(" | ", errors));

        var e = Assert.Throws<IOException>(() => OutputLock.Acquire(output, "train"));
        Assert.Contains("in use by another running 'blockbuster'", e.Message);
        Assert.Equal(1, Run(s.Train(output, 2, "--overwrite")));   // the CLI says the same and exits 1
        Assert.Contains(errors, line => line.StartsWith("blockbuster train: ", StringComparison.Ordinal) && line.Contains("in use by another running"));

        first.Kill();                                              // SIGKILL: the lock file stays behind ...
        first.WaitForExit();
        Assert.True(File.Exists(OutputLock.LockPath(output)));
        using (OutputLock.Acquire(output, "train")) { }             // ... but its lock died with the process
        Assert.False(File.Exists(OutputLock.LockPath(output)));
    }
}
