using Blockbuster.Model;
using Microsoft.ML.Tokenizers;

namespace Blockbuster.Training.Tokenization;

/// <summary>Token ids of one text and whether the text had to be cut to fit.</summary>
public readonly record struct Encoding(int[] Ids, bool Truncated);

/// <summary>
/// BERT's uncased WordPiece tokenization, identical to Hugging Face's tokenizer for the same vocab:
/// special tokens written in the text (<c>[SEP]</c> …) are matched first, as HF's added tokens are;
/// the rest goes through <see cref="BertNormalizer"/> and <see cref="BertPreTokenizer"/> into
/// Microsoft.ML.Tokenizers' WordPiece model. Encodings are <c>[CLS] … [SEP]</c>, cut to a maximum
/// length. Long texts are processed in chunks split where BERT always splits, and processing stops once
/// enough tokens exist, so a 10 MB review costs no more than its first few kilobytes.
/// </summary>
public sealed class BertWordPieceTokenizer
{
    const int ChunkChars = 4096;

    readonly WordPieceTokenizer wordPiece;
    readonly (string Text, int Id)[] specials;

    public BertTokenizerOptions Options { get; }
    public int ClsId { get; }
    public int SepId { get; }
    public int PadId { get; }
    public int UnkId { get; }
    /// <summary>The [MASK] id, or -1 when the vocabulary has none.</summary>
    public int MaskId { get; }
    public int VocabSize { get; }
    /// <summary>Ids of [PAD] [UNK] [CLS] [SEP] [MASK] (those the vocabulary has).</summary>
    public IReadOnlySet<int> SpecialIds => specials.Select(s => s.Id).ToHashSet();

    BertWordPieceTokenizer(WordPieceTokenizer wordPiece, IReadOnlyDictionary<string, int> vocab, BertTokenizerOptions options)
    {
        this.wordPiece = wordPiece;
        Options = options;
        VocabSize = vocab.Count;
        int Id(string token) => vocab.TryGetValue(token, out var id) ? id : throw new FormatException($"vocab.txt has no {token} token.");
        ClsId = Id("[CLS]");
        SepId = Id("[SEP]");
        PadId = Id("[PAD]");
        UnkId = Id("[UNK]");
        MaskId = vocab.TryGetValue("[MASK]", out var mask) ? mask : -1;
        specials = new[] { "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]" }
            .Where(vocab.ContainsKey).Select(t => (t, vocab[t])).ToArray();
    }

    static string Shorten(string s) => s.Length <= 20 ? s : s[..20] + "…";

    /// <summary>vocab.txt as Hugging Face reads it: token → line index, one token per line, trailing whitespace stripped.</summary>
    public static Dictionary<string, int> ReadVocabulary(string vocabPath)
    {
        var name = Path.GetFileName(vocabPath);
        var vocab = new Dictionary<string, int>();
        var seen = new Dictionary<string, int>();   // as Microsoft's reader keys them (trimmed): it fails on a repeat
        var lines = Data.TextEncoding.Decode(File.ReadAllBytes(vocabPath), Data.TextEncoding.Utf8, vocabPath).Split('\n');
        int count = lines.Length > 0 && lines[^1].Length == 0 ? lines.Length - 1 : lines.Length;
        for (int index = 0; index < count; index++)
        {
            // HF reads vocab.txt one token per line, trailing whitespace stripped.
            var token = lines[index].TrimEnd();
            if (!seen.TryAdd(lines[index].Trim(), index))
                throw new ModelFormatException($"{name}: line {index + 1} repeats the token '{Shorten(token)}' of line {seen[lines[index].Trim()] + 1}; a WordPiece vocabulary lists each token once.");
            vocab.TryAdd(token, index);
        }
        if (vocab.Count == 0) throw new ModelFormatException($"{name}: empty vocabulary.");
        return vocab;
    }

