using Blockbuster.Model;
using Blockbuster.Model.Checkpoints;
using Blockbuster.Training.Data;
using static TorchSharp.torch;

namespace Blockbuster.Training;

/// <summary>
/// Where a distillation's scoring of its texts stands, saved after every chunk of texts so that a scoring stopped
/// part-way (Ctrl+C, a killed session: a MiniLM teacher takes most of an hour over 90,000 reviews) continues with
/// <c>--resume</c> instead of starting again. It lives in the output folder's <c>checkpoint/</c>, beside the run's
/// <c>training_args.json</c> and <c>split.json</c> (so <c>--resume</c> knows the run), until the first training
/// checkpoint replaces the folder.
/// </summary>
/// <param name="Sum">(N, 2) probabilities summed over the teachers scored so far (a cached ensemble of k counted k times)</param>
/// <param name="Covered">which teachers a reused cache stands for (for its first <paramref name="CachedRows"/> texts)</param>
/// <param name="Teacher">the teacher being scored</param>
/// <param name="Done">how many of its texts are in <paramref name="Sum"/></param>
public sealed record ScoringState(float[][] Sum, bool[] Covered, int CachedRows, int Teacher, int Done);

/// <param name="output">the run's output folder</param>
/// <param name="resumed">whether the run resumes one (the folder is the run's already); else the first save replaces it</param>
/// <param name="writeRunFiles">writes the run's training_args.json and split.json into a folder</param>
public sealed class ScoringCheckpoint(string output, bool resumed, Action<string> writeRunFiles)
{
    public const string FileName = "teacher_scores.partial.safetensors";

    readonly bool resumed = resumed;

    /// <summary>Whether the output folder holds this run's scoring (it resumed one, or saved a chunk).</summary>
    public bool Written { get; private set; } = resumed;

    public static string PathIn(string output) => Path.Combine(output, TrainerState.Folder, FileName);

    /// <summary>The saved state for <paramref name="teachers"/> and <paramref name="texts"/> texts; null when there is none.</summary>
    public ScoringState? Load(IReadOnlyList<string> teachers, int texts)
    {
        var path = PathIn(output);
        if (!resumed || !File.Exists(path)) return null;
        // A teacher retrained since would add scores from other weights to the sum of the old ones.
        TeacherTargets.CheckNotRetrained(teachers, path, $"the scores saved in {output}", "start the distillation again (--overwrite)");
        var stored = SafetensorsFile.Read(path);
        using var sum = stored["sum"];
        using var covered = stored["covered"];
        using var position = stored["position"];
        if (sum.shape[0] != texts || covered.shape[0] != teachers.Count)
            throw new DataFormatException($"{path}: scores for {sum.shape[0]:N0} texts from {covered.shape[0]} teachers, not {texts:N0} from {teachers.Count} (the data or unlabelled files changed?); start the distillation again (--overwrite).");
        var flat = sum.data<float>().ToArray();
        var at = position.data<long>().ToArray();
        return new ScoringState(flat.Chunk(2).ToArray(), covered.data<long>().ToArray().Select(c => c != 0).ToArray(), (int)at[0], (int)at[1], (int)at[2]);
    }

    public void Save(ScoringState s)
    {
        using var scope = NewDisposeScope();
        var tensors = new Dictionary<string, Tensor>
        {
            ["sum"] = tensor(s.Sum.SelectMany(r => r).ToArray(), [s.Sum.Length, 2]),
            ["covered"] = tensor(s.Covered.Select(c => c ? 1L : 0L).ToArray()),
            ["position"] = tensor(new long[] { s.CachedRows, s.Teacher, s.Done }),
        };
        if (Written)
        {
            Directory.CreateDirectory(Path.Combine(output, TrainerState.Folder));
            SafetensorsFile.Write(PathIn(output), tensors);
            return;
        }
        // The first save makes the folder the run's (replacing any old one, as --overwrite asked), in one rename.
        AtomicFolder.Write(output, folder =>
        {
            writeRunFiles(folder);
            Directory.CreateDirectory(Path.Combine(folder, TrainerState.Folder));
            SafetensorsFile.Write(PathIn(folder), tensors);
        });
        Written = true;
    }

    /// <summary>
    /// After a failure that is not an interruption, before the first training save: the folder this run's scoring made
    /// holds nothing worth keeping. (Best effort: the failure, not a failed clean-up, is what the user needs to see.)
    /// </summary>
    public void Discard()
    {
        if (!Written || resumed) return;
        try { if (Directory.Exists(output)) Directory.Delete(output, recursive: true); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }
}
