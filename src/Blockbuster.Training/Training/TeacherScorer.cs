using Blockbuster.Model;
using Blockbuster.Model.Hub;
using Blockbuster.Training.Data;
using Blockbuster.Training.Evaluation;
using Blockbuster.Training.Tokenization;
using TorchSharp;
using static TorchSharp.torch;

namespace Blockbuster.Training;

/// <summary>One teacher, loaded once, scoring chunk after chunk: (N, 2) probabilities in the data's label order (0 negative, 1 positive) whatever its ids.</summary>
internal sealed class TeacherScorer : IDisposable
{
    readonly BertForSequenceClassification model;
    readonly BertWordPieceTokenizer tokenizer;
    readonly Predictor predictor;
    readonly int maxLength, positive;
    readonly Truncation truncation;

    TeacherScorer(BertForSequenceClassification model, BertWordPieceTokenizer tokenizer, Predictor predictor, int maxLength, Truncation truncation)
    {
        (this.model, this.tokenizer, this.predictor, this.maxLength, this.truncation) = (model, tokenizer, predictor, maxLength, truncation);
        positive = SentimentLabel.PositiveIndex(model.Config.Labels);
    }

    public static async Task<TeacherScorer> LoadAsync(string teacher, HubClient hub, Device device, CancellationToken ct)
    {
        var loaded = await ModelFolder.ForInferenceAsync(hub, teacher, null, ct).ConfigureAwait(false);
        var model = loaded.Model;
        model.to(device);
        var precision = PrecisionPolicy.Resolve(ModelSettings.Precision(teacher, "auto"), device);
        int maxLength = ModelSettings.MaxLength(teacher, null, model.Config);
        var tokenizer = BertWordPieceTokenizer.Load(loaded.VocabPath, loaded.TokenizerConfigPath);
        return new TeacherScorer(model, tokenizer, new Predictor(model, tokenizer, device, precision, maxLength, 16), maxLength, ModelSettings.Truncation(teacher, null));
    }

    public float[][] Score(string[] texts, IProgress<int> progress, CancellationToken ct)
    {
        var encodings = tokenizer.EncodeAll(texts, maxLength, truncation, -1, ct);
        return predictor.Probabilities(encodings, progress, ct).Select(p => new[] { p[1 - positive], p[positive] }).ToArray();
    }

    // The teacher's weights and its scoring's free heap blocks go back to the kernel before the next teacher or
    // the student (NativeMemory: the heap would otherwise keep them resident for the whole run).
    public void Dispose()
    {
        model.Dispose();
        NativeMemory.ReleaseFreePages();
    }
}
