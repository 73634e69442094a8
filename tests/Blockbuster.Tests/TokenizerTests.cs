using System.Text.Json;
using Blockbuster.Training.Tokenization;

namespace Blockbuster.Tests;

public class TokenizerTests
{
    static readonly Lazy<BertWordPieceTokenizer> MiniLm = new(() =>
        BertWordPieceTokenizer.Load(Path.Combine(Paths.MiniLm, "vocab.txt"), Path.Combine(Paths.MiniLm, "tokenizer_config.json")));

    public static IEnumerable<object[]> ReferenceCases()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(Paths.MiniLm, "reference_outputs.json")));
        foreach (var c in doc.RootElement.GetProperty("cases").EnumerateArray())
            yield return [c.GetProperty("text").GetString()!,
                          c.GetProperty("hf_input_ids_untruncated").EnumerateArray().Select(e => e.GetInt32()).ToArray(),
                          c.GetProperty("input_ids").EnumerateArray().Select(e => e.GetInt32()).ToArray()];
    }

    [Theory]
    [MemberData(nameof(ReferenceCases))]
    public void Matches_the_python_reference_ids_and_truncation(string text, int[] untruncated, int[] truncatedTo128)
    {
        Assert.Equal(untruncated, MiniLm.Value.Encode(text, 100_000).Ids);
        var encoding = MiniLm.Value.Encode(text, 128);
        Assert.Equal(truncatedTo128, encoding.Ids);
        Assert.Equal(untruncated.Length > 128, encoding.Truncated);
    }

    [Fact]
    public void Truncation_keeps_cls_and_sep()
    {
        var t = MiniLm.Value;
        var e = t.Encode("one two three four five six seven", 5);
        Assert.Equal([t.ClsId, 2028, 2048, 2093, t.SepId], e.Ids);
        Assert.True(e.Truncated);
        Assert.Equal([t.ClsId, t.SepId], t.Encode(null, 512).Ids);
        Assert.Equal([t.ClsId, t.SepId], t.Encode("", 512).Ids);
        Assert.Throws<ArgumentOutOfRangeException>(() => t.Encode("x", 1));
    }

    [Fact]
    public void Ten_megabyte_review_is_cut_without_processing_all_of_it()
    {
        var t = MiniLm.Value;
        var huge = string.Concat(Enumerable.Repeat("This film was great fun, really. ", 320_000));  // ~10 MB
        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = t.Encode(huge, 512);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(512, e.Ids.Length);
        Assert.True(e.Truncated);
        Assert.Equal(t.Encode(huge[..5000], 512).Ids, e.Ids);
        Assert.True(allocated < 2_000_000, $"allocated {allocated} bytes");
        // A 10 MB "word" without any split point is one pre-token: [UNK], as in Hugging Face.
        Assert.Equal([t.ClsId, t.UnkId, t.SepId], t.Encode(new string('x', 10_000_000), 512).Ids);
    }

    [Fact]
    public void Chunked_encoding_equals_whole_encoding()
    {
        var t = MiniLm.Value;
        var rng = new Random(7);
        string[] pieces = ["word", "Ünïcödé", "。", "漢字", "a.b", "<br />", "\n", " ", "[SEP]", "😀", "e\u0301"];
        var text = string.Concat(Enumerable.Range(0, 20_000).Select(_ => pieces[rng.Next(pieces.Length)]));
        var whole = t.Encode(text, 1_000_000).Ids;
        var reference = new Tokenizers.DotNet.Tokenizer(Path.Combine(Paths.MiniLm, "tokenizer.json")).Encode(text).Select(i => (int)i);
        Assert.Equal(reference, whole);
    }

    [Fact]
    public void Tokenizer_config_is_read()
    {
        using var dir = new TempDir();
        File.WriteAllText(dir.File("tokenizer_config.json"), """{"do_lower_case": false, "strip_accents": true, "tokenize_chinese_chars": false, "model_max_length": 1000000000000000019884624838656}""");
        var options = BertTokenizerOptions.Load(dir.File("tokenizer_config.json"));
        Assert.False(options.LowerCase);
        Assert.True(options.ShouldStripAccents);
        Assert.False(options.TokenizeChineseChars);
        Assert.Equal(512, options.ModelMaxLength);
        Assert.True(BertTokenizerOptions.Load(null).ShouldStripAccents);
    }

    [Fact]
    public void Cased_options_keep_case_and_accents()
    {
        var options = new BertTokenizerOptions { LowerCase = false };
        Assert.Equal("Café  漢 ", new BertNormalizer(options).Normalize("Café\t漢"));
        Assert.Equal("cafe  漢 ", new BertNormalizer(new BertTokenizerOptions()).Normalize("Café\t漢"));
    }
}
