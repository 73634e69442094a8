namespace Blockbuster.Training.Data;

/// <summary>
/// Batches of similar length, so dynamic padding wastes little: each epoch the examples are shuffled
/// (seeded by seed and epoch), cut into pools of <c>batchSize × poolBatches</c>, each pool sorted by
/// length and cut into batches, and the batches shuffled. Same seed and epoch, same batches.
/// </summary>
public sealed class LengthBucketSampler(IReadOnlyList<int> lengths, int batchSize, int seed, int poolBatches = 50)
{
    public int BatchCount => (lengths.Count + batchSize - 1) / batchSize;

    public IReadOnlyList<int[]> Batches(int epoch)
    {
        // Not HashCode.Combine: that is randomised per process, and resumed runs must see the same batches.
        var rng = new Random(unchecked(seed * 1_000_003 + epoch * 7_919 + 17));
        var order = Enumerable.Range(0, lengths.Count).ToArray();
        rng.Shuffle(order);

        var batches = new List<int[]>(BatchCount);
        int pool = batchSize * poolBatches;
        for (int start = 0; start < order.Length; start += pool)
        {
            var members = order.AsSpan(start, Math.Min(pool, order.Length - start)).ToArray();
            // Stable sort by length keeps the shuffled order among equal lengths.
            var sorted = members.Select((index, position) => (index, position))
                                .OrderBy(p => lengths[p.index]).ThenBy(p => p.position)
                                .Select(p => p.index).ToArray();
            for (int b = 0; b < sorted.Length; b += batchSize)
                batches.Add(sorted.AsSpan(b, Math.Min(batchSize, sorted.Length - b)).ToArray());
        }
        var shuffled = batches.ToArray();
        rng.Shuffle(shuffled);
        return shuffled;
    }

    /// <summary>Batches in length order without shuffling, for inference (fastest; callers restore order).</summary>
    public static IReadOnlyList<int[]> Sorted(IReadOnlyList<int> lengths, int batchSize)
    {
        var order = Enumerable.Range(0, lengths.Count).OrderBy(i => lengths[i]).ToArray();
        var batches = new List<int[]>();
        for (int b = 0; b < order.Length; b += batchSize)
            batches.Add(order.AsSpan(b, Math.Min(batchSize, order.Length - b)).ToArray());
        return batches;
    }
}
