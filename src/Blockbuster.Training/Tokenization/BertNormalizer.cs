using System.Globalization;
using System.Text;
using Microsoft.ML.Tokenizers;

namespace Blockbuster.Training.Tokenization;

/// <summary>
/// Hugging Face tokenizers' <c>BertNormalizer</c>, step for step and in its order:
/// 1. clean text: drop NUL, U+FFFD and every "other" character (Cc, Cf, Cs, Co, Cn; lone surrogates
///    included) except \t \n \r; map every whitespace character to a space;
/// 2. pad CJK ideographs with spaces so each becomes its own word;
/// 3. strip accents (NFD, then drop non-spacing marks) when <c>strip_accents</c>, or lower-casing with
///    <c>strip_accents</c> unset;
/// 4. lower-case each character with its full Unicode mapping.
/// Microsoft.ML.Tokenizers' own BertTokenizer deletes symbol characters and joins words split only by
/// \n \t \r (dotnet/machinelearning#7724, #7725); this normalizer has neither bug.
/// </summary>
public sealed class BertNormalizer(BertTokenizerOptions options) : Normalizer
{
    public override string Normalize(string original) => Normalize(original.AsSpan());

    public override string Normalize(ReadOnlySpan<char> original)
    {
        var cleaned = new StringBuilder(original.Length + 16);
        bool ascii = true;
        int i = 0;
        while (i < original.Length)
        {
            char c = original[i];
            if (c < 0x80)
            {
                // ASCII fast path: controls other than \t \n \r are dropped, whitespace becomes a space.
                if (c is '\t' or '\n' or '\r' or ' ') cleaned.Append(' ');
                else if (c >= 0x20 && c != 0x7F) cleaned.Append(c);
                i++;
                continue;
            }
            ascii = false;
            var status = Rune.DecodeFromUtf16(original[i..], out var rune, out int consumed);
            i += consumed;
            if (status != System.Buffers.OperationStatus.Done) continue;            // lone surrogate: dropped as Cs
            int cp = rune.Value;
            if (cp == 0xFFFD || IsOther(rune)) continue;
            if (Rune.IsWhiteSpace(rune)) { cleaned.Append(' '); continue; }
            if (options.TokenizeChineseChars && IsChineseChar(cp))
            {
                cleaned.Append(' ');
                AppendRune(cleaned, rune);
                cleaned.Append(' ');
                continue;
            }
            AppendRune(cleaned, rune);
        }

        if (ascii)
            return options.LowerCase ? LowerAscii(cleaned) : cleaned.ToString();

        string text = cleaned.ToString();
        if (options.ShouldStripAccents) text = StripAccents(text);
        return options.LowerCase ? LowerUnicode(text) : text;
    }

    static string LowerAscii(StringBuilder sb)
    {
        for (int i = 0; i < sb.Length; i++)
        {
            char c = sb[i];
            if (c is >= 'A' and <= 'Z') sb[i] = (char)(c + 32);
        }
        return sb.ToString();
    }

    static string StripAccents(string text)
    {
        var decomposed = text.Normalize(NormalizationForm.FormD);
        var sb = new StringBuilder(decomposed.Length);
        foreach (var rune in decomposed.EnumerateRunes())
            if (Rune.GetUnicodeCategory(rune) != UnicodeCategory.NonSpacingMark) AppendRune(sb, rune);
        return sb.ToString();
    }

    static string LowerUnicode(string text)
    {
        var sb = new StringBuilder(text.Length);
        foreach (var rune in text.EnumerateRunes())
        {
            // The one character whose full lower-case mapping is two characters (SpecialCasing.txt).
            if (rune.Value == 0x130) { sb.Append('i').Append('\u0307'); continue; }
            AppendRune(sb, Rune.ToLowerInvariant(rune));
        }
        return sb.ToString();
    }

    static void AppendRune(StringBuilder sb, Rune rune)
    {
        if (rune.IsBmp) sb.Append((char)rune.Value);
        else
        {
            Span<char> pair = stackalloc char[2];
            rune.EncodeToUtf16(pair);
            sb.Append(pair);
        }
    }

    /// <summary>Rust's <c>char::is_other</c>: general categories Cc, Cf, Cs, Co, Cn.</summary>
    static bool IsOther(Rune rune) => Rune.GetUnicodeCategory(rune) is UnicodeCategory.Control or UnicodeCategory.Format
        or UnicodeCategory.Surrogate or UnicodeCategory.PrivateUse or UnicodeCategory.OtherNotAssigned;

    /// <summary>The CJK Unified Ideographs blocks BERT isolates (not Hiragana, Katakana or Hangul).</summary>
    public static bool IsChineseChar(int cp) =>
        cp is >= 0x4E00 and <= 0x9FFF or >= 0x3400 and <= 0x4DBF or >= 0x20000 and <= 0x2A6DF
            or >= 0x2A700 and <= 0x2B73F or >= 0x2B740 and <= 0x2B81F or >= 0x2B820 and <= 0x2CEAF
            or >= 0xF900 and <= 0xFAFF or >= 0x2F800 and <= 0x2FA1F;
}
