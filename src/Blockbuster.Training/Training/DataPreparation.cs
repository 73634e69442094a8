using Blockbuster.Training.Data;

namespace Blockbuster.Training;

/// <summary>Reading the CSV and cutting it into the train and held-out sides, for train and eval alike.</summary>
public static class DataPreparation
{
    /// <summary>Reads the data, takes the stratified --limit subset if asked, and splits it.</summary>
    public static (ReviewSet Train, ReviewSet Test, SplitRecord Split) ReadAndSplit(TrainingOptions o)
    {
        var all = ReviewCsv.Read(o.Data, new ReviewCsvOptions(o.TextColumn, o.LabelColumn, o.SkipInvalidRows, o.Encoding));
        if (all.Labels.Distinct().Count() < 2) throw new DataFormatException($"{Path.GetFileName(o.Data)}: every review has the same label; training needs both.");
        var pool = o.Limit is { } limit ? all.Subset(StratifiedSplit.Subset(all.Labels, limit, o.Seed)) : all;
        var (trainIdx, testIdx) = StratifiedSplit.Split(pool.Labels, o.TestSize, o.Seed);
        var train = pool.Subset(trainIdx);
        var test = pool.Subset(testIdx);
        var split = new SplitRecord
        {
            DataPath = Path.GetFullPath(o.Data), DataSha256 = all.Sha256, TextColumn = o.TextColumn, LabelColumn = o.LabelColumn,
            SkipInvalidRows = o.SkipInvalidRows, Encoding = o.Encoding, Seed = o.Seed, TestSize = o.TestSize, Limit = o.Limit,
            TrainRows = train.Rows, TestRows = test.Rows,
        };
        return (train, test, split);
    }

    /// <summary>Fails with one line when the CSV a saved split names is gone.</summary>
    public static void CheckDataExists(SplitRecord split, string? dataOverride = null)
    {
        var path = dataOverride ?? split.DataPath;
        if (!File.Exists(path))
            throw new DataFormatException($"{path}: the data file recorded in split.json is missing; pass `data` PATH to score a CSV.");
    }

    /// <summary>Re-reads the reviews a saved split names, checking the file is the one training used.</summary>
    public static (ReviewSet Train, ReviewSet Test) FromSplit(SplitRecord split, string? dataOverride = null)
    {
        CheckDataExists(split, dataOverride);
        var path = dataOverride ?? split.DataPath;
        var all = ReviewCsv.Read(path, new ReviewCsvOptions(split.TextColumn, split.LabelColumn, split.SkipInvalidRows, split.Encoding));
        if (!string.Equals(all.Sha256, split.DataSha256, StringComparison.OrdinalIgnoreCase))
            throw new DataFormatException($"{path}: the file changed since training (sha256 {all.Sha256[..12]}… ≠ recorded {split.DataSha256[..Math.Min(12, split.DataSha256.Length)]}…); pass `data` PATH to score it as a new CSV.");
        var byRow = new Dictionary<int, int>();
        for (int i = 0; i < all.Count; i++) byRow[all.Rows[i]] = i;
        ReviewSet Side(int[] rows)
        {
            var indices = rows.Select(r => byRow.TryGetValue(r, out var i) ? i : throw new DataFormatException($"{path}: row {r} from split.json is not a valid review.")).ToArray();
            return all.Subset(indices);
        }
        return (Side(split.TrainRows), Side(split.TestRows));
    }
}
