using System.Text.Json;
using Blockbuster.Model.Checkpoints;
using Blockbuster.Model.Hub;
using Blockbuster.Training;
using Blockbuster.Training.Data;
using Blockbuster.Training.Evaluation;

namespace Blockbuster.Tests;

/// <summary>Distillation on tiny models: the teacher's split, cached soft labels, unlabelled text, exact resume, leaks refused.</summary>
[Collection("torch-global-state")]
public class DistillTests
{
    static HubClient OfflineHub(TempDir dir) => new(new HubOptions(HubOptions.DefaultEndpoint, null, Offline: true, dir.File("hub-cache")));

    static async Task<(TrainingOptions Teacher, TrainingOptions Student)> Setup(TempDir dir)
    {
        var teacher = new TrainingOptions
        {
            Data = SyntheticReviews.WriteCsv(dir.File("reviews.csv"), 240), Model = TinyModels.WriteBaseFolder(dir.File("random")), Output = dir.File("teacher"),
            Epochs = 2, BatchSize = 8, MaxLength = 32, LearningRate = 5e-3, Precision = "fp32", Threads = 1, FullFinetune = true,
        };
        await Trainer.RunAsync(teacher, OfflineHub(dir));
        File.WriteAllLines(dir.File("unlabelled.csv"), ["review", .. SyntheticReviews.Make(160, 9).Select(r => $"\"{r.Text} again\"")]);
        var student = new TrainingOptions
        {
            Teachers = [teacher.Output], Unlabelled = [dir.File("unlabelled.csv")], Model = dir.File("random"), FromScratch = true, FullFinetune = true,
            Output = dir.File("student"), Epochs = 2, BatchSize = 8, MaxLength = 32, LearningRate = 5e-3, Precision = "fp32", Threads = 1,
            Temperature = 2, Alpha = 0.7,
        };
        return (teacher, student);
    }

    [Fact]
    public async Task The_student_learns_on_the_teachers_split_with_cached_soft_labels_and_resumes_exactly()
    {
        using var dir = new TempDir();
        var (teacher, student) = await Setup(dir);
        var result = await Trainer.RunAsync(student, OfflineHub(dir));
        Assert.True(result.Metrics!.Accuracy > 0.8, $"student accuracy {result.Metrics.Accuracy}");

        // Same held-out reviews as the teacher; the cache holds a soft label for every training and unlabelled text.
        Assert.Equal(File.ReadAllText(Path.Combine(teacher.Output, "split.json")), File.ReadAllText(Path.Combine(student.Output, "split.json")));
        var cached = SafetensorsFile.ReadHeader(Path.Combine(student.Output, TeacherTargets.CacheFile));
        Assert.Equal([192 + 160, 2], cached["logits"]);
        using (var args = JsonDocument.Parse(File.ReadAllText(Path.Combine(student.Output, "training_args.json"))))
            Assert.Equal(teacher.Output, args.RootElement.GetProperty("teacher")[0].GetString());
        Assert.Contains("blockbuster distill --data", File.ReadAllText(Path.Combine(student.Output, "README.md")));
        var report = await Evaluator.RunAsync(new EvalOptions(student.Output, Threads: 1), OfflineHub(dir));
        Assert.Equal(result.Metrics.Accuracy, report.Metrics.Accuracy);

        // Interrupted and resumed (the teacher is not asked again: its scores come from the cache): the same bytes.
        using var cts = new CancellationTokenSource();
        var partial = student with { Output = dir.File("resumed") };
        var stages = new List<string>();
        await Trainer.RunAsync(partial, OfflineHub(dir), new SyncProgress<TrainingEvent>(e => { if (e is StepCompleted { Step: 30 }) cts.Cancel(); }), cts.Token);
        await Trainer.RunAsync(new TrainingOptions { Output = partial.Output, Resume = true, Threads = 1 }, OfflineHub(dir),
            new SyncProgress<TrainingEvent>(e => { if (e is TrainingStage s) stages.Add(s.Message); }));
        Assert.DoesNotContain(stages, s => s.StartsWith("Scoring", StringComparison.Ordinal));
        Assert.Equal(File.ReadAllBytes(Path.Combine(student.Output, "model.safetensors")), File.ReadAllBytes(Path.Combine(partial.Output, "model.safetensors")));
    }

