using Blockbuster.Model;
using Blockbuster.Model.Checkpoints;
using Blockbuster.Model.Hub;
using Blockbuster.Training.Data;
using TorchSharp;
using static TorchSharp.torch;

namespace Blockbuster.Training;

/// <summary>
/// The teacher's side of distillation: its log-probabilities (several teachers: their ensemble's) for every training
/// text (the labelled training reviews of its own split, then any unlabelled texts), computed once in batches and cached in the output
/// folder (<c>teacher_logits.safetensors</c>) so a resumed run does not score them again. Log-probabilities
/// serve as logits: softmax(log p / T) = softmax(z / T), the constant between them cancels.
/// </summary>
public static class TeacherTargets
{
    public const string CacheFile = "teacher_logits.safetensors";

    /// <summary>
    /// The teachers' split: the student must train and be scored on exactly it, so no held-out review leaks. Several
    /// teachers must share it (one's held-out review may be another's training review).
    /// </summary>
    public static SplitRecord TeacherSplit(IReadOnlyList<string> teachers, string? data)
    {
        var splits = teachers.Select(t => (Teacher: t, Split: TeacherSplit(t, data))).ToArray();
        var (first, split) = splits[0];
        foreach (var (other, theirs) in splits.Skip(1))
            if (theirs.DataSha256 != split.DataSha256 || !theirs.TrainRows.SequenceEqual(split.TrainRows) || !theirs.TestRows.SequenceEqual(split.TestRows))
                throw new DataFormatException($"{other} was trained on a different split from {first} ({SplitRecord.FileName} differs): ensembled teachers must share one split (otherwise one may have trained on a review the other holds out).");
        return split;
    }

    static SplitRecord TeacherSplit(string teacher, string? data)
    {
        var path = Path.Combine(teacher, SplitRecord.FileName);
        if (!File.Exists(path))
            throw new DataFormatException($"{teacher} has no {SplitRecord.FileName}: distillation trains on the teacher's own training split (a folder written by 'blockbuster train').");
        var split = SplitRecord.Load(path);
        if (data is { Length: > 0 } && ReviewCsv.Sha256(data) is var sha && !string.Equals(sha, split.DataSha256, StringComparison.OrdinalIgnoreCase))
            throw new DataFormatException($"{Path.GetFileName(data)} is not the data the teacher {teacher} was trained on (sha256 {sha[..12]}… ≠ {split.DataSha256[..12]}…); the student learns from the teacher's split only, so none of its held-out reviews leaks into training.");
        return split;
    }

    /// <summary>
    /// Scores cached by an earlier run: the log of the mean probability of <paramref name="Teachers"/> (some or all of
    /// this run's) for the first texts, in <paramref name="Folder"/>'s <see cref="CacheFile"/>.
    /// </summary>
    public sealed record CachedScores(string Folder, IReadOnlyList<string> Teachers);

    /// <summary>
    /// Texts scored between two saves of a <see cref="ScoringCheckpoint"/>: a few minutes of a MiniLM teacher. The chunks
    /// start at the same texts whether or not the scoring was stopped, so a resumed one scores the same batches.
    /// </summary>
    internal static int ChunkTexts { get; set; } = 4096;

