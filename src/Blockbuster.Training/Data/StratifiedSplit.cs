namespace Blockbuster.Training.Data;

/// <summary>
/// scikit-learn's <c>train_test_split(stratify=labels)</c> in spirit: each label's examples are shuffled
/// with the seed and the same fraction of each goes to the test side, so both sides keep the label mix.
/// Returns positions, sorted. Deterministic for a seed.
/// </summary>
public static class StratifiedSplit
{
    public static (int[] Train, int[] Test) Split(IReadOnlyList<int> labels, double testSize, int seed)
    {
        if (testSize is <= 0 or >= 1) throw new ArgumentOutOfRangeException(nameof(testSize), "test size must be between 0 and 1.");
        var rng = new Random(seed);
        var train = new List<int>();
        var test = new List<int>();
        int totalTest = (int)Math.Ceiling(labels.Count * testSize - 1e-9);
        var groups = Enumerable.Range(0, labels.Count).GroupBy(i => labels[i]).OrderBy(g => g.Key).ToList();
        int assigned = 0;
        for (int g = 0; g < groups.Count; g++)
        {
            var members = groups[g].ToArray();
            rng.Shuffle(members);
            // The last group takes the remainder so the test side has exactly ceil(n × testSize).
            int take = g == groups.Count - 1 ? totalTest - assigned : (int)Math.Round(members.Length * testSize);
            take = Math.Clamp(take, 0, members.Length);
            assigned += take;
            test.AddRange(members[..take]);
            train.AddRange(members[take..]);
        }
        train.Sort();
        test.Sort();
        return (train.ToArray(), test.ToArray());
    }

    /// <summary>A stratified subset of <paramref name="count"/> positions, for quick runs (--limit).</summary>
    public static int[] Subset(IReadOnlyList<int> labels, int count, int seed)
    {
        if (count >= labels.Count) return Enumerable.Range(0, labels.Count).ToArray();
        var (_, subset) = Split(labels, (double)count / labels.Count, seed);
        return subset;
    }
}