    [Fact]
    public async Task Another_student_reuses_the_cached_teacher_scores_only_for_the_same_teachers_and_texts()
    {
        using var dir = new TempDir();
        var (teacher, student) = await Setup(dir);
        // The first run names its teacher and texts relative to where it started; they are saved as full paths, so a
        // run started elsewhere (here: given full paths) still recognises them.
        static string Relative(string path) => Path.GetRelativePath(Environment.CurrentDirectory, path);
        await Trainer.RunAsync(student with { Epochs = 1, Teachers = [Relative(teacher.Output)], Unlabelled = [Relative(student.Unlabelled[0])] }, OfflineHub(dir));
        using (var args = JsonDocument.Parse(File.ReadAllText(Path.Combine(student.Output, "training_args.json"))))
        {
            Assert.Equal(teacher.Output, args.RootElement.GetProperty("teacher")[0].GetString());
            Assert.Equal(student.Unlabelled[0], args.RootElement.GetProperty("unlabelled")[0].GetString());
        }

        // A second student (another learning rate) takes the first one's scores: no scoring, the same cache written again.
        var stages = new List<string>();
        var second = student with { Epochs = 1, LearningRate = 1e-3, Output = dir.File("second"), TeacherScores = student.Output };
        await Trainer.RunAsync(second, OfflineHub(dir), new SyncProgress<TrainingEvent>(e => { if (e is TrainingStage s) stages.Add(s.Message); }));
        Assert.DoesNotContain(stages, s => s.StartsWith("Scoring", StringComparison.Ordinal));
        Assert.Equal(File.ReadAllBytes(Path.Combine(student.Output, TeacherTargets.CacheFile)), File.ReadAllBytes(Path.Combine(second.Output, TeacherTargets.CacheFile)));

        // Other unlabelled texts, or a teacher retrained after the scores were cached: refused, naming the folder.
        File.WriteAllLines(dir.File("other.csv"), ["review", "\"a film i have not seen\""]);
        var other = await Assert.ThrowsAsync<DataFormatException>(() => Trainer.RunAsync(second with { Output = dir.File("third"), Unlabelled = [dir.File("other.csv")] }, OfflineHub(dir)));
        Assert.Contains("other unlabelled texts", other.Message);
        File.SetLastWriteTimeUtc(Path.Combine(teacher.Output, "model.safetensors"), DateTime.UtcNow.AddMinutes(1));
        var stale = await Assert.ThrowsAsync<DataFormatException>(() => Trainer.RunAsync(second with { Output = dir.File("fourth") }, OfflineHub(dir)));
        Assert.Contains("newer than the scores", stale.Message);
        Assert.False(Directory.Exists(dir.File("third")));
        Assert.False(Directory.Exists(dir.File("fourth")));
    }

    [Fact]
    public async Task Augmented_copies_are_scored_by_the_teacher_and_an_earlier_students_scores_cover_the_texts_it_had()
    {
        using var dir = new TempDir();
        var (_, student) = await Setup(dir);
        await Trainer.RunAsync(student with { Epochs = 1 }, OfflineHub(dir));
        const int texts = 192 + 160;

        // Two copies of every text on top of the first student's scores: only the copies are scored, after the texts.
        var stages = new List<string>();
        var augmented = student with { Epochs = 1, Augment = 2, Output = dir.File("augmented"), TeacherScores = student.Output };
        await Trainer.RunAsync(augmented, OfflineHub(dir), new SyncProgress<TrainingEvent>(e => { if (e is TrainingStage s) stages.Add(s.Message); }));
        Assert.Contains(stages, s => s.StartsWith($"Scoring {2 * texts} texts", StringComparison.Ordinal));
        var all = Logits(augmented.Output);
        Assert.Equal(3 * texts, all.Length);
        Assert.Equal(Logits(student.Output), all[..texts]);

        // Scored afresh, one copy gives the same first texts and copies: the copies depend on the seed, copy and text alone.
        var one = student with { Epochs = 1, Augment = 1, Output = dir.File("one-copy") };
        await Trainer.RunAsync(one, OfflineHub(dir));
        var fresh = Logits(one.Output);
        Assert.Equal(2 * texts, fresh.Length);
        for (int i = 0; i < fresh.Length; i++) Assert.Equal(all[i], fresh[i], 4);

        // Scores with more copies than asked for are refused, naming the folder; nothing is written.
        var e = await Assert.ThrowsAsync<DataFormatException>(() => Trainer.RunAsync(one with { Output = dir.File("fewer"), TeacherScores = augmented.Output }, OfflineHub(dir)));
        Assert.Contains("2 augmented copies", e.Message);
        Assert.False(Directory.Exists(dir.File("fewer")));
    }

