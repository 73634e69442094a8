using Encoding = System.Text.Encoding;
using Blockbuster.Model;
using Blockbuster.Model.Checkpoints;
using Blockbuster.Model.Lora;
using Blockbuster.Training.Data;
using Blockbuster.Training.Tokenization;
using Blockbuster.Fuzz;
using CsCheck;

namespace Blockbuster.Tests;

/// <summary>
/// Property-based fuzzing of every reader of untrusted files: valid files, mutated at random (bytes flipped,
/// cut short, spliced with junk or with JSON and CSV punctuation), must either load or fail with one of the
/// errors the CLI turns into one line. Anything else (an IndexOutOfRange, a NullReference, a hang) is a bug,
/// and CsCheck shrinks it to a small input. BLOCKBUSTER_FUZZ_ITERATIONS sets the budget (default 300 per reader).
/// The coverage-guided counterpart is scripts/fuzz.sh (AFL++ over the same <see cref="Readers"/>); what either finds
/// is kept in FuzzRegressions/.
/// </summary>
[Collection("torch-global-state")]
public class FuzzTests
{
    static readonly long Iterations = long.TryParse(Environment.GetEnvironmentVariable("BLOCKBUSTER_FUZZ_ITERATIONS"), out var n) ? n : 300;

    static bool IsReported(Exception e) => Readers.IsReported(e);

    static readonly byte[][] Splices = [.. new[] { "{", "}", "[", "]", "\"", ":", ",", "null", "-1", "1e999", "\"dtype\"", "\"shape\"", "\"data_offsets\"",
        "\n", "\r\n", "\"\"", ",,", "\0", "\uFFFF", "é", "[PAD]", "##" }.Select(Encoding.UTF8.GetBytes)];

    /// <summary>A valid file with 1-4 random edits.</summary>
    static Gen<byte[]> Mutants(byte[] valid) =>
        Gen.Int[1, 4].SelectMany(count => Gen.Select(Gen.Int[0, 3], Gen.Int[0, Math.Max(0, valid.Length)], Gen.Int[1, 16], Gen.Byte, Gen.Int[0, Splices.Length - 1]).Array[count])
            .Select(edits =>
            {
                var bytes = valid.ToList();
                foreach (var (op, at, length, value, splice) in edits)
                {
                    int i = Math.Min(at, bytes.Count);
                    switch (op)
                    {
                        case 0: if (bytes.Count > 0) bytes[Math.Min(i, bytes.Count - 1)] ^= (byte)(value | 1); break;   // flip bits
                        case 1: bytes.RemoveRange(i, bytes.Count - i); break;                                        // cut short
                        case 2: bytes.InsertRange(i, Enumerable.Repeat(value, length)); break;                        // junk
                        default: bytes.InsertRange(i, Splices[splice]); break;                                         // punctuation
                    }
                }
                return bytes.ToArray();
            });

    static void Fuzz(string name, byte[] valid, Action<string> read)
    {
        using var dir = new TempDir();
        var path = dir.File(name);
        read(WriteAndReturn(path, valid));   // the unmutated file loads
        Mutants(valid).Sample(bytes =>
        {
            File.WriteAllBytes(path, bytes);
            try { read(path); }
            catch (Exception e) when (IsReported(e)) { }
            catch when (Environment.GetEnvironmentVariable("BLOCKBUSTER_FUZZ_DUMP") is { Length: > 0 } dump)
            {
                // Keep the crashing input, to add to FuzzRegressions/ once fixed.
                Directory.CreateDirectory(dump);
                File.WriteAllBytes(Path.Combine(dump, $"{Path.GetFileNameWithoutExtension(name)}-{Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(bytes))[..12]}{Path.GetExtension(name)}"), bytes);
                throw;
            }
        }, iter: Iterations, threads: 1);
    }

    static string WriteAndReturn(string path, byte[] bytes) { File.WriteAllBytes(path, bytes); return path; }

    static byte[] TinyFile(string name)
    {
        using var dir = new TempDir();
        return File.ReadAllBytes(Path.Combine(TinyModels.WriteBaseFolder(dir.File("m")), name));
    }

    [Fact]
    public void Safetensors_header() => Fuzz("model.safetensors", TinyFile("model.safetensors"), path => SafetensorsFile.ReadHeader(path));

