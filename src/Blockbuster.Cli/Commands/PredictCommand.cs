using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Blockbuster.Cli.Rendering;
using Blockbuster.Model;
using Blockbuster.Model.Hub;
using Blockbuster.Training.Data;
using Blockbuster.Training.Evaluation;

namespace Blockbuster.Cli.Commands;

/// <summary><c>blockbuster predict</c>: gather texts → <see cref="PredictOptions"/> → <see cref="SentimentClassifier"/> → lines or JSON.</summary>
public static class PredictCommand
{
    static readonly PredictOptions Defaults = new();

    internal static readonly Argument<string[]> Texts = new("text") { Description = "review texts to classify; - reads one per line from stdin", Arity = ArgumentArity.ZeroOrMore };
    internal static readonly Option<string?> File = new("--file", "-f") { Description = "read texts from a file: one per line, or a CSV's --text-column when it ends in .csv" };
    internal static readonly Option<string> TextColumn = new("--text-column") { Description = "CSV column holding the text (with --file x.csv)", DefaultValueFactory = _ => "review" };
    internal static readonly Option<string> Model = new("--model", "-m") { Description = "trained model folder, Hugging Face classifier folder, PEFT adapter folder or Hub id", DefaultValueFactory = _ => Defaults.Model };
    internal static readonly Option<bool> Json = new("--json") { Description = "print one JSON object per text (label, probabilities per class, truncation)" };
    internal static readonly Option<int?> MaxLength = new("--max-length") { Description = "tokens per text (default: as trained, else 512); longer texts are truncated" };
    internal static readonly Option<int> BatchSize = new("--batch-size") { Description = "texts per inference batch", DefaultValueFactory = _ => Defaults.BatchSize };
    internal static readonly Option<string> Precision = CommonOptions.Precision();
    internal static readonly Option<string> Device = CommonOptions.Device();
    internal static readonly Option<int> Threads = CommonOptions.Threads();
    internal static readonly Option<string> Encoding = CommonOptions.Encoding();
    internal static readonly Option<string> Truncation = CommonOptions.Truncation(null);
    internal static readonly Option<bool> Windows = CommonOptions.Windows();
    internal static readonly Option<string?> Quantize = CommonOptions.InferenceQuantize();
    internal static readonly Option<bool> DoubleQuant = CommonOptions.DoubleQuant();

    public static Command Create()
    {
        var command = new Command("predict", """
            Classify review texts as positive or negative and print the label with its probability.

            Examples:
              blockbuster predict "I absolutely loved this movie. The characters were so well-developed!"
              blockbuster predict "Great fun." "Dull and far too long." --json
              blockbuster predict --file reviews.txt
              blockbuster predict --file reviews.csv --text-column review
              cat reviews.txt | blockbuster predict -
            """);
        command.Arguments.Add(Texts);
        foreach (var option in new Option[] { File, TextColumn, Model, Json, MaxLength, BatchSize, Precision, Device, Threads, Encoding, Truncation, Windows, Quantize, DoubleQuant })
            command.Options.Add(option);
        // A variadic text argument would otherwise swallow a mistyped option as a review.
        command.Validators.Add(result =>
        {
            var unknown = result.GetValue(Texts)?.FirstOrDefault(t => t.StartsWith("--", StringComparison.Ordinal) && t.Length > 2);
            if (unknown is not null) result.AddError($"unknown option '{unknown}' (a text that starts with -- can be given through --file or stdin)");
        });
        command.SetAction(RunAsync);
        return command;
    }

    public static PredictOptions ToOptions(ParseResult p) =>
        new(p.GetValue(Model)!, p.GetValue(MaxLength), p.GetValue(BatchSize), p.GetValue(Device)!, p.GetValue(Threads), p.GetValue(Precision)!, p.GetValue(Truncation), CommonOptions.Nf4(p.GetValue(Quantize), p.GetValue(DoubleQuant)), CommonOptions.Int8(p.GetValue(Quantize)),
        p.GetValue(Windows));

