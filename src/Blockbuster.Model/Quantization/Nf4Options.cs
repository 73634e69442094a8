namespace Blockbuster.Model.Quantization;

/// <summary>transformers' BitsAndBytesConfig for 4-bit NF4 (load_in_4bit, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant).</summary>
public sealed record Nf4Options(bool DoubleQuant = true);
