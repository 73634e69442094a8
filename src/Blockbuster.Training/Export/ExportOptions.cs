namespace Blockbuster.Training.Export;

/// <summary>What <c>blockbuster export</c> takes.</summary>
/// <param name="Model">any folder <c>eval</c> accepts (train output, Hugging Face classifier, PEFT adapter) or a Hub id</param>
/// <param name="Format">only <c>onnx</c> today</param>
/// <param name="Int8">dynamic int8 quantisation of the MatMul weights, as Optimum's ORTQuantizer does for CPUs</param>
public sealed record ExportOptions(string Model = "./blockbuster-model", string Format = "onnx", string Output = "./blockbuster-onnx",
                                   bool Int8 = false, bool Overwrite = false);

/// <summary>What was written.</summary>
public sealed record ExportReport(string Output, string ModelKind, IReadOnlyList<string> Files, long ModelBytes, int Opset, bool Int8,
                                  IReadOnlyList<string> Labels, int MaxLength);