    public static BertWordPieceTokenizer Load(string vocabPath, string? tokenizerConfigPath = null)
    {
        if (!File.Exists(vocabPath)) throw new FileNotFoundException($"{vocabPath}: vocabulary file not found.");
        var options = BertTokenizerOptions.Load(tokenizerConfigPath);
        var name = Path.GetFileName(vocabPath);
        var vocab = ReadVocabulary(vocabPath);
        foreach (var special in new[] { "[CLS]", "[SEP]", "[PAD]", "[UNK]" })
            if (!vocab.ContainsKey(special)) throw new ModelFormatException($"{name}: no {special} token; this is not a BERT WordPiece vocabulary.");

        WordPieceTokenizer wordPiece;
        try
        {
            wordPiece = WordPieceTokenizer.Create(vocabPath, new WordPieceOptions
            {
                Normalizer = new BertNormalizer(options),
                PreTokenizer = BertPreTokenizer.Instance,
                UnknownToken = "[UNK]",
                ContinuingSubwordPrefix = "##",
                MaxInputCharsPerWord = options.MaxInputCharsPerWord,
            });
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or FormatException or IOException)
        {
            throw new ModelFormatException($"{name}: not a usable WordPiece vocabulary ({ExceptionText.Clause(e)}).");
        }
        return new BertWordPieceTokenizer(wordPiece, vocab, options);
    }

    /// <summary>
    /// [CLS] tokens… [SEP], at most <paramref name="maxLength"/> ids; a longer text keeps its head, its tail, or
    /// both (<see cref="Truncation"/>). Null and empty give [CLS] [SEP].
    /// </summary>
    public Encoding Encode(string? text, int maxLength, Truncation truncation)
    {
        if (truncation == Truncation.Head || string.IsNullOrEmpty(text)) return Encode(text, maxLength);
        if (maxLength < 2) throw new ArgumentOutOfRangeException(nameof(maxLength), "max length must leave room for [CLS] and [SEP].");
        int budget = maxLength - 2;
        var pieces = Tokenize(text);
        if (pieces.Length <= budget) return new Encoding([ClsId, .. pieces, SepId], false);
        int head = truncation == Truncation.HeadTail ? TruncationRules.HeadTokens(budget) : 0;
        return new Encoding([ClsId, .. pieces[..head], .. pieces[^(budget - head)..], SepId], true);
    }

    /// <summary>
    /// Every token of a text, as [CLS] window [SEP] encodings of at most <paramref name="maxLength"/> ids: one when it fits,
    /// else the evenly spaced, overlapping windows of <see cref="ReadingWindows.Starts"/>.
    /// </summary>
    public Encoding[] EncodeWindows(string? text, int maxLength)
    {
        if (maxLength < 3) throw new ArgumentOutOfRangeException(nameof(maxLength), "max length must leave room for [CLS], [SEP] and a token.");
        int budget = maxLength - 2;
        var pieces = string.IsNullOrEmpty(text) ? [] : Tokenize(text);
        return ReadingWindows.Starts(pieces.Length, budget)
            .Select(start => new Encoding([ClsId, .. pieces.AsSpan(start, Math.Min(budget, pieces.Length - start)), SepId], false))
            .ToArray();
    }

    /// <summary>[CLS] tokens… [SEP], at most <paramref name="maxLength"/> ids, keeping the head of a longer text. Null and empty give [CLS] [SEP].</summary>
    public Encoding Encode(string? text, int maxLength)
    {
        if (maxLength < 2) throw new ArgumentOutOfRangeException(nameof(maxLength), "max length must leave room for [CLS] and [SEP].");
        int budget = maxLength - 2;
        var ids = new List<int>(Math.Min(budget, 1024) + 2) { ClsId };
        bool truncated = false;
        if (!string.IsNullOrEmpty(text))
        {
            AppendTokens(text, ids, stopAfter: budget + 1);
            if (ids.Count > budget + 1)
            {
                truncated = true;
                ids.RemoveRange(budget + 1, ids.Count - budget - 1);
            }
        }
        ids.Add(SepId);
        return new Encoding(ids.ToArray(), truncated);
    }

    /// <summary>All word-piece ids of a text, no special tokens added, no truncation.</summary>
    public int[] Tokenize(string text)
    {
        var ids = new List<int>();
        AppendTokens(text, ids, stopAfter: int.MaxValue);
        return ids.ToArray();
    }

    /// <summary>Encodes many texts on all cores (or <paramref name="threads"/>), keeping their order.</summary>
    public Encoding[] EncodeAll(IReadOnlyList<string?> texts, int maxLength, int threads = -1, CancellationToken cancellationToken = default) =>
        EncodeAll(texts, maxLength, Truncation.Head, threads, cancellationToken);

