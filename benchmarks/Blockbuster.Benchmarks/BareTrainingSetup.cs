using Blockbuster.Model;
using Blockbuster.Model.Lora;
using Blockbuster.Training;
using Blockbuster.Training.Data;
using Blockbuster.Training.Tokenization;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Blockbuster.Benchmarks;

/// <summary>
/// What a bare TorchSharp training loop needs, made as the trainer makes it: the train side of the split,
/// its encodings and epoch-0 batches, and a fresh bert-tiny-shaped classifier (LoRA unless --full-finetune)
/// with AdamW over its trainable parameters.
/// </summary>
sealed class BareTrainingSetup : IDisposable
{
    public required ReviewSet Train { get; init; }
    public required Encoding[] Encodings { get; init; }
    public required IReadOnlyList<int[]> Batches { get; init; }
    public required BertForSequenceClassification Model { get; init; }
    public required AdamW Optimizer { get; init; }

    public static BareTrainingSetup Create(TrainingOptions o)
    {
        var (train, _, _) = DataPreparation.ReadAndSplit(o);
        var tokenizer = BertWordPieceTokenizer.Load(Path.Combine(SharedPaths.BertTiny, "vocab.txt"));
        var encodings = tokenizer.EncodeAll(train.Texts.ToArray(), o.MaxLength);
        var batches = new LengthBucketSampler(encodings.Select(e => e.Ids.Length).ToArray(), o.BatchSize, o.Seed).Batches(0);
        manual_seed(o.Seed);
        var config = BertConfig.Load(Path.Combine(SharedPaths.BertTiny, "config.json")).WithLabels(["negative", "positive"]);
        var model = Blockbuster.Model.Lora.LoraInjection.Inject(new BertForSequenceClassification(config), o.FullFinetune ? null : new LoraConfig());
        var optimizer = optim.AdamW(Trainer.SelectTrainable(model, !o.FullFinetune), 3e-5);
        model.train();
        return new BareTrainingSetup { Train = train, Encodings = encodings, Batches = batches, Model = model, Optimizer = optimizer };
    }

    /// <summary>The padded batch of these members, in the caller's dispose scope.</summary>
    public Batch Collate(int[] members, int maxLength) =>
        Batch.Collate(members.Select(i => Encodings[i].Ids).ToArray(), members.Select(i => Train.Labels[i]).ToArray(), 0, CPU, maxLength);

    public long Tokens(int[] members) => members.Sum(i => Encodings[i].Ids.Length);

    public void Dispose()
    {
        Optimizer.Dispose();
        Model.Dispose();
    }
}
