using System.Text.Json;
using Blockbuster.Model;
using Blockbuster.Model.Checkpoints;
using Blockbuster.Model.Hub;
using Blockbuster.Training;
using Blockbuster.Training.Pretraining;
using Blockbuster.Training.Tokenization;

namespace Blockbuster.Tests;

/// <summary>Masked-LM pretraining: masking statistics, blocks, a tiny run, exact resume, and the folder as a classifier base.</summary>
[Collection("torch-global-state")]
public class PretrainTests
{
    static HubClient OfflineHub(TempDir dir) => new(new HubOptions(HubOptions.DefaultEndpoint, null, Offline: true, dir.File("hub-cache")));

    [Fact]
    public void Masking_chooses_15_percent_of_ordinary_tokens_80_10_10_and_never_specials()
    {
        var specials = new HashSet<int> { 0, 1, 2, 3, 4 };
        var masking = new MlmMasking(0.15, maskId: 4, vocabSize: 1000, specials);
        var blocks = Enumerable.Range(0, 64).Select(b => new[] { 2 }.Concat(Enumerable.Range(0, 126).Select(t => 10 + (b * 7 + t) % 900)).Append(3).ToArray()).ToList();
        int chosen = 0, masked = 0, kept = 0, ordinary = 64 * 126;
        for (int batch = 0; batch < 10; batch++)
        {
            var m = masking.Mask(blocks, seed: 1, epoch: 0, batch);
            Assert.Equal(m.Positions.Length, m.Labels.Length);
            Assert.Equal(0, m.Positions.Length % MlmMasking.PadPositionsTo);   // a few shapes only (bounded native memory)
            Assert.All(m.Labels[m.Count..], l => Assert.Equal(MlmMasking.IgnoreIndex, l));
            foreach (var (position, label) in m.Positions.Zip(m.Labels).Take(m.Count))
            {
                int original = blocks[(int)position / 128][position % 128];
                Assert.Equal(original, label);
                Assert.DoesNotContain(original, specials);
                if (m.InputIds[position] == 4) masked++;
                else if (m.InputIds[position] == original) kept++;
            }
            chosen += m.Count;
        }
        double rate = chosen / (10.0 * ordinary);
        Assert.InRange(rate, 0.14, 0.16);
        Assert.InRange(masked / (double)chosen, 0.78, 0.82);
        // 10% kept on purpose, plus the random draws that happen to hit the original id (1 in 1000).
        Assert.InRange(kept / (double)chosen, 0.09, 0.11);
        // Same (seed, epoch, batch): same masks; another epoch: fresh ones.
        Assert.Equal(masking.Mask(blocks, 1, 0, 3).InputIds, masking.Mask(blocks, 1, 0, 3).InputIds);
        Assert.NotEqual(masking.Mask(blocks, 1, 0, 3).InputIds, masking.Mask(blocks, 1, 1, 3).InputIds);
    }

    [Fact]
    public void Cls_words_add_cls_predictions_of_the_first_text_and_leave_the_masks_alone()
    {
        var specials = new HashSet<int> { 0, 1, 2, 3, 4 };
        var masking = new MlmMasking(0.15, maskId: 4, vocabSize: 1000, specials, sepId: 3);
        // Block b: [CLS], a first text of 10 + b words (ids 100 + b·20 …, the fourth an [UNK]), [SEP], a second text
        // (ids 900 …), [SEP].
        var blocks = Enumerable.Range(0, 8).Select(b =>
            new[] { 2 }.Concat(Enumerable.Range(0, 10 + b).Select(t => t == 3 ? 1 : 100 + b * 20 + t)).Append(3)
                       .Concat(Enumerable.Range(0, 30 - 10 - b - 3).Select(t => 900 + t)).Append(3).ToArray()).ToList();
        var plain = masking.Mask(blocks, seed: 5, epoch: 2, batch: 1);
        var withCls = masking.Mask(blocks, seed: 5, epoch: 2, batch: 1, clsWords: 3);
        Assert.Equal(plain.InputIds, withCls.InputIds);                                        // the same corruption
        Assert.Equal(plain.Positions[..plain.Count], withCls.Positions[..plain.Count]);       // the same masked tokens first
        Assert.Equal(plain.Count + 8 * 3, withCls.Count);
        foreach (var (position, label) in withCls.Positions.Zip(withCls.Labels).Skip(plain.Count).Take(8 * 3))
        {
            Assert.Equal(0, position % 30);                                                   // a [CLS] position
            int b = (int)position / 30;
            Assert.InRange(label, 100 + b * 20, 100 + b * 20 + 9 + b);                          // a word of that block's first text
            Assert.NotEqual(100 + b * 20 + 3, label);                                           // never the [UNK]
        }
        // The first text runs past the [UNK], up to the [SEP].
        Assert.Contains(withCls.Labels[plain.Count..withCls.Count], l => (l - 100) % 20 > 3);
        // A different batch draws different words.
        var other = masking.Mask(blocks, seed: 5, epoch: 2, batch: 2, clsWords: 3);
        Assert.NotEqual(withCls.Labels[plain.Count..withCls.Count], other.Labels[(other.Count - 8 * 3)..other.Count]);
    }

