using System.CommandLine;
using Blockbuster.Cli;
using Blockbuster.Cli.Commands;

namespace Blockbuster.Tests;

/// <summary>The command tree parses into the options records; nothing runs.</summary>
public class CliParseTests
{
    static readonly RootCommand Root = CliApp.BuildRoot();

    /// <summary>distill has no --test-size, --seed or --limit (the teacher's split fixes them): the record gets train's defaults and validates.</summary>
    [Fact]
    public void Distill_options_validate_without_the_options_it_does_not_have()
    {
        var o = DistillCommand.ToOptions(Root.Parse("distill --teacher ./teacher --from-scratch --full-finetune --unlabelled a.csv,b.csv"));
        Assert.Equal((0.2, 42, (int?)null), (o.TestSize, o.Seed, o.Limit));
        Assert.Equal(["./teacher"], o.Teachers);
        Assert.Equal(["./a", "./b", "./c"], DistillCommand.ToOptions(Root.Parse("distill --teacher ./a,./b --teacher ./c")).Teachers);
        Assert.Equal(["a.csv", "b.csv"], o.Unlabelled);
        o.Validate();
        Assert.Equal((0, 2), (o.Augment, DistillCommand.ToOptions(Root.Parse("distill --teacher ./teacher --augment 2")).Augment));
        Assert.Equal(((int?)null, (int?)5), (o.DataSeed, DistillCommand.ToOptions(Root.Parse("distill --teacher ./teacher --data-seed 5")).DataSeed));
    }

    [Fact]
    public void A_student_written_over_its_teacher_is_refused()
    {
        var o = DistillCommand.ToOptions(Root.Parse("distill --teacher ./a,teacher/ --output ./teacher"));
        var e = Assert.Throws<Blockbuster.Model.UsageException>(o.Validate);
        Assert.Equal(("output", "./teacher is a teacher's folder; the student would replace it."), (e.Option, e.Problem));
    }

    [Fact]
    public void Train_defaults_are_the_original_recipe()
    {
        var o = TrainCommand.ToOptions(Root.Parse("train --data imdb.csv"));
        Assert.Equal("imdb.csv", o.Data);
        Assert.Equal("prajjwal1/bert-tiny", o.Model);
        Assert.Equal("./blockbuster-model", o.Output);
        Assert.Equal((0.2, 42, 512, 3, 16, 2, 1.0, 0.01), (o.TestSize, o.Seed, o.MaxLength, o.Epochs, o.BatchSize, o.GradientAccumulation, o.MaxGradNorm, o.WeightDecay));
        Assert.Equal(3e-5, o.EffectiveLearningRate);
        Assert.Equal(0.0, o.EffectiveWarmupRatio);
        Assert.Equal((8, 16.0, 0.1), (o.LoraR, o.LoraAlpha, o.LoraDropout));
        Assert.Equal(["query", "value"], o.LoraTargets);
        Assert.True(o.UsesLora);
        Assert.Equal(("auto", "auto"), (o.Precision, o.Device));
    }

    [Fact]
    public void Train_options_map_to_the_record()
    {
        var o = TrainCommand.ToOptions(Root.Parse(
            "train --data d.csv --model m --output o --from-scratch --full-finetune --lora-targets query,key --lora-targets value " +
            "--precision fp32 --device cpu --threads 2 --limit 500 --text-column t --label-column l --skip-invalid-rows --overwrite"));
        Assert.True(o.FromScratch && o.FullFinetune && o.SkipInvalidRows && o.Overwrite);
        Assert.Equal(["query", "key", "value"], o.LoraTargets);
        Assert.Equal(1e-3, o.EffectiveLearningRate);
        Assert.Equal(0.1, o.EffectiveWarmupRatio);
        Assert.Equal((500, "t", "l", 2, "fp32", "cpu"), (o.Limit!.Value, o.TextColumn, o.LabelColumn, o.Threads, o.Precision, o.Device));
    }

