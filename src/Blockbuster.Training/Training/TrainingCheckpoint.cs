using Blockbuster.Model;
using Blockbuster.Model.Checkpoints;
using static TorchSharp.torch;

namespace Blockbuster.Training;

/// <summary>
/// The resume checkpoint (<c>checkpoint/</c> inside an output folder): trainer state, every model tensor
/// under its module key, the optimizer's state and LibTorch's RNG. Shared by train and pretrain.
/// </summary>
public static class TrainingCheckpoint
{
    public static void Write(string folder, TrainerState state, IReadOnlyDictionary<string, Tensor> modelState, TorchSharp.Modules.OptimizerHelper optimizer)
    {
        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, TrainerState.FileName), state.ToJson());
        SafetensorsFile.Write(Path.Combine(folder, TrainerState.ModelStateFile), modelState);
        using (var writer = new BinaryWriter(File.Create(Path.Combine(folder, TrainerState.OptimizerFile))))
            optimizer.save_state_dict(writer);
        SafetensorsFile.Write(Path.Combine(folder, TrainerState.RngFile), new Dictionary<string, Tensor> { ["cpu"] = random.get_rng_state() });
    }

    /// <summary>
    /// Loads model weights, optimizer state and RNG state saved by <see cref="Write"/>; with <paramref name="beside"/>, also
    /// a module trained beside the model whose weights were saved under <paramref name="besidePrefix"/> (pretraining's
    /// distillation maps), from the same file.
    /// </summary>
    public static TrainerState Restore(string folder, nn.Module model, TorchSharp.Modules.OptimizerHelper optimizer,
                                       nn.Module? beside = null, string besidePrefix = "")
    {
        var state = TrainerState.Load(Path.Combine(folder, TrainerState.FileName));
        var weights = SafetensorsFile.Read(Path.Combine(folder, TrainerState.ModelStateFile));
        try
        {
            var targets = model.state_dict().Select(kv => (Key: kv.Key, Target: kv.Value));
            if (beside is not null) targets = targets.Concat(beside.state_dict().Select(kv => (Key: besidePrefix + kv.Key, Target: kv.Value)));
            var all = targets.ToList();
            foreach (var (key, _) in all)
                if (!weights.ContainsKey(key)) throw new ModelFormatException($"{folder}: checkpoint lacks '{key}'; was it written by a run with other options?");
            using (no_grad())
                foreach (var (key, target) in all) target.copy_(weights[key]);
        }
        finally
        {
            foreach (var t in weights.Values) t.Dispose();
        }
        using (var reader = new BinaryReader(File.OpenRead(Path.Combine(folder, TrainerState.OptimizerFile))))
            optimizer.load_state_dict(reader);
        var rng = SafetensorsFile.Read(Path.Combine(folder, TrainerState.RngFile));
        random.set_rng_state(rng["cpu"]);
        rng["cpu"].Dispose();
        return state;
    }
}