    /// <summary>A scoring stopped part-way (Ctrl+C, a killed session) keeps its finished chunks, and --resume goes on from there.</summary>
    [Fact]
    public async Task A_stopped_scoring_resumes_from_its_last_chunk_and_a_failed_one_leaves_nothing()
    {
        using var dir = new TempDir();
        var (teacher, student) = await Setup(dir);
        var second = teacher with { Output = dir.File("teacher2"), Epochs = 1, LearningRate = 2e-3 };
        await Trainer.RunAsync(second, OfflineHub(dir));
        const int texts = 192 + 160;
        var saved = TeacherTargets.ChunkTexts;
        TeacherTargets.ChunkTexts = 100;
        try
        {
            var whole = student with { Teachers = [teacher.Output, second.Output], Output = dir.File("whole"), Epochs = 1 };
            await Trainer.RunAsync(whole, OfflineHub(dir));

            // Stopped while the second teacher scores its third chunk: its first two are saved beside the run's options.
            using var cts = new CancellationTokenSource();
            var stopped = whole with { Output = dir.File("stopped") };
            var stages = new List<string>();
            bool scoringSecond = false;
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Trainer.RunAsync(stopped, OfflineHub(dir), new SyncProgress<TrainingEvent>(e =>
            {
                if (e is TrainingStage s) { stages.Add(s.Message); scoringSecond |= s.Message.Contains("(2 of 2)"); }
                if (scoringSecond && e is EvaluationProgress { Done: > 200 }) cts.Cancel();
            }), cts.Token));
            Assert.Contains($"Scoring stopped; the scores so far are saved in {stopped.Output}: continue with --resume", stages);
            Assert.True(File.Exists(Path.Combine(stopped.Output, "training_args.json")));
            Assert.False(File.Exists(Path.Combine(stopped.Output, "model.safetensors")));

            // A teacher retrained in between would mix two models' scores: refused.
            var weights = Path.Combine(second.Output, "model.safetensors");
            var trainedAt = File.GetLastWriteTimeUtc(weights);
            File.SetLastWriteTimeUtc(weights, DateTime.UtcNow.AddMinutes(1));
            var retrained = await Assert.ThrowsAsync<DataFormatException>(() => Trainer.RunAsync(new TrainingOptions { Output = stopped.Output, Resume = true, Threads = 1 }, OfflineHub(dir)));
            Assert.Equal($"{second.Output}: its weights are newer than the scores saved in {stopped.Output}; start the distillation again (--overwrite).", retrained.Message);
            File.SetLastWriteTimeUtc(weights, trainedAt);

            // Resumed: only the second teacher's last chunks are scored, and the run ends as the uninterrupted one did.
            stages.Clear();
            await Trainer.RunAsync(new TrainingOptions { Output = stopped.Output, Resume = true, Threads = 1 }, OfflineHub(dir),
                new SyncProgress<TrainingEvent>(e => { if (e is TrainingStage s) stages.Add(s.Message); }));
            Assert.Equal([$"Scoring {texts} texts with the teacher {second.Output} (2 of 2), from text 201 (resumed)"], stages.Where(s => s.StartsWith("Scoring", StringComparison.Ordinal)));
            Assert.Equal(Logits(whole.Output), Logits(stopped.Output));
            Assert.Equal(File.ReadAllBytes(Path.Combine(whole.Output, "model.safetensors")), File.ReadAllBytes(Path.Combine(stopped.Output, "model.safetensors")));
            Assert.False(File.Exists(ScoringCheckpoint.PathIn(stopped.Output)));

            // A teacher that cannot be read fails the run after the first one scored: no folder is left.
            var broken = dir.File("broken");
            Directory.CreateDirectory(broken);
            foreach (var file in Directory.GetFiles(second.Output)) File.Copy(file, Path.Combine(broken, Path.GetFileName(file)));
            File.WriteAllBytes(Path.Combine(broken, "model.safetensors"), [1, 2, 3]);
            var failed = whole with { Teachers = [teacher.Output, broken], Output = dir.File("failed") };
            bool saved1 = false;
            await Assert.ThrowsAnyAsync<Exception>(() => Trainer.RunAsync(failed, OfflineHub(dir),
                new SyncProgress<TrainingEvent>(e => saved1 |= e is TrainingStage { Message: var m } && m.Contains("(2 of 2)") && Directory.Exists(failed.Output))));
            Assert.True(saved1, "the first teacher's scores were saved before the second failed");
            Assert.False(Directory.Exists(failed.Output));

            // So does a student that cannot take the run's length, found only once the scores are in.
            var tooLong = whole with { MaxLength = 128, Output = dir.File("too-long") };
            var e = await Assert.ThrowsAsync<Blockbuster.Model.UsageException>(() => Trainer.RunAsync(tooLong, OfflineHub(dir)));
            Assert.Contains("exceeds the model's max_position_embeddings 64", e.Message);
            Assert.False(Directory.Exists(tooLong.Output));
        }
        finally
        {
            TeacherTargets.ChunkTexts = saved;
        }
    }

    static float[] Logits(string folder)
    {
        var stored = SafetensorsFile.Read(Path.Combine(folder, TeacherTargets.CacheFile));
        using var logits = stored["logits"];
        return logits.data<float>().ToArray().Chunk(2).Select(r => r[1] - r[0]).ToArray();
    }

    [Fact]
    public async Task Other_data_and_held_out_reviews_among_the_unlabelled_texts_are_refused()
    {
        using var dir = new TempDir();
        var (teacher, student) = await Setup(dir);
        var other = SyntheticReviews.WriteCsv(dir.File("other.csv"), 100, seed: 5);
        var e = await Assert.ThrowsAsync<DataFormatException>(() => Trainer.RunAsync(student with { Data = other }, OfflineHub(dir)));
        Assert.Contains("is not the data the teacher", e.Message);

        var split = SplitRecord.Load(Path.Combine(teacher.Output, "split.json"));
        var (_, test) = DataPreparation.FromSplit(split);
        File.WriteAllLines(dir.File("leaky.csv"), ["review", .. test.Texts.Take(3).Select(t => $"\"{t}\"")]);
        e = await Assert.ThrowsAsync<DataFormatException>(() => Trainer.RunAsync(student with { Unlabelled = [dir.File("leaky.csv")] }, OfflineHub(dir)));
        Assert.Contains("are held-out reviews of the teacher's split", e.Message);
        Assert.False(Directory.Exists(student.Output));
    }

    /// <summary>Several teachers: the student learns the log of their mean probability (Hinton et al.'s ensemble), and they must share one split.</summary>
    [Fact]
    public async Task An_ensemble_of_teachers_gives_its_mean_probability_and_must_share_one_split()
    {
        using var dir = new TempDir();
        var (teacher, student) = await Setup(dir);
        // A second teacher on the same data and seed (so the same split), trained differently.
        var second = teacher with { Output = dir.File("teacher2"), Epochs = 1, LearningRate = 2e-3 };
        await Trainer.RunAsync(second, OfflineHub(dir));
        string[] texts = ["i loved this film , it was great fun !", "boring plot and bad acting . i hated it", "it was a film"];
        async Task<float[][]> Scores(params string[] teachers) =>
            await TeacherTargets.ComputeAsync(teachers, texts, null, null, OfflineHub(dir), TorchSharp.torch.CPU, null, CancellationToken.None);
        var (a, b, both) = (await Scores(teacher.Output), await Scores(second.Output), await Scores(teacher.Output, second.Output));
        for (int i = 0; i < texts.Length; i++)
            for (int c = 0; c < 2; c++)
                Assert.Equal(Math.Log((Math.Exp(a[i][c]) + Math.Exp(b[i][c])) / 2), both[i][c], 5);
        Assert.NotEqual(a[0][1], b[0][1], 3);   // the two teachers do differ

        // The ensemble distils end to end, and its command line names both teachers.
        var ensemble = student with { Teachers = [teacher.Output, second.Output], Output = dir.File("ensemble"), Epochs = 1 };
        await Trainer.RunAsync(ensemble, OfflineHub(dir));
        Assert.Contains($"--teacher {teacher.Output},{second.Output}", File.ReadAllText(Path.Combine(ensemble.Output, "README.md")));

        // A teacher added to an earlier run's ensemble, with an augmented copy of every text: that run's cache stands for
        // its two teachers on the texts it had (they score only the copies), the new one scores everything, and the
        // student learns the same ensemble as when all three score afresh. The other way round is refused, nothing written.
        var third = teacher with { Output = dir.File("teacher-c"), Epochs = 1, LearningRate = 1e-3 };
        await Trainer.RunAsync(third, OfflineHub(dir));
        var stages = new List<string>();
        var added = ensemble with { Teachers = [teacher.Output, second.Output, third.Output], Augment = 1, Output = dir.File("added"), TeacherScores = ensemble.Output };
        await Trainer.RunAsync(added, OfflineHub(dir), new SyncProgress<TrainingEvent>(e => { if (e is TrainingStage s) stages.Add(s.Message); }));
        const int count = 192 + 160;
        Assert.Contains($"Taking the scores of 2 of 3 teachers for {count} texts from {ensemble.Output}", stages);
        Assert.Equal([$"Scoring {count} texts with the teacher {teacher.Output} (1 of 3)", $"Scoring {count} texts with the teacher {second.Output} (2 of 3)",
                      $"Scoring {2 * count} texts with the teacher {third.Output} (3 of 3)"], stages.Where(s => s.StartsWith("Scoring", StringComparison.Ordinal)));
        var afresh = added with { Output = dir.File("afresh"), TeacherScores = null };
        await Trainer.RunAsync(afresh, OfflineHub(dir));
        var (fresh, reused) = (Logits(afresh.Output), Logits(added.Output));
        Assert.Equal(2 * count, reused.Length);
        for (int i = 0; i < fresh.Length; i++) Assert.Equal(fresh[i], reused[i], 4);
        var narrower = await Assert.ThrowsAsync<DataFormatException>(() => Trainer.RunAsync(student with { Output = dir.File("narrower"), TeacherScores = ensemble.Output }, OfflineHub(dir)));
        Assert.Equal($"{ensemble.Output}: its scores are from teachers ({teacher.Output}, {second.Output}) that are not among {teacher.Output}.", narrower.Message);
        Assert.False(Directory.Exists(dir.File("narrower")));

        // A teacher on another split (another seed) is refused before anything is written.
        var stranger = teacher with { Output = dir.File("teacher3"), Seed = 7, Epochs = 1 };
        await Trainer.RunAsync(stranger, OfflineHub(dir));
        var refused = student with { Teachers = [teacher.Output, stranger.Output], Output = dir.File("refused") };
        var e = await Assert.ThrowsAsync<DataFormatException>(() => Trainer.RunAsync(refused, OfflineHub(dir)));
        Assert.Equal($"{stranger.Output} was trained on a different split from {teacher.Output} (split.json differs): ensembled teachers must share one split (otherwise one may have trained on a review the other holds out).", e.Message);
        Assert.False(Directory.Exists(refused.Output));
    }

    /// <summary>training_args.json from before ensembles held one teacher as a string (or null): it still loads, so such runs resume.</summary>
    [Theory]
    [InlineData("{\"teacher\": \"./t\"}", new[] { "./t" })]
    [InlineData("{\"teacher\": null}", new string[0])]
    [InlineData("{\"teacher\": [\"./a\", \"./b\"]}", new[] { "./a", "./b" })]
    public void Saved_options_read_one_teacher_none_or_several(string json, string[] teachers)
    {
        var o = JsonSerializer.Deserialize<TrainingOptions>(json)!;
        Assert.Equal(teachers, o.Teachers);
        Assert.Equal(teachers, JsonSerializer.Deserialize<TrainingOptions>(JsonSerializer.Serialize(o))!.Teachers);
    }
}
