using System.Text;

namespace Blockbuster.Tests;

/// <summary>
/// Short made-up movie reviews with a clear sentiment, in words the tiny test vocabulary knows, written
/// as an IMDB-style CSV. Deterministic for a seed.
/// </summary>
public static class SyntheticReviews
{
    static readonly string[] Positive = ["great", "good", "fun", "loved"];
    static readonly string[] Negative = ["bad", "awful", "boring", "hated"];
    static readonly string[] Neutral = ["the", "movie", "film", "plot", "acting", "was", "is", "it", "this", "a", "i"];

    public static (string Text, string Label)[] Make(int count, int seed)
    {
        var rng = new Random(seed);
        var rows = new (string, string)[count];
        for (int i = 0; i < count; i++)
        {
            bool positive = i % 2 == 0;
            var words = new List<string>();
            int length = rng.Next(4, 14);
            for (int w = 0; w < length; w++)
                words.Add(rng.NextDouble() < 0.35 ? (positive ? Positive : Negative)[rng.Next(4)] : Neutral[rng.Next(Neutral.Length)]);
            if (rng.NextDouble() < 0.3) words.Add("<br />");
            rows[i] = (string.Join(' ', words) + (rng.NextDouble() < 0.5 ? "!" : "."), positive ? "positive" : "negative");
        }
        return rows;
    }

    public static string WriteCsv(string path, int count, int seed = 1)
    {
        var sb = new StringBuilder("review,sentiment\n");
        foreach (var (text, label) in Make(count, seed)) sb.Append('"').Append(text.Replace("\"", "\"\"")).Append("\",").Append(label).Append('\n');
        File.WriteAllText(path, sb.ToString());
        return path;
    }
}
