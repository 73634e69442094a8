using Onnx;

namespace Blockbuster.Model.Onnx;

/// <summary>
/// Writes a <see cref="ModelProto"/> to disk. Protobuf messages cannot exceed 2 GB, so a model whose weights
/// pass <see cref="ExternalDataThreshold"/> keeps its large initializers in <c>model.onnx_data</c> beside it
/// (ONNX's external data: <c>location</c>, <c>offset</c>, <c>length</c>, as <c>onnx.save(..., save_as_external_data=True)</c>).
/// </summary>
public static class OnnxModelFile
{
    public const long ExternalDataThreshold = 2L * 1024 * 1024 * 1024 - 64 * 1024 * 1024;   // leave room for the graph itself
    const int SmallTensorBytes = 1024;                                                      // scalars and shapes stay inline

    /// <summary>Writes <paramref name="path"/> (and <c>&lt;name&gt;_data</c> when needed); returns the files written.</summary>
    public static IReadOnlyList<string> Write(ModelProto model, string path, long externalDataThreshold = ExternalDataThreshold)
    {
        long weightBytes = model.Graph.Initializer.Sum(t => (long)t.RawData.Length);
        if (weightBytes <= externalDataThreshold)
        {
            using var stream = File.Create(path);
            using var coded = new Google.Protobuf.CodedOutputStream(stream);
            model.WriteTo(coded);
            return [path];
        }
        var dataName = Path.GetFileName(path) + "_data";
        var dataPath = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(path))!, dataName);
        using (var data = File.Create(dataPath))
        {
            foreach (var tensor in model.Graph.Initializer.Where(t => t.RawData.Length > SmallTensorBytes))
            {
                long offset = data.Position;
                data.Write(tensor.RawData.Span);
                tensor.ExternalData.Add(new StringStringEntryProto { Key = "location", Value = dataName });
                tensor.ExternalData.Add(new StringStringEntryProto { Key = "offset", Value = offset.ToString(System.Globalization.CultureInfo.InvariantCulture) });
                tensor.ExternalData.Add(new StringStringEntryProto { Key = "length", Value = tensor.RawData.Length.ToString(System.Globalization.CultureInfo.InvariantCulture) });
                tensor.DataLocation = TensorProto.Types.DataLocation.External;
                tensor.RawData = Google.Protobuf.ByteString.Empty;
            }
        }
        using (var stream = File.Create(path))
        using (var coded = new Google.Protobuf.CodedOutputStream(stream))
            model.WriteTo(coded);
        return [path, dataPath];
    }
}