    [Fact]
    public void Blocks_are_texts_concatenated_with_sep_and_framed_by_cls_and_sep()
    {
        using var dir = new TempDir();
        File.WriteAllLines(dir.File("vocab.txt"), TinyModels.Vocab());
        var tokenizer = BertWordPieceTokenizer.Load(dir.File("vocab.txt"));
        var texts = new[] { "the movie was good", "bad film", "i loved it" };   // 4 + 2 + 3 pieces, + 3 [SEP] = 12
        var blocks = MlmBlocks.Build(texts, tokenizer, maxLength: 7, threads: 1, CancellationToken.None);   // 5 pieces a block
        Assert.Equal(2, blocks.Count);   // 12 / 5: two full blocks, the tail of 2 dropped
        int[] stream = [.. tokenizer.Tokenize(texts[0]), tokenizer.SepId, .. tokenizer.Tokenize(texts[1]), tokenizer.SepId, .. tokenizer.Tokenize(texts[2])];
        Assert.Equal([tokenizer.ClsId, .. stream[..5], tokenizer.SepId], blocks.Block(0).ToArray());
        Assert.Equal([tokenizer.ClsId, .. stream[5..10], tokenizer.SepId], blocks.Block(1).ToArray());
    }

    static PretrainOptions Options(TempDir dir, string output)
    {
        var csv = dir.File("unlabelled.csv");
        if (!File.Exists(csv)) File.WriteAllLines(csv, ["review", .. SyntheticReviews.Make(400, 3).Select(r => $"\"{r.Text}\"")]);
        var model = File.Exists(dir.File("base/config.json")) ? dir.File("base") : TinyModels.WriteBaseFolder(dir.File("base"));
        return new PretrainOptions
        {
            Data = [csv], Model = model, FromScratch = true, Output = dir.File(output), MaxLength = 32, BatchSize = 16, Epochs = 2,
            LearningRate = 5e-3, HeldOutBlocks = 16, SaveSteps = 7, Precision = "fp32", Threads = 1,
        };
    }

    [Fact]
    public async Task Learns_writes_a_masked_lm_folder_and_resumes_exactly()
    {
        using var dir = new TempDir();
        var o = Options(dir, "full");
        var events = new List<TrainingEvent>();
        var result = await Pretrainer.RunAsync(o, OfflineHub(dir), new SyncProgress<TrainingEvent>(events.Add));
        Assert.False(result.Interrupted);
        var evaluations = events.OfType<MlmEvaluated>().ToList();
        Assert.True(evaluations[^1].Loss < evaluations[0].Loss - 0.3, $"held-out MLM loss {evaluations[0].Loss} → {evaluations[^1].Loss}");

        using (var config = JsonDocument.Parse(File.ReadAllText(Path.Combine(o.Output, "config.json"))))
            Assert.Equal("BertForMaskedLM", config.RootElement.GetProperty("architectures")[0].GetString());
        var keys = SafetensorsFile.ReadHeader(Path.Combine(o.Output, "model.safetensors")).Keys.ToHashSet();
        Assert.Contains("cls.predictions.bias", keys);
        Assert.Contains("cls.predictions.transform.LayerNorm.weight", keys);
        Assert.Contains("bert.embeddings.word_embeddings.weight", keys);
        Assert.DoesNotContain(keys, k => k.Contains("pooler"));

        // Stop after a few steps (cancellation at a step boundary writes a checkpoint), resume, compare bytes.
        using var cts = new CancellationTokenSource();
        var partial = o with { Output = dir.File("resumed") };
        var stopped = await Pretrainer.RunAsync(partial, OfflineHub(dir),
            new SyncProgress<TrainingEvent>(e => { if (e is StepCompleted { Step: 10 }) cts.Cancel(); }), cts.Token);
        Assert.True(stopped.Interrupted);
        await Pretrainer.RunAsync(new PretrainOptions { Output = partial.Output, Resume = true, Threads = 1 }, OfflineHub(dir));
        Assert.Equal(File.ReadAllBytes(Path.Combine(o.Output, "model.safetensors")), File.ReadAllBytes(Path.Combine(partial.Output, "model.safetensors")));
        Assert.Equal(File.ReadAllText(Path.Combine(o.Output, "mlm_metrics.json")), File.ReadAllText(Path.Combine(partial.Output, "mlm_metrics.json")));
    }

