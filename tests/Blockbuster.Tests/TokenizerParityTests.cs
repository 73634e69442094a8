using Blockbuster.Training.Data;
using Blockbuster.Training.Tokenization;

namespace Blockbuster.Tests;

/// <summary>
/// Our tokenizer against Hugging Face's own (Rust) tokenizer, through Tokenizers.DotNet, reading the
/// model's tokenizer.json. The suite checks 2,000 IMDB reviews and the unit cases; the full 50,000
/// are checked by <c>dotnet run --project benchmarks/Blockbuster.Benchmarks -c Release -- tokenizer-parity</c>.
/// </summary>
public class TokenizerParityTests
{
    static readonly Lazy<BertWordPieceTokenizer> Ours = new(() =>
        BertWordPieceTokenizer.Load(Path.Combine(Paths.BertTiny, "vocab.txt"), Path.Combine(Paths.BertTiny, "tokenizer_config.json")));
    static readonly Lazy<Tokenizers.DotNet.Tokenizer> HuggingFace = new(() =>
        new Tokenizers.DotNet.Tokenizer(Path.Combine(Paths.BertTiny, "tokenizer.json")));

    static int[] Hf(string text) => HuggingFace.Value.Encode(text).Select(i => (int)i).ToArray();

    /// <summary>HF ids are [CLS] … [SEP] untruncated; ours with room for everything must be the same.</summary>
    static void AssertSame(string text)
    {
        var expected = Hf(text);
        var actual = Ours.Value.Encode(text, int.MaxValue / 2).Ids;
        Assert.True(expected.SequenceEqual(actual),
            $"text {Escape(text)}\n HF:   {string.Join(' ', expected)}\n ours: {string.Join(' ', actual)}");
    }

    static string Escape(string s) => System.Text.Json.JsonSerializer.Serialize(s.Length > 200 ? s[..200] : s);

    [Theory]
    [InlineData("Café Société: a naïve, ÜBER-stylish résumé")]                  // accents
    [InlineData("我喜欢这部电影 (I like this movie) 日本語のテキスト 한국어")]        // CJK, kana, hangul
    [InlineData("Great 😀👍🏽 movie ❤️ ★★★★☆ 10/10")]                             // emoji, symbols
    [InlineData("bell\u0007 null\0 del\u007f esc\u001b zero\u200bwidth soft\u00adhyphen bom\ufeff")] // control / format
    [InlineData("non\u00a0breaking\u2009thin\u3000ideographic\u2028line")]         // Unicode whitespace
    [InlineData("first line\r\nsecond\tline\nthird\rfourth")]                     // \r\n \t \n \r
    [InlineData("<br /><br />It's $5 + tax = ^_^ | ~ `quoted` {braces} [x] @home #1 100% a&b")] // ASCII symbols
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("!!!...???,,,;;;---")]                                              // only punctuation
    [InlineData("«Quoted» „German“ ‘single’ — dash … ellipsis ¿qué? ¡sí!")]        // Unicode punctuation
    [InlineData("İstanbul ǅemal ΣΊΣΥΦΟΣ Straße ﬁne ℌ Ⅻ")]                          // casing edge cases
    [InlineData("text with [SEP] and [CLS] inside, [MASK]ed and [unk] and [UNK]")]  // special tokens in text
    [InlineData("replacement \ufffd char and private \ue000 use")]
    [InlineData("𝐁𝐨𝐥𝐝 math 𠀀𠀁 extension-B ideographs")]                          // astral planes
    public void Unit_cases_match_hugging_face(string text) => AssertSame(text);

    [Fact]
    public void Words_over_100_characters_become_unk()
    {
        AssertSame(new string('a', 150));
        AssertSame("short " + new string('b', 100) + " " + new string('c', 101) + " end");
        AssertSame(string.Concat(Enumerable.Repeat("ab", 75)) + "!");
        Assert.Equal([Ours.Value.UnkId], Ours.Value.Tokenize(new string('a', 150)));
    }

    [Fact]
    public void Lone_surrogates_are_dropped_like_invalid_utf8()
    {
        // HF receives UTF-8, where a lone surrogate becomes U+FFFD, which BERT's cleaning removes.
        var ours = Ours.Value.Encode("bad \ud800 surrogate \udc00 here", 512).Ids;
        Assert.Equal(Hf("bad \ufffd surrogate \ufffd here"), ours);
    }

    [Fact]
    public void Sample_of_2000_imdb_reviews_matches_hugging_face()
    {
        var reviews = ReviewCsv.Read(Paths.ImdbCsv);
        var rng = new Random(1234);
        var sample = Enumerable.Range(0, reviews.Count).OrderBy(_ => rng.Next()).Take(2000).ToArray();
        var mismatches = sample.Where(i => !Hf(reviews.Texts[i]).SequenceEqual(Ours.Value.Encode(reviews.Texts[i], int.MaxValue / 2).Ids)).ToList();
        Assert.True(mismatches.Count == 0, $"{mismatches.Count} of 2000 differ, first: row {(mismatches.Count > 0 ? reviews.Rows[mismatches[0]] : 0)}");
    }
}