    [Theory]
    [InlineData("train")]                                   // --data is required
    [InlineData("train --data d.csv --precision fp8")]
    [InlineData("train --data d.csv --device tpu")]
    [InlineData("train --data d.csv --epochs many")]
    [InlineData("predict --bogus")]
    [InlineData("eval --no-such-option")]
    [InlineData("frobnicate")]
    public void Usage_errors_are_parse_errors(string line) => Assert.NotEmpty(Root.Parse(line).Errors);

    [Fact]
    public void Eval_and_predict_defaults_need_no_arguments()
    {
        var e = EvalCommand.ToOptions(Root.Parse("eval"));
        Assert.Equal("./blockbuster-model", e.Model);
        Assert.Null(e.Data);
        var p = Root.Parse("predict \"I loved the movie!\" second --json");
        Assert.Empty(p.Errors);
        Assert.Equal(["I loved the movie!", "second"], p.GetValue(PredictCommand.Texts)!);
        Assert.Equal("./blockbuster-model", PredictCommand.ToOptions(p).Model);
    }

    [Fact]
    public async Task Exit_code_is_2_for_usage_errors_with_one_line_on_stderr()
    {
        var error = new StringWriter();
        var original = Console.Error;
        Console.SetError(error);
        try { Assert.Equal(CliApp.UsageError, await CliApp.RunAsync(["train", "--epochs", "x", "--data", "d.csv"])); }
        finally { Console.SetError(original); }
        var lines = error.ToString().Trim().Split('\n');
        Assert.Single(lines);
        Assert.StartsWith("blockbuster train:", lines[0]);
    }

    [Theory]
    [InlineData("train --data d.csv --quantize nf4 --full-finetune", "blockbuster train: --quantize nf4 freezes the base in 4 bits and trains LoRA adapters on top (QLoRA); it cannot be combined with --full-finetune.")]
    [InlineData("train --data d.csv --batch-size 0", "blockbuster train: --batch-size must be positive, got 0.")]
    [InlineData("train --data d.csv --lr -1", "blockbuster train: --lr must be positive, got -1.")]
    [InlineData("train --output o --overwrite --resume", "blockbuster train: --overwrite cannot be combined with --resume.")]
    [InlineData("pretrain --data d.csv --cls-words 99", "blockbuster pretrain: --cls-words must be between 0 and 64, got 99.")]
    public async Task Library_usage_errors_come_out_in_the_cli_s_own_spelling(string line, string expected)
    {
        var error = new StringWriter();
        var original = Console.Error;
        Console.SetError(error);
        try { Assert.Equal(CliApp.UsageError, await CliApp.RunAsync(line.Split(' '))); }
        finally { Console.SetError(original); }
        Assert.Equal(expected, error.ToString().Trim());
    }

    [Fact]
    public async Task An_unknown_choice_is_one_line_listing_the_choices()
    {
        var error = new StringWriter();
        var original = Console.Error;
        var culture = System.Globalization.CultureInfo.CurrentUICulture;
        Console.SetError(error);
        System.Globalization.CultureInfo.CurrentUICulture = System.Globalization.CultureInfo.InvariantCulture;   // System.CommandLine's English text
        try { Assert.Equal(CliApp.UsageError, await CliApp.RunAsync(["predict", "--quantize", "int4", "text"])); }
        finally { Console.SetError(original); System.Globalization.CultureInfo.CurrentUICulture = culture; }
        Assert.Equal("blockbuster predict: Argument 'int4' not recognized. Must be one of: 'nf4', 'int8' (see 'blockbuster predict --help')", error.ToString().Trim());
    }

    [Fact]
    public async Task Library_hints_name_options_as_cli_flags()
    {
        using var dir = new TempDir();
        Directory.CreateDirectory(dir.File("out"));
        File.WriteAllText(Path.Combine(dir.File("out"), "keep.txt"), "mine");
        var error = new StringWriter();
        var original = Console.Error;
        Console.SetError(error);
        try { Assert.Equal(CliApp.Failure, await CliApp.RunAsync(["train", "--data", "d.csv", "--output", dir.File("out")])); }
        finally { Console.SetError(original); }
        Assert.Equal($"blockbuster train: output folder {dir.File("out")} already exists; pass --overwrite to replace it or --resume to continue it.", error.ToString().Trim());
    }
}
