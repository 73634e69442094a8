using Blockbuster.Training.Tokenization;

namespace Blockbuster.Training.Pretraining;

/// <summary>
/// The pretraining corpus as run_mlm.py's group_texts makes it: every text's word pieces, concatenated in
/// order with [SEP] between texts, cut into blocks of <c>maxLength - 2</c> pieces, each block framed as
/// [CLS] … [SEP]. Blocks are full, so batches need no padding; the tail shorter than a block is dropped.
/// </summary>
public sealed class MlmBlocks
{
    readonly int[] tokens;   // all blocks back to back, each maxLength ids
    public int BlockLength { get; }
    public int Count => tokens.Length / BlockLength;

    MlmBlocks(int[] tokens, int blockLength) { this.tokens = tokens; BlockLength = blockLength; }

    public ReadOnlySpan<int> Block(int i) => tokens.AsSpan(i * BlockLength, BlockLength);

    public static MlmBlocks Build(IReadOnlyList<string> texts, BertWordPieceTokenizer tokenizer, int maxLength, int threads, CancellationToken ct)
    {
        var pieces = new int[texts.Count][];
        Parallel.For(0, texts.Count, new ParallelOptions { MaxDegreeOfParallelism = threads > 0 ? threads : Environment.ProcessorCount, CancellationToken = ct },
            i => pieces[i] = tokenizer.Tokenize(texts[i]));
        int body = maxLength - 2;
        long total = pieces.Sum(p => (long)p.Length + 1);
        long blocks = total / body;
        if (blocks == 0) throw new Data.DataFormatException($"the texts hold {total:N0} word pieces, fewer than one block of {body}; lower `max_length` or add text.");
        if (blocks * maxLength > int.MaxValue) throw new Data.DataFormatException($"{blocks:N0} blocks of {maxLength} tokens are more than this reader holds; use `limit`.");
        var result = new int[blocks * maxLength];
        long written = 0;   // word pieces placed so far
        foreach (var p in pieces)
        {
            foreach (var id in p.Append(tokenizer.SepId))
            {
                if (written >= blocks * body) break;
                long block = written / body, offset = written % body;
                result[block * maxLength + 1 + offset] = id;
                written++;
            }
        }
        for (long b = 0; b < blocks; b++)
        {
            result[b * maxLength] = tokenizer.ClsId;
            result[b * maxLength + maxLength - 1] = tokenizer.SepId;
        }
        return new MlmBlocks(result, maxLength);
    }
}
