using System.CommandLine;
using Blockbuster.Cli.Rendering;
using Blockbuster.Model.Hub;
using Blockbuster.Training;
using Blockbuster.Training.Pretraining;

namespace Blockbuster.Cli.Commands;

/// <summary><c>blockbuster pretrain</c>: parse → <see cref="PretrainOptions"/> → <see cref="Pretrainer"/> → render.</summary>
public static class PretrainCommand
{
    static readonly PretrainOptions Defaults = new();

    internal static readonly Option<string[]> Data = new("--data")
    {
        Description = "CSV of unlabelled text (repeatable); every non-empty text of --text-column is used",
        AllowMultipleArgumentsPerToken = false,
    };
    internal static readonly Option<string?> TrainSplit = new("--train-split") { Description = "a split.json written by train: add the training reviews of its CSV (never its held-out ones)" };
    internal static readonly Option<string> Model = new("--model") { Description = "model to start from (Hub id or folder); its config and vocabulary are used", DefaultValueFactory = _ => Defaults.Model };
    internal static readonly Option<bool> FromScratch = new("--from-scratch") { Description = "start from BERT's random initialisation (only the config and vocabulary of --model are used)" };
    internal static readonly Option<string> Output = new("--output", "-o") { Description = "folder to write the masked-LM model to", DefaultValueFactory = _ => Defaults.Output };
    internal static readonly Option<bool> Overwrite = new("--overwrite") { Description = "replace an existing output folder" };
    internal static readonly Option<bool> Resume = new("--resume") { Description = "continue the run saved in --output from its last checkpoint (with its saved options)" };
    internal static readonly Option<int> MaxLength = new("--max-length") { Description = "tokens per block, [CLS] and [SEP] included", DefaultValueFactory = _ => Defaults.MaxLength };
    internal static readonly Option<double> MlmProbability = new("--mlm-probability") { Description = "fraction of tokens chosen for prediction (80% [MASK], 10% random, 10% kept)", DefaultValueFactory = _ => Defaults.MlmProbability };
    internal static readonly Option<int> ClsWords = new("--cls-words")
    {
        Description = "[CLS] also predicts N words drawn from its block's first text, a bag-of-words summary that a classifier fine-tuned over a frozen base (LoRA) can read; masked LM alone leaves [CLS] untrained",
        DefaultValueFactory = _ => Defaults.ClsWords,
    };
    internal static readonly Option<string?> Teacher = new("--teacher")
    {
        Description = "a pretrained BERT with the same vocabulary (Hub id or folder, e.g. all-MiniLM-L6-v2) whose hidden states the student also learns, "
            + "as TinyBERT's general distillation: each student layer through a learned map, and [CLS] towards the teacher's mean-pooled sentence embedding; "
            + "a classifier folder (from train or distill) teaches its predictions instead, to a pooler the student grows and the output folder keeps",
    };
    internal static readonly Option<double> TeacherWeight = new("--teacher-weight") { Description = "weight of the distillation loss beside the masked-LM loss", DefaultValueFactory = _ => Defaults.TeacherWeight };
    internal static readonly Option<int> Epochs = new("--epochs") { Description = "passes over the blocks", DefaultValueFactory = _ => Defaults.Epochs };
    internal static readonly Option<int> BatchSize = new("--batch-size") { Description = "blocks per optimizer step", DefaultValueFactory = _ => Defaults.BatchSize };
    internal static readonly Option<double> Lr = new("--lr") { Description = "peak learning rate", DefaultValueFactory = _ => Defaults.LearningRate };
    internal static readonly Option<double> WarmupRatio = new("--warmup-ratio") { Description = "fraction of steps for linear warmup", DefaultValueFactory = _ => Defaults.WarmupRatio };
    internal static readonly Option<double> WeightDecay = new("--weight-decay") { Description = "AdamW weight decay (not on biases and LayerNorm)", DefaultValueFactory = _ => Defaults.WeightDecay };
    internal static readonly Option<int> HeldOutBlocks = new("--held-out-blocks") { Description = "blocks held out to report masked-token loss and accuracy", DefaultValueFactory = _ => Defaults.HeldOutBlocks };
    internal static readonly Option<int> SaveSteps = new("--save-steps") { Description = "evaluate and checkpoint every N optimizer steps (and at each epoch's end)", DefaultValueFactory = _ => Defaults.SaveSteps };
    internal static readonly Option<int> Seed = new("--seed") { Description = "seed for block order, masks, initialisation and dropout", DefaultValueFactory = _ => Defaults.Seed };
    internal static readonly Option<int?> Limit = new("--limit") { Description = "use a random subset of N texts (quick runs)" };
    internal static readonly Option<string> Precision = CommonOptions.Precision();
    internal static readonly Option<string> Device = CommonOptions.Device();
    internal static readonly Option<int> Threads = CommonOptions.Threads();
    internal static readonly Option<string> TextColumn = CommonOptions.TextColumn();
    internal static readonly Option<string> Encoding = CommonOptions.Encoding();

