using System.Globalization;
using System.Text;
using Microsoft.ML.Tokenizers;

namespace Blockbuster.Training.Tokenization;

/// <summary>
/// Hugging Face tokenizers' <c>BertPreTokenizer</c> on normalized text: split on whitespace (removed),
/// then isolate every punctuation character — all of ASCII's non-alphanumeric printable characters
/// (so <c>&lt; &gt; $ + = ^ ` | ~</c> too) and Unicode's P* categories.
/// </summary>
public sealed class BertPreTokenizer : PreTokenizer
{
    public static readonly BertPreTokenizer Instance = new();

    public override IEnumerable<(int Offset, int Length)> PreTokenize(string text) => Split(text.AsSpan());

    public override IEnumerable<(int Offset, int Length)> PreTokenize(ReadOnlySpan<char> text) => Split(text);

    static List<(int Offset, int Length)> Split(ReadOnlySpan<char> text)
    {
        var words = new List<(int, int)>(text.Length / 4 + 1);
        int start = -1;
        int i = 0;
        while (i < text.Length)
        {
            char c = text[i];
            int width = 1;
            bool space, punct;
            if (c < 0x80)
            {
                space = c is ' ' or '\t' or '\n' or '\r' or '\v' or '\f';
                punct = !space && IsAsciiPunctuation(c);
            }
            else
            {
                Rune.DecodeFromUtf16(text[i..], out var rune, out width);
                space = Rune.IsWhiteSpace(rune);
                punct = !space && IsUnicodePunctuation(Rune.GetUnicodeCategory(rune));
            }

            if (space || punct)
            {
                if (start >= 0) { words.Add((start, i - start)); start = -1; }
                if (punct) words.Add((i, width));
            }
            else if (start < 0)
            {
                start = i;
            }
            i += width;
        }
        if (start >= 0) words.Add((start, text.Length - start));
        return words;
    }

    /// <summary>Rust's <c>char::is_ascii_punctuation</c>: ! through /, : through @, [ through `, { through ~.</summary>
    public static bool IsAsciiPunctuation(char c) => c is >= '!' and <= '/' or >= ':' and <= '@' or >= '[' and <= '`' or >= '{' and <= '~';

    static bool IsUnicodePunctuation(UnicodeCategory category) => category is UnicodeCategory.ConnectorPunctuation
        or UnicodeCategory.DashPunctuation or UnicodeCategory.OpenPunctuation or UnicodeCategory.ClosePunctuation
        or UnicodeCategory.InitialQuotePunctuation or UnicodeCategory.FinalQuotePunctuation or UnicodeCategory.OtherPunctuation;
}