    /// <summary>
    /// (N, labels) log-probabilities of the teachers for <paramref name="texts"/>, from the cache when it matches. With
    /// several teachers, the log of their mean probability: the ensemble's prediction, as Hinton et al. (2015) distil it.
    /// A cache of some of the teachers (an earlier ensemble, say, to which a stronger teacher is added) stands for them:
    /// the mean of n teachers is (k · the cached mean of k + the sum of the other n − k) / n, so only those score.
    /// With a <paramref name="checkpoint"/>, where the scoring stands is saved after every chunk of texts and a resumed
    /// run continues from there.
    /// </summary>
    public static async Task<float[][]> ComputeAsync(IReadOnlyList<string> teachers, IReadOnlyList<string> texts, CachedScores? cached,
                                                     ScoringCheckpoint? checkpoint, HubClient hub, Device device,
                                                     IProgress<TrainingEvent>? progress, CancellationToken ct)
    {
        var state = checkpoint?.Load(teachers, texts.Count);
        if (state is null)
        {
            var path = cached is null ? null : Path.Combine(cached.Folder, CacheFile);
            float[][] rows = [];
            var covered = new bool[teachers.Count];
            if (path is not null && File.Exists(path))
            {
                var stored = SafetensorsFile.Read(path);
                using var logits = stored["logits"];
                covered = TryCover(teachers, cached!.Teachers)
                    ?? throw new DataFormatException($"{cached.Folder}: its scores are from teachers ({string.Join(", ", cached.Teachers)}) that are not among {string.Join(", ", teachers)}.");
                if (logits.shape[0] == texts.Count && covered.All(c => c)) return Rows(logits);
                // Fewer texts: --teacher-scores from a distillation with fewer augmented copies (CheckReusable made sure its
                // texts are the first ones of these); only the rest is scored. A run's own cache always has every text.
                if (logits.shape[0] <= texts.Count) rows = Rows(logits);
                else covered = new bool[teachers.Count];
            }
            int k = covered.Count(c => c);
            if (k > 0)
                progress?.Report(new TrainingStage($"Taking the scores of {k} of {teachers.Count} teachers for {rows.Length:N0} texts from {cached!.Folder}"));
            // Probabilities summed over the teachers, the cached ensemble counted k times.
            var sum = new float[texts.Count][];
            for (int i = 0; i < texts.Count; i++)
                sum[i] = i < rows.Length && k > 0 ? [k * MathF.Exp(rows[i][0]), k * MathF.Exp(rows[i][1])] : new float[2];
            state = new ScoringState(sum, covered, rows.Length, 0, 0);
        }
        for (int t = state.Teacher; t < teachers.Count; t++)
        {
            int from = state.Covered[t] ? state.CachedRows : 0, done = t == state.Teacher ? state.Done : 0;
            if (from + done == texts.Count) continue;
            var label = teachers.Count == 1 ? teachers[t] : $"{teachers[t]} ({t + 1} of {teachers.Count})";
            progress?.Report(new TrainingStage($"Scoring {texts.Count - from:N0} texts with the teacher {label}{(done > 0 ? $", from text {from + done + 1:N0} (resumed)" : "")}"));
            using var scorer = await TeacherScorer.LoadAsync(teachers[t], hub, device, ct).ConfigureAwait(false);
            while (from + done < texts.Count)
            {
                int start = from + done, count = Math.Min(ChunkTexts, texts.Count - start), offset = done;
                var probabilities = scorer.Score(texts.Skip(start).Take(count).ToArray(),
                    new SyncProgress<int>(n => progress?.Report(new EvaluationProgress(-1, offset + n, texts.Count - from))), ct);
                for (int i = 0; i < count; i++)
                    for (int c = 0; c < 2; c++) state.Sum[start + i][c] += probabilities[i][c];
                done += count;
                checkpoint?.Save(state with { Teacher = t, Done = done });
            }
        }
        return state.Sum.Select(p => new[] { MathF.Log(Math.Max(p[0] / teachers.Count, 1e-30f)), MathF.Log(Math.Max(p[1] / teachers.Count, 1e-30f)) }).ToArray();
    }

    /// <summary>
    /// Which of <paramref name="teachers"/> a cached ensemble of <paramref name="cachedTeachers"/> stands for; null when
    /// one of those is not among them.
    /// </summary>
    static bool[]? TryCover(IReadOnlyList<string> teachers, IReadOnlyList<string> cachedTeachers)
    {
        var full = teachers.Select(FullPath).ToArray();
        var covered = new bool[teachers.Count];
        foreach (var cachedTeacher in cachedTeachers.Select(FullPath))
        {
            int i = Enumerable.Range(0, full.Length).FirstOrDefault(j => !covered[j] && full[j] == cachedTeacher, -1);
            if (i < 0) return null;
            covered[i] = true;
        }
        return covered;
    }

    static string FullPath(string folder) => Path.GetFullPath(folder).TrimEnd('/');

