using System.CommandLine;

namespace Blockbuster.Cli;

/// <summary>Options shared by train, eval and predict.</summary>
public static class CommonOptions
{
    public static Option<string> Device() => new Option<string>("--device")
    {
        Description = "auto (CUDA when this build and machine have it, else CPU), cpu or cuda",
        DefaultValueFactory = _ => "auto",
    }.AcceptOnlyFromAmong("auto", "cpu", "cuda");

    public static Option<string> Precision() => new Option<string>("--precision")
    {
        Description = "auto (fp16 on CUDA, bf16 on CPUs with native bf16, else fp32), fp32, bf16 or fp16",
        DefaultValueFactory = _ => "auto",
    }.AcceptOnlyFromAmong("auto", "fp32", "bf16", "fp16");

    public static Option<int> Threads() => new("--threads")
    {
        Description = "CPU threads for LibTorch and tokenization (0: all cores)",
        DefaultValueFactory = _ => 0,
    };

    public static Option<string> TextColumn() => new("--text-column") { Description = "CSV column holding the review text", DefaultValueFactory = _ => "review" };
    public static Option<string> LabelColumn() => new("--label-column") { Description = "CSV column holding the label (positive/negative, pos/neg, 1/0)", DefaultValueFactory = _ => "sentiment" };
    public static Option<string> Encoding() => new Option<string>("--encoding")
    {
        Description = "how input text files are decoded: utf-8 (strict: an invalid byte is an error) or latin1",
        DefaultValueFactory = _ => Training.Data.TextEncoding.Utf8,
    }.AcceptOnlyFromAmong(Training.Data.TextEncoding.Names);

    /// <param name="defaultValue">null: as the model was trained (eval, predict)</param>
    public static Option<string> Truncation(string? defaultValue) => new Option<string>("--truncation")
    {
        Description = defaultValue is null
            ? "which tokens of a long review to keep: head, tail or head+tail (default: as trained, else head)"
            : "which tokens of a long review to keep: head, tail, or head+tail (the first 128 and last 382 of 510, Sun et al. 2019)",
        DefaultValueFactory = _ => defaultValue!,
    }.AcceptOnlyFromAmong(Training.Tokenization.TruncationRules.Names);

    /// <summary>eval and predict: read a long review whole, in windows, instead of truncating it.</summary>
    public static Option<bool> Windows() => new("--windows")
    {
        Description = "read every token of a review longer than --max-length, in as few evenly spaced, overlapping windows as cover it, and average their probabilities (instead of --truncation)",
    };

    public static Option<string?> Quantize() => new Option<string?>("--quantize")
    {
        Description = "nf4: hold the frozen encoder and pooler in 4 bits, as bitsandbytes' load_in_4bit with bnb_4bit_quant_type=nf4 (the classifier stays full precision)",
    }.AcceptOnlyFromAmong("nf4");

    const string Int8Description = "int8: the encoder's linear layers in int8 with inputs quantised at run time, as PyTorch's quantize_dynamic (CPU, FBGEMM; fastest on CPUs with VNNI)";

    /// <summary>--quantize for eval, predict and serve: nf4, or int8 (inference only).</summary>
    public static Option<string?> InferenceQuantize() => new Option<string?>("--quantize")
    {
        Description = "nf4: hold the encoder and pooler in 4 bits (bitsandbytes' NF4); " + Int8Description,
    }.AcceptOnlyFromAmong("nf4", "int8");

    public static Option<bool> DoubleQuant() => new("--double-quant")
    {
        Description = "with --quantize nf4: quantise the 4-bit block scales again, as bnb_4bit_use_double_quant (QLoRA's default)",
        DefaultValueFactory = _ => true,
    };

    public static Model.Quantization.Nf4Options? Nf4(string? quantize, bool doubleQuant) => quantize == "nf4" ? new(doubleQuant) : null;
    public static bool Int8(string? quantize) => quantize == "int8";

    public static Option<bool> SkipInvalidRows() => new("--skip-invalid-rows") { Description = "skip rows with an empty review or unknown label instead of stopping" };
}