    /// <summary>Encodes many texts on all cores (or <paramref name="threads"/>), keeping their order.</summary>
    public Encoding[] EncodeAll(IReadOnlyList<string?> texts, int maxLength, Truncation truncation, int threads = -1, CancellationToken cancellationToken = default)
        => OnAllCores(texts, text => Encode(text, maxLength, truncation), threads, cancellationToken);

    /// <summary>Every text's <see cref="EncodeWindows"/>, on all cores (or <paramref name="threads"/>), keeping their order.</summary>
    public Encoding[][] EncodeAllWindows(IReadOnlyList<string?> texts, int maxLength, int threads = -1, CancellationToken cancellationToken = default)
        => OnAllCores(texts, text => EncodeWindows(text, maxLength), threads, cancellationToken);

    /// <summary>Each text as the windows it is read in: all of it (<paramref name="windows"/>), else one encoding cut by <paramref name="truncation"/>.</summary>
    public Encoding[][] EncodeAllForReading(IReadOnlyList<string?> texts, int maxLength, Truncation truncation, bool windows, int threads = -1,
                                            CancellationToken cancellationToken = default) =>
        windows ? EncodeAllWindows(texts, maxLength, threads, cancellationToken)
                : OnAllCores(texts, text => new[] { Encode(text, maxLength, truncation) }, threads, cancellationToken);

    static T[] OnAllCores<T>(IReadOnlyList<string?> texts, Func<string?, T> encode, int threads, CancellationToken cancellationToken)
    {
        var result = new T[texts.Count];
        if (texts.Count == 0) return result;
        var options = new ParallelOptions { MaxDegreeOfParallelism = threads > 0 ? threads : Environment.ProcessorCount, CancellationToken = cancellationToken };
        Parallel.ForEach(System.Collections.Concurrent.Partitioner.Create(0, texts.Count, 256), options, range =>
        {
            for (int i = range.Item1; i < range.Item2; i++) result[i] = encode(texts[i]);
        });
        return result;
    }

    void AppendTokens(string text, List<int> ids, int stopAfter)
    {
        int position = 0;
        while (position < text.Length && ids.Count <= stopAfter)
        {
            var (specialAt, specialId, specialLength) = NextSpecial(text, position);
            int regionEnd = specialAt < 0 ? text.Length : specialAt;
            AppendRegion(text, position, regionEnd, ids, stopAfter);
            if (specialAt < 0) break;
            if (ids.Count <= stopAfter) ids.Add(specialId);
            position = specialAt + specialLength;
        }
    }

    void AppendRegion(string text, int start, int end, List<int> ids, int stopAfter)
    {
        while (start < end && ids.Count <= stopAfter)
        {
            int stop = end - start <= ChunkChars ? end : SplitPoint(text, start, end);
            ids.AddRange(wordPiece.EncodeToIds(text.AsSpan(start, stop - start)));
            start = stop;
        }
    }

    /// <summary>
    /// A place near start + ChunkChars where cutting the text changes nothing: just before ASCII
    /// whitespace or punctuation or a CJK ideograph, which BERT always splits around.
    /// </summary>
    static int SplitPoint(string text, int start, int end)
    {
        int target = start + ChunkChars;
        for (int i = target; i > start + ChunkChars / 2; i--)
            if (IsBoundary(text[i])) return i;
        for (int i = target + 1; i < end; i++)
            if (IsBoundary(text[i])) return i;
        return end;
    }

    static bool IsBoundary(char c) =>
        c < 0x80 ? c is ' ' or '\t' or '\n' or '\r' || BertPreTokenizer.IsAsciiPunctuation(c) : BertNormalizer.IsChineseChar(c);

    (int At, int Id, int Length) NextSpecial(string text, int from)
    {
        int i = from;
        while ((i = text.IndexOf('[', i)) >= 0)
        {
            foreach (var (token, id) in specials)
                if (string.CompareOrdinal(text, i, token, 0, token.Length) == 0) return (i, id, token.Length);
            i++;
        }
        return (-1, 0, 0);
    }
}