    [Fact]
    public void Student_layers_map_uniformly_onto_the_teachers_as_TinyBERT_does()
    {
        Assert.Equal([0, 3, 6], HiddenStateDistillation.MapLayers(2, 6));      // bert-tiny ← all-MiniLM-L6-v2
        Assert.Equal([0, 1, 2], HiddenStateDistillation.MapLayers(2, 2));
        Assert.Equal([0, 3, 6, 9, 12], HiddenStateDistillation.MapLayers(4, 12));
    }

    [Fact]
    public async Task Distilling_a_wider_teachers_hidden_states_learns_and_resumes_exactly()
    {
        using var dir = new TempDir();
        var teacherConfig = TinyModels.Config() with { HiddenSize = 24, NumHiddenLayers = 4, IntermediateSize = 48 };
        var teacher = TinyModels.WriteBaseFolder(dir.File("teacher"), seed: 5, teacherConfig);
        var o = Options(dir, "distilled") with { Teacher = teacher };
        var stages = new List<string>();
        await Pretrainer.RunAsync(o, OfflineHub(dir), new SyncProgress<TrainingEvent>(e => { if (e is TrainingStage s) stages.Add(s.Message); }));
        Assert.Contains(stages, s => s.Contains("layers 0, 2, 4", StringComparison.Ordinal) && s.Contains("the mean of its last layer", StringComparison.Ordinal));

        // The student's states move towards the teacher's: the logged distillation terms fall.
        var steps = File.ReadAllLines(Path.Combine(o.Output, "training_log.jsonl")).Select(l => JsonDocument.Parse(l).RootElement)
            .Where(e => e.TryGetProperty("distill_hidden_mse", out _)).ToList();
        double Mean(IEnumerable<JsonElement> xs, string key) => xs.Average(e => e.GetProperty(key).GetDouble());
        Assert.True(Mean(steps.TakeLast(5), "distill_hidden_mse") < 0.7 * Mean(steps.Take(5), "distill_hidden_mse"), "hidden-state MSE did not fall");
        Assert.True(Mean(steps.TakeLast(5), "distill_cls_cosine_loss") < Mean(steps.Take(5), "distill_cls_cosine_loss"), "[CLS] cosine loss did not fall");
        // The folder is the student alone: the maps to the teacher's width stay in the checkpoint.
        var keys = SafetensorsFile.ReadHeader(Path.Combine(o.Output, "model.safetensors")).Keys.ToList();
        Assert.DoesNotContain(keys, k => k.StartsWith("distillation", StringComparison.Ordinal) || k.StartsWith("layers.", StringComparison.Ordinal) || k.Contains("pooler"));
        Assert.Equal([16, 16], SafetensorsFile.ReadHeader(Path.Combine(o.Output, "model.safetensors"))["bert.encoder.layer.0.attention.self.query.weight"]);

        using var cts = new CancellationTokenSource();
        var partial = o with { Output = dir.File("distilled-resumed") };
        await Pretrainer.RunAsync(partial, OfflineHub(dir), new SyncProgress<TrainingEvent>(e => { if (e is StepCompleted { Step: 10 }) cts.Cancel(); }), cts.Token);
        await Pretrainer.RunAsync(new PretrainOptions { Output = partial.Output, Resume = true, Threads = 1 }, OfflineHub(dir));
        Assert.Equal(File.ReadAllBytes(Path.Combine(o.Output, "model.safetensors")), File.ReadAllBytes(Path.Combine(partial.Output, "model.safetensors")));
    }