    static Task<int> RunAsync(ParseResult parse, CancellationToken cancellationToken) => CliErrors.RunAsync("predict", async () =>
    {
        // Arguments and stdin are read first; a --file streams through in chunks (constant memory) after them.
        var texts = GatherTexts(parse.GetValue(Texts) ?? [], null, parse.GetValue(TextColumn)!, parse.GetValue(Encoding)!);
        var file = parse.GetValue(File);
        if (file is not null) CheckFile(file, parse.GetValue(Encoding)!);
        if (texts.Count == 0 && file is null) throw new UsageException("file", "or TEXT arguments, or - to read stdin: there is no text to classify.");
        using var classifier = await SentimentClassifier.LoadAsync(ToOptions(parse), new HubClient(HubOptions.FromEnvironment()), cancellationToken).ConfigureAwait(false);
        int count, labelled;
        using (var output = new StreamingPredictions(classifier, parse.GetValue(Json), JsonLine, cancellationToken))
        {
            foreach (var text in texts) output.Add(text);
            if (file is not null) ForEachFileText(file, parse.GetValue(TextColumn)!, parse.GetValue(Encoding)!, output.Add);
            output.Flush();
            (count, labelled) = (output.Count, output.Labelled);
        }
        if (count == 0) throw new UsageException("file", "holds no text to classify.");
        return labelled > 0 ? CliApp.Success : CliApp.Failure;
    });

    /// <summary>Fails before the model loads: a missing file, or (in one streaming pass) a byte that is not valid in the encoding.</summary>
    static void CheckFile(string file, string encoding)
    {
        if (!System.IO.File.Exists(file)) throw new IOException($"{file}: file not found.");
        if (encoding != TextEncoding.Utf8) return;
        try
        {
            using var reader = new StreamReader(file, TextEncoding.Get(encoding), detectEncodingFromByteOrderMarks: true);
            var buffer = new char[1 << 16];
            while (reader.Read(buffer, 0, buffer.Length) > 0) { }
        }
        catch (DecoderFallbackException)
        {
            throw TextEncoding.InvalidUtf8(System.IO.File.ReadAllBytes(file), file, csv: IsCsv(file));
        }
    }

    static bool IsCsv(string file) => Path.GetExtension(file).Equals(".csv", StringComparison.OrdinalIgnoreCase);

    /// <summary>Each text of a file, one at a time: a CSV's column, or one per line (trailing blank lines dropped).</summary>
    static void ForEachFileText(string file, string column, string encoding, Action<string> onText)
    {
        if (IsCsv(file)) { ReviewCsv.ForEachText(file, column, encoding, onText); return; }
        using var reader = new StreamReader(file, TextEncoding.Get(encoding), detectEncodingFromByteOrderMarks: encoding == TextEncoding.Utf8);
        int blank = 0;
        for (string? line; (line = reader.ReadLine()) is not null;)
        {
            if (line.Length == 0) { blank++; continue; }   // held back: only blank lines before another text are texts
            for (; blank > 0; blank--) onText("");
            onText(line);
        }
    }

    static string JsonLine(string text, SentimentPrediction p) => JsonSerializer.Serialize<Dictionary<string, object?>>(p.Error is { } error
        ? new Dictionary<string, object?> { ["text"] = text, ["error"] = error }
        : new Dictionary<string, object?>
        {
            ["text"] = text, ["label"] = p.Label, ["probability"] = Math.Round(p.Probability, 6),
            ["probabilities"] = p.Probabilities.ToDictionary(kv => kv.Key, kv => Math.Round(kv.Value, 6)),
            ["tokens"] = p.Tokens, ["truncated"] = p.Truncated,
        }, JsonOutput.Options);

    /// <summary>Texts from arguments, '-' (stdin, one per line) and --file, in that order.</summary>
    public static List<string> GatherTexts(IEnumerable<string> arguments, string? file, string textColumn, string encoding = TextEncoding.Utf8, Stream? stdin = null)
    {
        var texts = new List<string>();
        foreach (var argument in arguments)
        {
            if (argument == "-") texts.AddRange(Lines(TextEncoding.Decode(ReadAll(stdin ?? StandardInput()), encoding, "stdin")));
            else texts.Add(argument);
        }
        if (file is not null)
        {
            if (!System.IO.File.Exists(file)) throw new IOException($"{file}: file not found.");
            if (Path.GetExtension(file).Equals(".csv", StringComparison.OrdinalIgnoreCase)) texts.AddRange(ReviewCsv.ReadTexts(file, textColumn, encoding, keepEmpty: true).Texts);
            else texts.AddRange(Lines(TextEncoding.Decode(System.IO.File.ReadAllBytes(file), encoding, file)));
        }
        return texts;
    }

    /// <summary>Where '-' reads from: the process's standard input, as bytes (decoded strictly here, not by Console.In).</summary>
    internal static Func<Stream> StandardInput { get; set; } = Console.OpenStandardInput;

    static byte[] ReadAll(Stream stream)
    {
        using var buffer = new MemoryStream();
        stream.CopyTo(buffer);
        return buffer.ToArray();
    }

    static IEnumerable<string> Lines(string content) =>
        content.Split('\n').Select(l => l.TrimEnd('\r')).Reverse().SkipWhile(l => l.Length == 0).Reverse();   // drop trailing blank lines
}