    [Fact]
    public void Safetensors_tensors()
    {
        // Reading tensors trusts a checked header: fuzz the whole read with fewer iterations (each allocates).
        Fuzz("model.safetensors", TinyFile("model.safetensors"), path => { foreach (var t in SafetensorsFile.Read(path).Values) t.Dispose(); });
    }

    [Fact]
    public void Pytorch_bin()
    {
        using var dir = new TempDir();
        var state = SafetensorsFile.Read(Path.Combine(TinyModels.WriteBaseFolder(dir.File("m")), "model.safetensors"));
        PytorchBinFile.Write(dir.File("pytorch_model.bin"), state.Where(kv => kv.Key.StartsWith("embeddings.LayerNorm", StringComparison.Ordinal)).ToDictionary());
        Fuzz("pytorch_model.bin", File.ReadAllBytes(dir.File("pytorch_model.bin")), path => { foreach (var t in PytorchBinFile.Read(path).Values) t.Dispose(); });
    }

    [Fact]
    public void Config_json() => Fuzz("config.json", TinyFile("config.json"), path => BertConfig.Load(path));

    [Fact]
    public void Adapter_config_json()
    {
        using var dir = new TempDir();
        new LoraConfig { BaseModelNameOrPath = "prajjwal1/bert-tiny" }.Save(dir.File("adapter_config.json"));
        Fuzz("adapter_config.json", File.ReadAllBytes(dir.File("adapter_config.json")), path => LoraConfig.Load(path));
    }

    [Fact]
    public void Vocab_txt() => Fuzz("vocab.txt", TinyFile("vocab.txt"), path => BertWordPieceTokenizer.Load(path).Encode("the movie was great fun ##s [UNK] é", 32));

    [Fact]
    public void Tokenizer_config_json() => Fuzz("tokenizer_config.json",
        Encoding.UTF8.GetBytes("""{"do_lower_case": true, "strip_accents": null, "tokenize_chinese_chars": true, "model_max_length": 512, "tokenizer_class": "BertTokenizer"}"""),
        path => BertTokenizerOptions.Load(path));

    [Fact]
    public void Reviews_csv() => Fuzz("reviews.csv",
        Encoding.UTF8.GetBytes("review,sentiment\n\"a \"\"quoted\"\", multi\nline review\",positive\nplain,negative\n\"x\",pos\n"),
        path => ReviewCsv.Read(path, new ReviewCsvOptions(SkipInvalidRows: true)));

    /// <summary>Every crash fuzzing found, kept as the input that caused it: each now fails with one clear error.</summary>
    [Theory]
    [MemberData(nameof(Regressions))]
    public void Inputs_that_once_crashed_a_reader_now_fail_cleanly(string file)
    {
        var e = Record.Exception(() => Readers.ForInput(file).Read(file));
        Assert.NotNull(e);
        Assert.True(IsReported(e), $"{Path.GetFileName(file)}: {e.GetType().Name}: {e.Message}");
        Assert.DoesNotContain('\n', e.Message);
        Assert.DoesNotContain(".).", e.Message);   // an inner message quoted as a clause, not as a sentence
    }

    public static TheoryData<string> Regressions() =>
        new(Directory.GetFiles(Path.Combine(Paths.RepoRoot, "tests", "Blockbuster.Tests", "FuzzRegressions")).Order());

    /// <summary>
    /// A failed read closes its file. AFL++ found the .bin reader leaving a non-zip file open (and, .NET's file
    /// locks being per process, unwritable by the same process) for good: a server or an app retrying hits that.
    /// </summary>
    [Theory]
    [MemberData(nameof(ReaderNames))]
    public void A_failed_read_leaves_no_file_open(string reader)
    {
        using var dir = new TempDir();
        var r = Readers.Named(reader);
        var path = dir.File(r.FileName);
        foreach (var junk in new[] { "not a model file \0\u00ff"u8.ToArray(), [0x50, 0x4b, 0x03, 0x04, 1, 2, 3], [0xff, 0xfe, 0, 0, 0, 0, 0, 0, 9] })
        {
            File.WriteAllBytes(path, junk);
            try { r.Read(path); } catch (Exception e) when (IsReported(e)) { }
            using var exclusive = File.Open(path, FileMode.Open, FileAccess.ReadWrite, FileShare.None);   // throws if a reader still holds it
        }
    }

    public static TheoryData<string> ReaderNames() => new(Readers.All.Select(r => r.Name));
}