    [Fact]
    public async Task A_classifier_teacher_teaches_a_pooler_that_the_folder_keeps_and_train_loads_frozen()
    {
        using var dir = new TempDir();
        var teacherConfig = TinyModels.Config() with { HiddenSize = 24, NumHiddenLayers = 4, IntermediateSize = 48 };
        var teacher = TinyModels.WriteClassifierFolder(dir.File("teacher"), seed: 5, teacherConfig);
        var o = Options(dir, "pooled") with { Teacher = teacher };
        var stages = new List<string>();
        await Pretrainer.RunAsync(o, OfflineHub(dir), new SyncProgress<TrainingEvent>(e => { if (e is TrainingStage s) stages.Add(s.Message); }));
        Assert.Contains(stages, s => s.Contains("its predictions ← the student's pooler (new", StringComparison.Ordinal));

        var steps = File.ReadAllLines(Path.Combine(o.Output, "training_log.jsonl")).Select(l => JsonDocument.Parse(l).RootElement)
            .Where(e => e.TryGetProperty("distill_prediction_loss", out _)).ToList();
        double Mean(IEnumerable<JsonElement> xs) => xs.Average(e => e.GetProperty("distill_prediction_loss").GetDouble());
        Assert.True(Mean(steps.TakeLast(5)) < Mean(steps.Take(5)), $"prediction loss {Mean(steps.Take(5))} → {Mean(steps.TakeLast(5))}");

        // The student's pooler is in the folder under transformers' keys, with the student's width; the maps are not (no classifier).
        var header = SafetensorsFile.ReadHeader(Path.Combine(o.Output, "model.safetensors"));
        Assert.Equal([16, 16], header["bert.pooler.dense.weight"]);
        Assert.DoesNotContain(header.Keys, k => k.StartsWith("distillation", StringComparison.Ordinal) || k.StartsWith("classifier", StringComparison.Ordinal));

        // train loads it as a trained pooler: LoRA leaves it frozen and trains the classifier, as PEFT over Google's bert-tiny.
        var loaded = ModelFolder.ForTraining(o.Output, ["negative", "positive"], new Blockbuster.Model.Lora.LoraConfig(), fromScratch: false);
        using (var model = loaded.Model)
        {
            Assert.False(loaded.Report!.PoolerIsFresh);
            var trainable = Trainer.SelectTrainable(model, lora: true);
            var names = model.named_parameters().Where(p => trainable.Contains(p.parameter)).Select(p => p.name).ToList();
            Assert.DoesNotContain(names, n => n.StartsWith("bert.pooler.", StringComparison.Ordinal));
            Assert.Contains("classifier.weight", names);
            var saved = SafetensorsFile.Read(Path.Combine(o.Output, "model.safetensors"));
            Assert.True(saved["bert.pooler.dense.weight"].eq(model.bert.pooler!.state_dict()["dense.weight"]).all().item<bool>());
            foreach (var t in saved.Values) t.Dispose();
        }

        // Interrupted and resumed: the same bytes, pooler included.
        using var cts = new CancellationTokenSource();
        var partial = o with { Output = dir.File("pooled-resumed") };
        await Pretrainer.RunAsync(partial, OfflineHub(dir), new SyncProgress<TrainingEvent>(e => { if (e is StepCompleted { Step: 10 }) cts.Cancel(); }), cts.Token);
        await Pretrainer.RunAsync(new PretrainOptions { Output = partial.Output, Resume = true, Threads = 1 }, OfflineHub(dir));
        Assert.Equal(File.ReadAllBytes(Path.Combine(o.Output, "model.safetensors")), File.ReadAllBytes(Path.Combine(partial.Output, "model.safetensors")));

        // A further phase from that folder continues its pooler rather than growing a new one.
        var next = o with { Model = o.Output, FromScratch = false, Output = dir.File("pooled-next"), Epochs = 1 };
        stages.Clear();
        await Pretrainer.RunAsync(next, OfflineHub(dir), new SyncProgress<TrainingEvent>(e => { if (e is TrainingStage s) stages.Add(s.Message); }));
        Assert.Contains(stages, s => s.Contains("(continued from the base", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_teacher_with_another_vocabulary_is_refused_before_anything_is_written()
    {
        using var dir = new TempDir();
        var teacher = TinyModels.WriteBaseFolder(dir.File("teacher"), seed: 5);
        File.WriteAllLines(Path.Combine(teacher, "vocab.txt"), TinyModels.Vocab().Select(w => w == "movie" ? "cinema" : w));
        var o = Options(dir, "refused") with { Teacher = teacher };
        var error = await Assert.ThrowsAsync<UsageException>(() => Pretrainer.RunAsync(o, OfflineHub(dir)));
        Assert.Contains("vocab.txt differs", error.Message);
        Assert.False(Directory.Exists(o.Output));
    }

    [Fact]
    public async Task A_masked_lm_folder_is_a_base_for_train_with_a_fresh_trained_pooler()
    {
        using var dir = new TempDir();
        var o = Options(dir, "mlm") with { Epochs = 1 };
        await Pretrainer.RunAsync(o, OfflineHub(dir));
        var loaded = ModelFolder.ForTraining(o.Output, ["negative", "positive"], new Blockbuster.Model.Lora.LoraConfig(), fromScratch: false);
        using var model = loaded.Model;
        Assert.True(loaded.Report!.PoolerIsFresh);
        Assert.True(loaded.Report.ClassifierIsFresh);
        Assert.Contains(loaded.Report.IgnoredKeys, k => k.StartsWith("cls.predictions", StringComparison.Ordinal));
        var trainable = Trainer.SelectTrainable(model, lora: true);
        var names = model.named_parameters().Where(p => trainable.Contains(p.parameter)).Select(p => p.name).ToList();
        Assert.Contains("bert.pooler.dense.weight", names);
        Assert.Contains("classifier.weight", names);
        Assert.DoesNotContain(names, n => n.Contains("attention.self.query.base_layer", StringComparison.Ordinal));
        var adapter = ModelExport.AdapterStateDict(model);
        Assert.Contains(ModelExport.PeftPrefix + "bert.pooler.dense.weight", adapter.Keys);
        Assert.Contains("pooler", model.LoraConfig!.ModulesToSave);
    }
}

/// <summary>The masked-LM head run in chunks gives the loss and gradients of one pass over all positions.</summary>
[Collection("torch-global-state")]
public class ChunkedMlmLossTests
{
    [Fact]
    public void Chunks_give_the_loss_and_gradients_of_one_pass()
    {
        var config = TinyModels.Config() with { MaxPositionEmbeddings = 128, HiddenDropoutProb = 0, AttentionProbsDropoutProb = 0 };
        var blocks = Enumerable.Range(0, 160).Select(b => new[] { 2 }.Concat(Enumerable.Range(0, 62).Select(t => 5 + (b * 7 + t * 3) % 115)).Append(3).ToArray()).ToList();
        var batch = new MlmMasking(0.15, maskId: 4, vocabSize: 120, new HashSet<int> { 0, 1, 2, 3, 4 }).Mask(blocks, seed: 1, epoch: 0, batch: 0);
        Assert.True(batch.Positions.Length > 2 * ChunkedMlmLoss.ChunkRows);   // three chunks, the last one mostly padding
        var fp32 = PrecisionPolicy.Resolve("fp32", TorchSharp.torch.CPU);

        (double Loss, float[] Gradients) Run(Func<BertForMaskedLM, double> step)
        {
            TorchSharp.torch.manual_seed(11);
            using var model = new BertForMaskedLM(config);
            model.train();
            double loss = step(model);
            var gradients = model.parameters().Where(p => p.grad is not null).SelectMany(p => p.grad!.data<float>().ToArray()).ToArray();
            return (loss, gradients);
        }

        var chunked = Run(m => ChunkedMlmLoss.Backward(m, batch, 160, 64, TorchSharp.torch.CPU, fp32, null));
        var onePass = Run(m =>
        {
            // The plain way: every position's logits at once, cross-entropy's mean over the real ones.
            var ids = TorchSharp.torch.tensor(batch.InputIds, [160, 64]);
            var logits = m.call(ids, TorchSharp.torch.ones_like(ids), TorchSharp.torch.zeros_like(ids), TorchSharp.torch.tensor(batch.Positions));
            var loss = TorchSharp.torch.nn.functional.cross_entropy(logits, TorchSharp.torch.tensor(batch.Labels), ignore_index: MlmMasking.IgnoreIndex);
            loss.backward();
            return loss.item<float>();
        });
        Assert.Equal(onePass.Loss, chunked.Loss, 4);
        Assert.Equal(onePass.Gradients.Length, chunked.Gradients.Length);
        double largest = onePass.Gradients.Max(Math.Abs);
        for (int i = 0; i < onePass.Gradients.Length; i++)
            Assert.True(Math.Abs(onePass.Gradients[i] - chunked.Gradients[i]) <= 1e-5 * largest + 1e-7, $"gradient {i}: {onePass.Gradients[i]} vs {chunked.Gradients[i]}");
    }
}