    /// <summary>
    /// An earlier distillation's folder whose cached scores this run may take instead of scoring again (trying several
    /// students against one set of teachers): only when they are for these texts from these teachers or some of them,
    /// the same folders (not retrained since), the same split and the same unlabelled files. Teachers it lacks score
    /// every text; an earlier run with fewer augmented copies gives the scores of the texts it had, and the copies it
    /// lacks are scored. Anything else is a one-line error.
    /// </summary>
    public static CachedScores CheckReusable(string folder, TrainingOptions o, SplitRecord split, int textCount)
    {
        var cache = Path.Combine(folder, CacheFile);
        if (!File.Exists(cache)) throw new DataFormatException($"{folder}: no {CacheFile} to reuse (it is written by 'blockbuster distill').");
        var argsPath = Path.Combine(folder, OutputFolder.ArgsFile);
        if (!File.Exists(argsPath)) throw new DataFormatException($"{folder}: no {OutputFolder.ArgsFile} saying which teachers and texts its scores are for.");
        var earlier = System.Text.Json.JsonSerializer.Deserialize<TrainingOptions>(File.ReadAllText(argsPath)) ?? throw new DataFormatException($"{argsPath}: empty training arguments.");
        static string[] Full(IEnumerable<string> paths) => paths.Select(FullPath).ToArray();
        if (earlier.Teachers.Length == 0 || TryCover(o.Teachers, earlier.Teachers) is null)
            throw new DataFormatException($"{folder}: its scores are from teachers ({string.Join(", ", Full(earlier.Teachers))}) that are not among {string.Join(", ", Full(o.Teachers))}.");
        if (!Full(earlier.Unlabelled).SequenceEqual(Full(o.Unlabelled)) || earlier.TextColumn != o.TextColumn || earlier.Encoding != o.Encoding)
            throw new DataFormatException($"{folder}: its scores are for other unlabelled texts ({string.Join(", ", earlier.Unlabelled)}; column '{earlier.TextColumn}', {earlier.Encoding}).");
        var theirSplit = Path.Combine(folder, SplitRecord.FileName);
        if (!File.Exists(theirSplit) || SplitRecord.Load(theirSplit) is var theirs && (theirs.DataSha256 != split.DataSha256 || !theirs.TrainRows.SequenceEqual(split.TrainRows)))
            throw new DataFormatException($"{folder}: its {SplitRecord.FileName} is not the teachers' split; its scores are for other reviews.");
        CheckNotRetrained(earlier.Teachers, cache, $"the scores cached in {folder}", "score again (leave out the cache)");
        // Augmented copies follow the texts copy by copy and depend only on the seed, copy and text: an earlier run
        // with fewer copies scored exactly the first texts of this one.
        if (earlier.Augment > o.Augment)
            throw new DataFormatException($"{folder}: its scores include {earlier.Augment} augmented copies of every text; this run asks for {o.Augment}.");
        if (earlier.Augment > 0 && earlier.Seed != o.Seed)
            throw new DataFormatException($"{folder}: its augmented copies were drawn with seed {earlier.Seed}, not {o.Seed}.");
        int expected = textCount / (1 + o.Augment) * (1 + earlier.Augment);
        // The header alone: ComputeAsync reads the scores themselves.
        if (!SafetensorsFile.ReadHeader(cache).TryGetValue("logits", out var shape) || shape[0] != expected)
            throw new DataFormatException($"{cache}: {(shape is null ? "no logits" : $"{shape[0]:N0} cached scores")} for {expected:N0} texts.");
        return new CachedScores(folder, earlier.Teachers);
    }

    /// <summary>Scores saved in <paramref name="scores"/> are stale once a teacher's weights are newer: a one-line error saying what to do.</summary>
    internal static void CheckNotRetrained(IEnumerable<string> teachers, string scores, string what, string remedy)
    {
        var savedAt = File.GetLastWriteTimeUtc(scores);
        foreach (var teacher in teachers)
            if (ModelFolder.FindWeights(teacher) is { } weights && File.GetLastWriteTimeUtc(weights) > savedAt)
                throw new DataFormatException($"{teacher}: its weights are newer than {what}; {remedy}.");
    }

    public static Tensor ToTensor(float[][] logits) => tensor(logits.SelectMany(r => r).ToArray(), [logits.Length, 2]);

    static float[][] Rows(Tensor logits)
    {
        var flat = logits.to(ScalarType.Float32).data<float>().ToArray();
        return Enumerable.Range(0, (int)logits.shape[0]).Select(i => flat[(i * 2)..(i * 2 + 2)]).ToArray();
    }
}
