using TorchSharp.Modules;
using Blockbuster.Model;
using Blockbuster.Model.Checkpoints;
using Blockbuster.Model.Lora;
using Blockbuster.Training;
using static TorchSharp.torch;

namespace Blockbuster.Tests;

[Collection("torch-global-state")]
public class LoraTests
{
    [Fact]
    public void Fresh_adapter_equals_the_base_layer()
    {
        manual_seed(3);
        var linear = nn.Linear(16, 8);
        var x = randn(4, 16);
        var expected = linear.call(x);
        using var lora = new LoraLinear(linear, new LoraConfig { R = 4, Alpha = 8 });
        lora.eval();
        Assert.True(lora.call(x).allclose(expected, rtol: 0, atol: 0));
        Assert.Equal(0f, lora.lora_B.weight!.abs().sum().item<float>());
        Assert.NotEqual(0f, lora.lora_A.weight!.abs().sum().item<float>());
        Assert.False(((Linear)lora.base_layer).weight!.requires_grad);
    }

    [Fact]
    public void Merge_and_unmerge_round_trip()
    {
        manual_seed(4);
        using var lora = new LoraLinear(nn.Linear(16, 8), new LoraConfig { R = 4, Alpha = 8, Dropout = 0 });
        using (no_grad()) lora.lora_B.weight!.normal_(0, 0.5);
        lora.eval();
        var x = randn(5, 16);
        var original = ((Linear)lora.base_layer).weight!.clone();
        var unmerged = lora.call(x);
        lora.Merge();
        Assert.True(lora.Merged);
        Assert.True(lora.call(x).allclose(unmerged, rtol: 0, atol: 1e-5));
        Assert.True((((Linear)lora.base_layer).weight! - original - lora.DeltaWeight()).abs().max().item<float>() < 1e-6);
        lora.Unmerge();
        Assert.True(((Linear)lora.base_layer).weight!.allclose(original, rtol: 0, atol: 1e-5));
        Assert.True(lora.call(x).allclose(unmerged, rtol: 0, atol: 1e-5));
        Assert.Equal(2.0, lora.Scaling);
    }

    [Fact]
    public void Only_adapter_and_classifier_parameters_get_gradients()
    {
        using var model = Blockbuster.Model.Lora.LoraInjection.Inject(new BertForSequenceClassification(TinyModels.Config()), new LoraConfig());
        var trainable = Trainer.SelectTrainable(model, lora: true);
        Assert.All(trainable, p => Assert.True(p.requires_grad));
        var names = model.named_parameters().Where(p => p.parameter.requires_grad).Select(p => p.name).ToList();
        Assert.Equal(2 * 2 * 2 + 2, names.Count);   // 2 layers × (query, value) × (A, B) + classifier weight, bias
        Assert.All(names, n => Assert.True(n.Contains(".lora_") || n.StartsWith("classifier.")));

        model.train();
        var ids = tensor(new long[,] { { 2, 10, 11, 3 } });
        var loss = nn.functional.cross_entropy(model.call(ids, ones_like(ids), zeros_like(ids)), tensor(new long[] { 1 }));
        loss.backward();
        foreach (var (name, p) in model.named_parameters())
        {
            if (p.requires_grad) Assert.True(p.grad is not null, $"{name} has no gradient");
            else Assert.True(p.grad is null, $"frozen {name} computed a gradient");
        }
        // B is zero at init, so A's gradient is zero too; B's is not.
        Assert.NotEqual(0f, model.bert.encoder.layer[0].attention.self.query is LoraLinear q ? q.lora_B.weight!.grad!.abs().sum().item<float>() : 0f);
    }

    [Fact]
    public async Task Saved_adapter_and_merged_model_reload_to_identical_logits()
    {
        using var dir = new TempDir();
        var baseFolder = TinyModels.WriteBaseFolder(dir.File("base"));
        var loaded = ModelFolder.ForTraining(baseFolder, ModelFolder.SentimentLabels, new LoraConfig { R = 4 }, fromScratch: false);
        using var model = loaded.Model;
        using (no_grad())
            foreach (var l in model.LoraLayers()) l.lora_B.weight!.normal_(0, 0.3);
        model.eval();
        var ids = tensor(new long[,] { { 2, 10, 11, 12, 3, 0 }, { 2, 13, 14, 3, 0, 0 } });
        var mask = (ids != 0).to(ScalarType.Int64);
        var expected = model.call(ids, mask, zeros_like(ids));

        // The PEFT adapter folder: adapter_config.json + adapter_model.safetensors, base by path.
        var adapterFolder = dir.File("adapter");
        Directory.CreateDirectory(adapterFolder);
        (model.LoraConfig! with { BaseModelNameOrPath = baseFolder }).Save(Path.Combine(adapterFolder, "adapter_config.json"));
        SafetensorsFile.Write(Path.Combine(adapterFolder, "adapter_model.safetensors"), ModelExport.AdapterStateDict(model));
        var hub = new Blockbuster.Model.Hub.HubClient(new(Blockbuster.Model.Hub.HubOptions.DefaultEndpoint, null, true, dir.File("cache")));
        using var fromAdapter = (await ModelFolder.ForInferenceAsync(hub, adapterFolder)).Model;
        Assert.True(fromAdapter.call(ids, mask, zeros_like(ids)).allclose(expected, rtol: 0, atol: 0));

        // The merged transformers folder: config.json + model.safetensors.
        var mergedFolder = dir.File("merged");
        Directory.CreateDirectory(mergedFolder);
        model.Config.Save(Path.Combine(mergedFolder, "config.json"));
        SafetensorsFile.Write(Path.Combine(mergedFolder, "model.safetensors"), ModelExport.MergedStateDict(model));
        File.Copy(Path.Combine(baseFolder, "vocab.txt"), Path.Combine(mergedFolder, "vocab.txt"));
        var merged = await ModelFolder.ForInferenceAsync(hub, mergedFolder);
        using var mergedModel = merged.Model;
        Assert.Equal("classifier", merged.Kind);
        Assert.True(mergedModel.call(ids, mask, zeros_like(ids)).allclose(expected, rtol: 0, atol: 1e-5));
    }
}
