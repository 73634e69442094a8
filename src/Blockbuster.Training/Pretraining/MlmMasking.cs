namespace Blockbuster.Training.Pretraining;

/// <summary>
/// One masked batch: the corrupted ids (B·T), the flat positions chosen and their original ids. The positions
/// are padded to a multiple of <see cref="MlmMasking.PadPositionsTo"/> with label -100 (cross-entropy's
/// ignore_index); <see cref="Count"/> is how many are real.
/// </summary>
public sealed record MaskedBatch(long[] InputIds, long[] Positions, long[] Labels, int Count);

/// <summary>
/// BERT's masking (transformers' DataCollatorForLanguageModeling): each non-special token is chosen with
/// probability p; a chosen token becomes [MASK] 80% of the time, a random word piece 10%, itself 10%.
/// The draw is a pure function of (seed, epoch, batch), so a resumed run masks exactly as an uninterrupted
/// one, and each epoch masks afresh.
/// </summary>
public sealed class MlmMasking(double probability, int maskId, int vocabSize, IReadOnlySet<int> specialIds, int sepId = -1)
{
    /// <summary>
    /// The prediction head's (N, vocab) logits are the largest tensors of a step (300 MB in fp32 for 2,400
    /// positions of bert's 30,522 words). A different N every step made glibc's heap, which this process keeps
    /// untrimmed for speed (<see cref="Model.NativeMemory"/>), fragment until a pretraining run was OOM-killed
    /// at 24 GB; padding N to a multiple of this keeps the shapes to one or two.
    /// </summary>
    public const int PadPositionsTo = 512;

    public const long IgnoreIndex = -100;

    /// <param name="clsWords">how many words of its block's first text each block's [CLS] also predicts (0: none);
    /// drawn from their own random stream, so the masks are the same with or without them</param>
    public MaskedBatch Mask(IReadOnlyList<int[]> blocks, int seed, int epoch, int batch, int clsWords = 0)
    {
        var random = new Random(Data.StableSeed.Of(seed, epoch, batch, 0x4d4c4d));
        int T = blocks[0].Length;
        var input = new long[blocks.Count * T];
        var positions = new List<long>();
        var labels = new List<long>();
        for (int b = 0; b < blocks.Count; b++)
            for (int t = 0; t < T; t++)
            {
                int id = blocks[b][t];
                int flat = b * T + t;
                input[flat] = id;
                if (specialIds.Contains(id) || random.NextDouble() >= probability) continue;
                positions.Add(flat);
                labels.Add(id);
                double r = random.NextDouble();
                if (r < 0.8) input[flat] = maskId;
                else if (r < 0.9) input[flat] = random.Next(vocabSize);
            }
        if (clsWords > 0 && sepId < 0) throw new InvalidOperationException("[CLS] words need the [SEP] id, to find each block's first text.");
        if (clsWords > 0) AddClsWords(blocks, seed, epoch, batch, clsWords, positions, labels);
        if (positions.Count == 0)   // a tiny batch may draw nothing; predict its first ordinary token unchanged
        {
            int first = Array.FindIndex(input, id => !specialIds.Contains((int)id));
            positions.Add(Math.Max(first, 0));
            labels.Add(input[Math.Max(first, 0)]);
        }
        int count = positions.Count;
        while (positions.Count % PadPositionsTo != 0) { positions.Add(positions[0]); labels.Add(IgnoreIndex); }
        return new MaskedBatch(input, positions.ToArray(), labels.ToArray(), count);
    }

    /// <summary>
    /// A bag-of-words objective for [CLS]: masked LM never asks anything of the [CLS] position, so its output is
    /// whatever attention leaves there, and a classifier that reads it from a frozen base (LoRA at a small learning
    /// rate) has little to start from. Here [CLS] predicts words drawn uniformly from the block's first text (up to
    /// the first [SEP]), through the same head as the masked tokens: its target is that text's word distribution,
    /// so it learns to summarise the text, as B-PROP's bag-of-words prediction and Condenser train [CLS] to. The
    /// words are the originals, whatever masking did to them.
    /// </summary>
    void AddClsWords(IReadOnlyList<int[]> blocks, int seed, int epoch, int batch, int clsWords, List<long> positions, List<long> labels)
    {
        var random = new Random(Data.StableSeed.Of(seed, epoch, batch, 0x434c53));
        int T = blocks[0].Length;
        var words = new List<int>();
        for (int b = 0; b < blocks.Count; b++)
        {
            words.Clear();
            // [CLS] text [SEP] …: the first text runs to the first [SEP]; [UNK] and the like are not words to predict.
            for (int t = 1; t < T && blocks[b][t] != sepId; t++)
                if (!specialIds.Contains(blocks[b][t])) words.Add(blocks[b][t]);
            if (words.Count == 0) continue;   // a block that starts with [SEP]: its [CLS] sits this batch out
            for (int k = 0; k < clsWords; k++)
            {
                positions.Add((long)b * T);
                labels.Add(words[random.Next(words.Count)]);
            }
        }
    }
}
