using System.CommandLine;
using Blockbuster.Cli.Rendering;
using Blockbuster.Model.Hub;
using Blockbuster.Training;

namespace Blockbuster.Cli.Commands;

/// <summary>
/// <c>blockbuster distill</c>: train's options plus the teacher's → <see cref="TrainingOptions"/> with a teacher →
/// <see cref="Trainer"/> → render. The student (<c>--model</c>, as in train) learns the teacher's soft labels.
/// </summary>
public static class DistillCommand
{
    static readonly TrainingOptions Defaults = new();

    internal static readonly Option<string[]> Teacher = new("--teacher")
    {
        Description = "classifier folder written by 'blockbuster train' whose soft labels the student learns; its split.json fixes the data. " +
                      "Several (comma-separated or repeated, all trained on one split): the student learns their averaged probabilities",
        AllowMultipleArgumentsPerToken = true,
        CustomParser = r => r.Tokens.SelectMany(t => t.Value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).ToArray(),
    };
    internal static readonly Option<string[]> Unlabelled = new("--unlabelled")
    {
        Description = "CSVs of unlabelled text (--text-column) the student also learns the teacher's soft labels on (comma-separated or repeated)",
        AllowMultipleArgumentsPerToken = true,
        CustomParser = r => r.Tokens.SelectMany(t => t.Value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).ToArray(),
    };
    internal static readonly Option<string?> TeacherScores = new("--teacher-scores")
    {
        Description = "an earlier distill output folder whose cached teacher scores to reuse instead of scoring again (to try other students, or to add a teacher to an ensemble: its teachers must be some or all of these, unchanged, with the same unlabelled texts; only the teachers and --augment copies it lacks are scored)",
    };
    internal static readonly Option<double> Temperature = new("--temperature") { Description = "softmax temperature T of the distillation loss (the KL term is scaled by T²)", DefaultValueFactory = _ => Defaults.Temperature };
    internal static readonly Option<double> Alpha = new("--alpha") { Description = "weight of the distillation term; 1 - alpha weighs the cross-entropy on true labels", DefaultValueFactory = _ => Defaults.Alpha };

    internal static readonly Option<int> Augment = new("--augment")
    {
        Description = "add N augmented copies of every text (a random window of at least half its words, one word in ten masked), labelled by the teacher only: more transfer data (Tang et al. 2019)",
        DefaultValueFactory = _ => Defaults.Augment,
    };

    public static Command Create()
    {
        var command = new Command("distill", """
            Knowledge distillation: train a student (--model, any BERT folder or config; --from-scratch allowed) on a teacher's soft
            labels (KL at --temperature, scaled by T², mixed with the cross-entropy on true labels by --alpha), on the teacher's own
            training split plus any unlabelled text. Several teachers: the student learns their mean probability (an ensemble).
            The teachers' scores are computed once and cached in the output folder.

            Examples:
              blockbuster distill --teacher ./minilm-teacher --model ../shared/models/bert-tiny --from-scratch --full-finetune \
                --unlabelled ../shared/data/imdb_unsup.csv --output ./bert-tiny-student
              blockbuster distill --teacher ./minilm-teacher,./bert-tiny-model --from-scratch --full-finetune --output ./ensemble-student
              blockbuster distill --teacher ./minilm-teacher --model ../shared/models/bert-tiny --from-scratch --full-finetune \
                --unlabelled ../shared/data/imdb_unsup.csv --augment 1 --teacher-scores ./bert-tiny-student --output ./augmented-student
              blockbuster distill --teacher ./minilm-teacher,./bert-tiny-model,./stronger-teacher --full-finetune \
                --teacher-scores ./ensemble-student --output ./three-teacher-student
              blockbuster distill --output ./bert-tiny-student --resume
            """);
        // The teacher's split fixes the data, its held-out part and the seed: train's --data, --test-size, --limit, --seed do not apply.
        foreach (var option in TrainCommand.SharedOptions.Except([TrainCommand.Data, TrainCommand.TestSize, TrainCommand.Limit, TrainCommand.Seed]))
            command.Options.Add(option);
        command.Options.Add(TrainCommand.OptionalData);
        foreach (var option in new Option[] { Teacher, Unlabelled, Augment, TeacherScores, Temperature, Alpha }) command.Options.Add(option);
        command.Validators.Add(result =>
        {
            if (result.GetValue(Teacher) is not { Length: > 0 } && !result.GetValue(TrainCommand.Resume)) result.AddError("Option '--teacher' is required (unless --resume continues a saved run).");
        });
        command.SetAction(RunAsync);
        return command;
    }

    public static TrainingOptions ToOptions(ParseResult p) => TrainCommand.ToOptions(p, TrainCommand.OptionalData) with
    {
        // Not options of distill (the teacher's split.json fixes them): train's defaults, not the parser's zeros.
        TestSize = Defaults.TestSize, Seed = Defaults.Seed, Limit = Defaults.Limit,
        Teachers = p.GetValue(Teacher) ?? [], Unlabelled = p.GetValue(Unlabelled) ?? [], TeacherScores = p.GetValue(TeacherScores), Temperature = p.GetValue(Temperature), Alpha = p.GetValue(Alpha),
        Augment = p.GetValue(Augment),
    };

    static Task<int> RunAsync(ParseResult parse, CancellationToken cancellationToken) => CliErrors.RunAsync("distill", async () =>
    {
        using var view = new TrainingView();
        var result = await Trainer.RunAsync(ToOptions(parse), new HubClient(HubOptions.FromEnvironment()), new SyncProgress<TrainingEvent>(view.Handle), cancellationToken).ConfigureAwait(false);
        view.Finish(result);
        return result.Interrupted ? CliApp.Interrupted : CliApp.Success;
    });
}
