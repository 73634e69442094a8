namespace Blockbuster.Model;

/// <summary>
/// The default model's config.json, vocab.txt and tokenizer_config.json, embedded in this assembly (a few hundred KB,
/// no weights; licences in Resources/bert-tiny/NOTICE.md), so training <c>prajjwal1/bert-tiny</c> from scratch needs
/// neither the Hub nor a local copy. Extracted once per version into the Hub cache folder.
/// </summary>
public static class EmbeddedBertTiny
{
    public const string RepoId = "prajjwal1/bert-tiny";
    static readonly string[] Files = [ModelFolder.Config, ModelFolder.Vocab, ModelFolder.TokenizerConfig];

    /// <summary>A folder holding the three files (written atomically the first time).</summary>
    public static string Extract(string cacheDir)
    {
        var folder = Path.Combine(cacheDir, "blockbuster-embedded", $"prajjwal1--bert-tiny-{BlockbusterVersion.Current}");
        if (Files.All(f => File.Exists(Path.Combine(folder, f)))) return folder;
        AtomicFolder.Write(folder, temp =>
        {
            foreach (var file in Files)
            {
                using var source = typeof(EmbeddedBertTiny).Assembly.GetManifestResourceStream($"Blockbuster.Model.bert-tiny.{file}")
                                   ?? throw new InvalidOperationException($"embedded {file} missing from the build.");
                using var target = File.Create(Path.Combine(temp, file));
                source.CopyTo(target);
            }
        });
        return folder;
    }
}