    public static Command Create()
    {
        var command = new Command("pretrain", """
            Masked-language-model pretraining (BERT's MLM, as transformers' run_mlm.py): texts are concatenated and cut
            into blocks, 15% of tokens are predicted. Writes a Hugging Face BertForMaskedLM folder that 'train --model' accepts.

            Examples:
              blockbuster pretrain --data ../shared/data/imdb_unsup.csv --train-split ./blockbuster-model/split.json \
                --model ../shared/models/bert-tiny --from-scratch --output ./bert-tiny-imdb
              blockbuster pretrain --data ../shared/data/imdb_unsup.csv --train-split ./blockbuster-model/split.json \
                --model ../shared/models/bert-tiny --from-scratch --teacher ../shared/models/all-MiniLM-L6-v2 --output ./bert-tiny-gd
              blockbuster pretrain --output ./bert-tiny-imdb --resume
              blockbuster train --data imdb.csv --model ./bert-tiny-imdb
            """);
        foreach (var option in new Option[] { Data, TrainSplit, Model, FromScratch, Output, Overwrite, Resume, MaxLength, MlmProbability, ClsWords, Teacher, TeacherWeight, Epochs, BatchSize,
                     Lr, WarmupRatio, WeightDecay, HeldOutBlocks, SaveSteps, Seed, Limit, Precision, Device, Threads, TextColumn, Encoding })
            command.Options.Add(option);
        command.SetAction(RunAsync);
        return command;
    }

    public static PretrainOptions ToOptions(ParseResult p) => new()
    {
        Data = p.GetValue(Data) ?? [], TrainSplit = p.GetValue(TrainSplit), Model = p.GetValue(Model)!, FromScratch = p.GetValue(FromScratch),
        Output = p.GetValue(Output)!, Overwrite = p.GetValue(Overwrite), Resume = p.GetValue(Resume), MaxLength = p.GetValue(MaxLength),
        MlmProbability = p.GetValue(MlmProbability), ClsWords = p.GetValue(ClsWords), Teacher = p.GetValue(Teacher), TeacherWeight = p.GetValue(TeacherWeight), Epochs = p.GetValue(Epochs), BatchSize = p.GetValue(BatchSize), LearningRate = p.GetValue(Lr),
        WarmupRatio = p.GetValue(WarmupRatio), WeightDecay = p.GetValue(WeightDecay), HeldOutBlocks = p.GetValue(HeldOutBlocks),
        SaveSteps = p.GetValue(SaveSteps), Seed = p.GetValue(Seed), Limit = p.GetValue(Limit), Precision = p.GetValue(Precision)!,
        Device = p.GetValue(Device)!, Threads = p.GetValue(Threads), TextColumn = p.GetValue(TextColumn)!,
        Encoding = p.GetValue(Encoding)!,
    };

    static Task<int> RunAsync(ParseResult parse, CancellationToken cancellationToken) => CliErrors.RunAsync("pretrain", async () =>
    {
        var options = ToOptions(parse);
        using var view = new TrainingView(unit: "blocks");
        var result = await Pretrainer.RunAsync(options, new HubClient(HubOptions.FromEnvironment()), new SyncProgress<TrainingEvent>(view.Handle), cancellationToken).ConfigureAwait(false);
        view.Finish(result);
        return result.Interrupted ? CliApp.Interrupted : CliApp.Success;
    });
}
