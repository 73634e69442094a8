using System.Text;

namespace Blockbuster.Training.Data;

/// <summary>
/// How input text files are decoded: strict UTF-8 by default (an invalid byte is an error naming where it
/// is, never a silent U+FFFD), or Latin-1 when the user says so with <c>--encoding latin1</c>.
/// </summary>
public static class TextEncoding
{
    public const string Utf8 = "utf-8";
    public static readonly string[] Names = ["utf-8", "latin1"];

    public static Encoding Get(string name) => name.ToLowerInvariant() switch
    {
        "utf-8" or "utf8" => new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true),
        "latin1" or "latin-1" or "iso-8859-1" => Encoding.Latin1,
        _ => throw new Blockbuster.Model.UsageException("encoding", $"must be utf-8 or latin1, got '{name}'."),
    };

    /// <summary>Decodes bytes, turning an invalid UTF-8 sequence into <see cref="InvalidUtf8"/>'s error.</summary>
    public static string Decode(byte[] bytes, string encoding, string source, bool csv = false)
    {
        try
        {
            return Get(encoding).GetString(bytes).TrimStart('\uFEFF');
        }
        catch (DecoderFallbackException)
        {
            throw InvalidUtf8(bytes, source, csv);
        }
    }

    /// <summary>True when <paramref name="e"/> is, or wraps, a decoding failure.</summary>
    public static bool IsDecodingFailure(Exception? e)
    {
        for (; e is not null; e = e.InnerException)
            if (e is DecoderFallbackException) return true;
        return false;
    }

    /// <summary>
    /// The error for the first invalid UTF-8 sequence in <paramref name="bytes"/>: its line and byte offset,
    /// for a CSV also its row (records counted as a CSV reader does, quoted newlines inside a record), and how to fix it.
    /// </summary>
    public static DataFormatException InvalidUtf8(ReadOnlySpan<byte> bytes, string source, bool csv = true)
    {
        int offset = 0, line = 1, row = 1;
        bool quoted = false;
        while (offset < bytes.Length)
        {
            var status = System.Text.Rune.DecodeFromUtf8(bytes[offset..], out _, out int consumed);
            if (status != System.Buffers.OperationStatus.Done) break;
            byte b = bytes[offset];
            if (b == (byte)'"') quoted = !quoted;
            else if (b == (byte)'\n') { line++; if (!quoted) row++; }
            offset += consumed;
        }
        var name = Path.GetFileName(source);
        var where = offset >= bytes.Length ? "the end of the file"
            : csv ? $"row {row} (line {line}, byte offset {offset}: 0x{bytes[offset]:X2})"
            : $"line {line} (byte offset {offset}: 0x{bytes[offset]:X2})";
        return new DataFormatException(
            $"{name}: invalid UTF-8 at {where}; convert the file with 'iconv -f latin1 -t utf-8 {name} > {Path.GetFileNameWithoutExtension(name)}-utf8{Path.GetExtension(name)}' or pass `encoding` latin1.");
    }
}
