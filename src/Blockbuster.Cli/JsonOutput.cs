using System.Text.Encodings.Web;
using System.Text.Json;

namespace Blockbuster.Cli;

/// <summary>JSON for people and scripts: review text stays readable (no \u0027 for an apostrophe).</summary>
public static class JsonOutput
{
    public static readonly JsonSerializerOptions Options = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
}
