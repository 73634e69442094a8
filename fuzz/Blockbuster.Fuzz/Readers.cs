using Blockbuster.Model;
using Blockbuster.Model.Checkpoints;
using Blockbuster.Model.Lora;
using Blockbuster.Training.Data;
using Blockbuster.Training.Tokenization;

namespace Blockbuster.Fuzz;

/// <summary>One reader of an untrusted file: its name on the command line, the file name it reads, and the read.</summary>
public sealed record Reader(string Name, string FileName, Action<string> Read);

/// <summary>
/// Every reader of untrusted files, shared by the AFL++ harness and the tests (FuzzTests links this file), so
/// both exercise the same calls and agree on what a clean failure is.
/// </summary>
public static class Readers
{
    public static readonly IReadOnlyList<Reader> All =
    [
        new("safetensors", "model.safetensors", path => { foreach (var t in SafetensorsFile.Read(path).Values) t.Dispose(); }),
        new("pytorch-bin", "pytorch_model.bin", path => { foreach (var t in PytorchBinFile.Read(path).Values) t.Dispose(); }),
        new("config", "config.json", path => BertConfig.Load(path)),
        new("adapter-config", "adapter_config.json", path => LoraConfig.Load(path)),
        new("vocab", "vocab.txt", path => BertWordPieceTokenizer.Load(path).Encode("the movie was great fun ##s [UNK] é", 32)),
        new("tokenizer-config", "tokenizer_config.json", path => BertTokenizerOptions.Load(path)),
        new("csv", "reviews.csv", path => ReviewCsv.Read(path, new ReviewCsvOptions(SkipInvalidRows: true))),
    ];

    /// <summary>What the CLI reports as one line (CliErrors): any other exception is a crash.</summary>
    public static bool IsReported(Exception e) =>
        e is ModelFormatException or DataFormatException or FormatException or InvalidDataException or IOException;

    public static Reader Named(string name) =>
        All.FirstOrDefault(r => r.Name == name)
        ?? throw new ArgumentException($"unknown reader '{name}'; one of {string.Join(", ", All.Select(r => r.Name))}.");

    /// <summary>The reader for a kept input such as <c>pytorch_model-8dd2e56ddfb8.bin</c>: the longest file-name stem it starts with.</summary>
    public static Reader ForInput(string fileName) =>
        All.Where(r => Path.GetFileName(fileName).StartsWith(Path.GetFileNameWithoutExtension(r.FileName) + "-", StringComparison.Ordinal))
           .MaxBy(r => r.FileName.Length)
        ?? throw new ArgumentException($"{fileName}: no reader for this name.");
}
