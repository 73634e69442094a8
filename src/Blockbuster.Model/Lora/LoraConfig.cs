using System.Text.Json;
using System.Text.Json.Serialization;

namespace Blockbuster.Model.Lora;

/// <summary>
/// PEFT's <c>LoraConfig</c>, as written to <c>adapter_config.json</c>. Only the fields this project acts on
/// are typed; the rest of PEFT's file is written with PEFT's defaults so <c>PeftModel.from_pretrained</c> reads it.
/// </summary>
public sealed record LoraConfig
{
    [JsonPropertyName("r")] public int R { get; init; } = 8;
    [JsonPropertyName("lora_alpha")] public double Alpha { get; init; } = 16;
    [JsonPropertyName("lora_dropout")] public double Dropout { get; init; } = 0.1;
    [JsonPropertyName("target_modules")] public string[] TargetModules { get; init; } = ["query", "value"];
    [JsonPropertyName("modules_to_save")] public string[] ModulesToSave { get; init; } = ["classifier", "score"];
    [JsonPropertyName("base_model_name_or_path")] public string? BaseModelNameOrPath { get; init; }
    [JsonPropertyName("peft_type")] public string PeftType { get; init; } = "LORA";
    [JsonPropertyName("task_type")] public string TaskType { get; init; } = "SEQ_CLS";
    [JsonPropertyName("bias")] public string Bias { get; init; } = "none";
    [JsonPropertyName("fan_in_fan_out")] public bool FanInFanOut { get; init; }
    [JsonPropertyName("inference_mode")] public bool InferenceMode { get; init; } = true;
    [JsonPropertyName("init_lora_weights")] public bool InitLoraWeights { get; init; } = true;
    [JsonPropertyName("use_rslora")] public bool UseRsLora { get; init; }
    [JsonPropertyName("use_dora")] public bool UseDora { get; init; }

    [JsonExtensionData] public Dictionary<string, JsonElement>? Extra { get; init; }

    /// <summary>PEFT's scaling: alpha / r (alpha / sqrt(r) with rsLoRA).</summary>
    [JsonIgnore] public double Scaling => UseRsLora ? Alpha / Math.Sqrt(R) : Alpha / R;

    public bool Targets(string moduleName) => TargetModules.Contains(moduleName);

    /// <summary>True for a state-dict key inside a module PEFT trains and saves whole (<c>modules_to_save</c>: classifier, a fresh pooler).</summary>
    public bool SavesWhole(string key) => key.Split('.').Any(ModulesToSave.Contains);

    public void Validate(string source = "LoRA config")
    {
        if (R <= 0) throw new ModelFormatException($"{source}: r must be positive, got {R}.");
        if (!(Alpha > 0)) throw new ModelFormatException($"{source}: lora_alpha must be positive, got {Alpha}.");
        if (Dropout is < 0 or >= 1) throw new ModelFormatException($"{source}: lora_dropout must be in [0, 1), got {Dropout}.");
        if (TargetModules.Length == 0) throw new ModelFormatException($"{source}: target_modules is empty.");
        string[] known = ["query", "key", "value", "dense"];
        foreach (var t in TargetModules)
            if (!known.Contains(t))
                throw new ModelFormatException($"{source}: target module '{t}' is not a BERT linear layer (use {string.Join(", ", known)}).");
        if (UseDora) throw new ModelFormatException($"{source}: DoRA adapters are not supported.");
        // Settings PEFT honours that this implementation would silently ignore are refused instead.
        if (FanInFanOut) throw new ModelFormatException($"{source}: fan_in_fan_out adapters (GPT-2 style Conv1D weights) are not supported; BERT's linear layers are (out, in).");
        string[] wholeModules = ["classifier", "score", "pooler"];
        foreach (var m in ModulesToSave ?? [])
            if (!wholeModules.Contains(m))
                throw new ModelFormatException($"{source}: modules_to_save '{m}' is not supported (only {string.Join(", ", wholeModules)}).");
        if (!InitLoraWeights) throw new ModelFormatException($"{source}: init_lora_weights false (random B) is not supported; Blockbuster initialises B to zero as PEFT's default does.");
        if (Bias != "none") throw new ModelFormatException($"{source}: bias '{Bias}' is not supported (only 'none').");
    }

    static readonly JsonSerializerOptions JsonOptions = new() { WriteIndented = true };

    public static LoraConfig Load(string path)
    {
        LoraConfig? config;
        try { config = JsonSerializer.Deserialize<LoraConfig>(File.ReadAllText(path), JsonOptions); }
        catch (JsonException e) { throw new ModelFormatException($"{path}: not a valid adapter_config.json ({ExceptionText.Clause(e)})."); }
        if (config is null) throw new ModelFormatException($"{path}: empty adapter_config.json.");
        if (config.PeftType != "LORA") throw new ModelFormatException($"{path}: peft_type '{config.PeftType}' is not supported (only LORA).");
        config = config with { ModulesToSave = config.ModulesToSave ?? ["classifier", "score"] };   // PEFT writes null for a SEQ_CLS default
        config.Validate(path);
        return config;
    }

    public void Save(string path) => File.WriteAllText(path, JsonSerializer.Serialize(this, JsonOptions));
}
