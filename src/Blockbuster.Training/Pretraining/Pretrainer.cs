using System.Diagnostics;
using System.Text.Json.Nodes;
using Blockbuster.Model;
using Blockbuster.Model.Checkpoints;
using Blockbuster.Model.Hub;
using Blockbuster.Training.Data;
using Blockbuster.Training.Tokenization;
using TorchSharp;
using static TorchSharp.torch;

namespace Blockbuster.Training.Pretraining;

/// <summary>
/// Masked-language-model pretraining, the loop of <see cref="Trainer"/> on blocks of text: the learning rate
/// a function of the step, clip, step, zero; one dispose scope per step. Every <c>save_steps</c> and at each
/// epoch's end the held-out blocks are scored (masked-token loss and accuracy, fixed masks) and the output
/// folder is rewritten atomically, so a killed run loses at most <c>save_steps</c> steps and <c>--resume</c>
/// continues exactly (the masks are a function of seed, epoch and batch).
/// </summary>
public static class Pretrainer
{
    public static async Task<PretrainResult> RunAsync(PretrainOptions options, HubClient hub, IProgress<TrainingEvent>? progress = null,
                                                      CancellationToken cancellationToken = default)
    {
        var o = options;
        if (o.Resume)
        {
            OutputFolder.CheckWritable(o.Output, overwrite: false, resume: true);
            o = MlmOutputFolder.LoadOptions(o.Output) with { Output = o.Output, Resume = true, Overwrite = false, Device = o.Device, Threads = o.Threads };
        }
        o.Validate();
        OutputFolder.CheckWritable(o.Output, o.Overwrite, o.Resume);
        TorchRuntime.SetThreads(o.Threads);
        var device = TorchRuntime.ResolveDevice(o.Device);
        var precision = PrecisionPolicy.Resolve(o.Precision, device);

        progress?.Report(new TrainingStage("Reading texts"));
        IReadOnlyList<string> texts = ReadTexts(o);
        progress?.Report(new TrainingStage($"Resolving model {o.Model}"));
        var baseFolder = await ModelFolder.ResolveBaseAsync(hub, o.Model, o.FromScratch, null, cancellationToken).ConfigureAwait(false);
        // A teacher that cannot serve fails here, before minutes of tokenizing; it is built after the student (the seed's order).
        var teacherFolder = o.Teacher is null ? null : await ResolveTeacherAsync(hub, o.Teacher, baseFolder, o.MaxLength, progress, cancellationToken).ConfigureAwait(false);
        var config = BertConfig.Load(Path.Combine(baseFolder, ModelFolder.Config)) with { Id2Label = null, Label2Id = null };
        if (o.MaxLength > config.MaxPositionEmbeddings)
            throw new UsageException("max_length", $"{o.MaxLength} exceeds the model's max_position_embeddings {config.MaxPositionEmbeddings}.");
        var tokenizer = BertWordPieceTokenizer.Load(Path.Combine(baseFolder, ModelFolder.Vocab), OptionalFile(baseFolder, ModelFolder.TokenizerConfig));
        if (tokenizer.MaskId < 0) throw new ModelFormatException($"{baseFolder}: vocab.txt has no [MASK] token; masked-LM pretraining needs one.");

        progress?.Report(new TrainingStage($"Tokenizing {texts.Count:N0} texts into blocks of {o.MaxLength}"));
        var blocks = MlmBlocks.Build(texts, tokenizer, o.MaxLength, o.Threads, cancellationToken);
        texts = [];   // a local that crosses an await lives as long as the method: let the ~100k strings go
        // A seeded shuffle of the blocks; the last HeldOutBlocks of it are held out for the masked-token report.
        var order = Enumerable.Range(0, blocks.Count).ToArray();
        new Random(o.Seed).Shuffle(order);
        int heldOut = Math.Min(o.HeldOutBlocks, blocks.Count / 10);
        var trainBlocks = order[..^heldOut];
        var heldOutBlocks = order[^heldOut..];

        manual_seed(o.Seed);
        DropoutRandom.Shared.Seed((ulong)o.Seed);
        using var model = new BertForMaskedLM(config);
        LoadReport? report = null;
        var basePooler = new Dictionary<string, Tensor>();   // a pooler the base carries, for a distillation that continues it
        if (!o.FromScratch)
        {
            var weights = ModelFolder.FindWeights(baseFolder) ?? throw new ModelFormatException($"{baseFolder}: no {ModelFolder.Safetensors} or {ModelFolder.PytorchBin}; pass `from_scratch` to start from random weights.");
            var tensors = StateDictFile.Read(weights);
            try
            {
                report = CheckpointLoader.Load(model, tensors, weights);
                foreach (var (key, t) in tensors) if (key.Contains("pooler.", StringComparison.Ordinal)) basePooler[key] = t;
            }
            finally { foreach (var (key, t) in tensors) if (!basePooler.ContainsKey(key)) t.Dispose(); }
        }
        model.to(device);
        var (teacherModel, teacherLabels) = teacherFolder is null ? (null, null) : LoadTeacher(teacherFolder);
        using var teacher = teacherModel;
        using var distillation = teacher is null ? null : new HiddenStateDistillation(config, teacher.Config, teacherLabels);
        bool poolerContinued = distillation?.LoadPooler(basePooler) ?? false;
        foreach (var t in basePooler.Values) t.Dispose();
        if (teacher is not null)
        {
            teacher.to(device);
            distillation!.to(device);
            var sentence = distillation!.TargetsPredictions
                ? $"its predictions ← the student's pooler ({(poolerContinued ? "continued from the base" : "new")}, written to the folder) through a map"
                : "the mean of its last layer ← the student's last [CLS]";
            progress?.Report(new TrainingStage($"Distilling the hidden states of {o.Teacher} (layers {string.Join(", ", distillation.TeacherLayers)} ← the student's embeddings, "
                + $"{string.Join(", ", Enumerable.Range(1, config.NumHiddenLayers))}; hidden {teacher.Config.HiddenSize} ← {config.HiddenSize}; {sentence}) beside masked LM"));
        }
        var parameters = model.parameters().Concat(distillation?.parameters() ?? []).ToList();
        int stepsPerEpoch = (trainBlocks.Length + o.BatchSize - 1) / o.BatchSize;
        var schedule = LinearSchedule.Create(o.LearningRate, stepsPerEpoch * o.Epochs, o.WarmupRatio);
        using var optimizer = Trainer.CreateOptimizer(parameters, o.LearningRate, o.WeightDecay);
        var scaler = precision.UsesLossScaling ? new DynamicLossScaler() : null;
        var masking = new MlmMasking(o.MlmProbability, tokenizer.MaskId, config.VocabSize, tokenizer.SpecialIds, tokenizer.SepId);

        var state = new TrainerState();
        var log = new List<string>();
        if (o.Resume)
        {
            state = TrainingCheckpoint.Restore(Path.Combine(o.Output, TrainerState.Folder), model, optimizer, distillation, MlmOutputFolder.DistillationPrefix);
            if (state.DropoutRng is { } rng) DropoutRandom.Shared.SetState(rng);
            if (scaler is not null && state.LossScale is { } scale) scaler.Restore(scale, state.LossScaleGoodSteps, state.SkippedSteps);
            var logPath = Path.Combine(o.Output, OutputFolder.LogFile);
            if (File.Exists(logPath)) log.AddRange(File.ReadAllLines(logPath).Where(l => l.Length > 0));
            if (state.Epoch >= o.Epochs) throw new IOException($"nothing to resume in {o.Output}: pretraining already finished all {o.Epochs} epochs.");
        }
        progress?.Report(new TrainingStarted(trainBlocks.Length, heldOut, 0, o.Epochs, stepsPerEpoch, schedule.TotalSteps, state.GlobalStep,
            device.ToString(), precision.Name, parameters.Sum(p => p.numel()), parameters.Sum(p => p.numel()), report,
            o.LearningRate, schedule.WarmupSteps, Lora: false));

        var clock = Stopwatch.StartNew();
        double previousSeconds = state.TrainSeconds;
        long tokensTotal = 0;
        int globalStep = state.GlobalStep;
        (double Loss, double Accuracy)? last = null;

        TrainerState Now(int epoch, int batch) => state with
        {
            Epoch = epoch, MicroBatch = batch, GlobalStep = globalStep, LossScale = scaler?.Scale, LossScaleGoodSteps = scaler?.GoodSteps ?? 0,
            SkippedSteps = scaler?.SkippedSteps ?? 0, TrainSeconds = previousSeconds + clock.Elapsed.TotalSeconds, DropoutRng = DropoutRandom.Shared.GetState(),
        };
        void Save(TrainerState s) => MlmOutputFolder.Write(o.Output, new MlmOutputFolder.Snapshot(model, o, baseFolder, log, s,
            last is { } m ? new Dictionary<string, object> { ["step"] = s.GlobalStep, ["held_out_blocks"] = heldOut, ["mlm_loss"] = m.Loss, ["mlm_accuracy"] = m.Accuracy, ["perplexity"] = Math.Exp(m.Loss) } : null,
            optimizer, distillation));
        void Evaluate(double epochProgress)
        {
            var (loss, accuracy) = EvaluateHeldOut(model, blocks, heldOutBlocks, masking, o, device, precision);
            last = (loss, accuracy);
            log.Add(new JsonObject { ["step"] = globalStep, ["epoch"] = Math.Round(epochProgress, 4), ["eval_loss"] = Math.Round(loss, 6), ["eval_accuracy"] = Math.Round(accuracy, 6) }.ToJsonString());
            progress?.Report(new MlmEvaluated(globalStep, epochProgress, loss, accuracy, TimeSpan.FromSeconds(previousSeconds) + clock.Elapsed));
        }

        // The distillation term of a step: the teacher on the student's (masked) input, then the maps' losses.
        double lastHidden = 0, lastSentence = 0;
        Func<Tensor, Tensor[], Tensor>? distillLoss = teacher is null ? null : (ids, states) =>
        {
            Tensor[] targets;
            Tensor? logits = null;
            using (no_grad())
            using (Autocast.Enable(precision.ComputeDtype))
            {
                targets = teacher.bert.EncodeAllLayers(ids, ones_like(ids), zeros_like(ids));
                if (distillation!.TargetsPredictions) logits = teacher.Head(targets[^1]);   // (B, labels)
            }
            var (hidden, sentence) = distillation.Loss(states, targets, logits);
            lastHidden = hidden.item<float>();
            lastSentence = sentence.item<float>();
            return (hidden + sentence) * o.TeacherWeight;
        };

        model.train();
        distillation?.train();
        for (int epoch = state.Epoch; epoch < o.Epochs; epoch++)
        {
            var epochOrder = (int[])trainBlocks.Clone();
            new Random(StableSeed.Of(o.Seed, epoch)).Shuffle(epochOrder);
            int start = epoch == state.Epoch ? state.MicroBatch : 0;
            long windowTokens = 0;
            var window = Stopwatch.StartNew();
            for (int b = start; b < stepsPerEpoch; b++)
            {
                if (cancellationToken.IsCancellationRequested)
                {
                    progress?.Report(new TrainingStage("Interrupted: saving a checkpoint"));
                    Save(Now(epoch, b));
                    return new PretrainResult(o.Output, last?.Loss, last?.Accuracy, true, globalStep, TimeSpan.FromSeconds(previousSeconds) + clock.Elapsed, 0);
                }
                var members = epochOrder.Skip(b * o.BatchSize).Take(o.BatchSize).Select(i => blocks.Block(i).ToArray()).ToList();
                double lr = schedule.LearningRate(globalStep);
                double stepLoss, mlmLoss;
                using (NewDisposeScope())
                {
                    var (mlm, extra) = ChunkedMlmLoss.Backward(model, masking.Mask(members, o.Seed, epoch, b, o.ClsWords), members.Count, o.MaxLength,
                                                               device, precision, scaler, distillLoss);
                    (mlmLoss, stepLoss) = (mlm, mlm + extra);
                }
                bool skipped = !OptimizerStep.Take(parameters, optimizer, scaler, lr, o.MaxGradNorm);
                globalStep++;
                long tokens = (long)members.Count * o.MaxLength;
                windowTokens += tokens;
                tokensTotal += tokens;
                double seconds = Math.Max(window.Elapsed.TotalSeconds, 1e-9);
                var elapsed = TimeSpan.FromSeconds(previousSeconds) + clock.Elapsed;
                double epochProgress = epoch + (double)(b + 1) / stepsPerEpoch;
                var line = new JsonObject
                {
                    ["step"] = globalStep, ["epoch"] = Math.Round(epochProgress, 4), ["loss"] = Math.Round(stepLoss, 6), ["learning_rate"] = lr,
                    ["tokens_per_second"] = Math.Round(windowTokens / seconds, 1), ["elapsed_seconds"] = Math.Round(elapsed.TotalSeconds, 2),
                };
                if (teacher is not null)
                {
                    line["mlm_loss"] = Math.Round(mlmLoss, 6);
                    line["distill_hidden_mse"] = Math.Round(lastHidden, 6);
                    line[distillation!.TargetsPredictions ? "distill_prediction_loss" : "distill_cls_cosine_loss"] = Math.Round(lastSentence, 6);
                }
                log.Add(line.ToJsonString());
                progress?.Report(new StepCompleted(epoch, globalStep, schedule.TotalSteps, stepLoss, lr, windowTokens / seconds, members.Count / seconds, elapsed, skipped, tokensTotal));
                if (window.Elapsed.TotalSeconds > 5) { window.Restart(); windowTokens = 0; }

                bool epochEnd = b + 1 == stepsPerEpoch;
                if (epochEnd || globalStep % o.SaveSteps == 0)
                {
                    // The heap keeps freed blocks resident (NativeMemory); hand them back around each phase, as train does.
                    NativeMemory.ReleaseFreePages();
                    if (heldOut > 0) Evaluate(epochProgress);
                    NativeMemory.ReleaseFreePages();
                    model.train();
                    distillation?.train();
                    Save(epochEnd ? Now(epoch + 1, 0) : Now(epoch, b + 1));
                    NativeMemory.ReleaseFreePages();
                }
                else if (globalStep % TrainingRun.ReleaseMemoryEverySteps == 0) NativeMemory.ReleaseFreePages();
            }
        }
        return new PretrainResult(o.Output, last?.Loss, last?.Accuracy, false, globalStep, TimeSpan.FromSeconds(previousSeconds) + clock.Elapsed,
            tokensTotal / Math.Max(clock.Elapsed.TotalSeconds, 1e-9));
    }

    /// <summary>Mean cross-entropy over the masked positions; <paramref name="correct"/> counts argmax hits.</summary>
    static Tensor MaskedLoss(BertForMaskedLM model, MaskedBatch batch, int rows, int length, Device device, PrecisionPolicy precision, out long correct)
    {
        var ids = tensor(batch.InputIds, [rows, length], device: device);
        var positions = tensor(batch.Positions, device: device);
        var labels = tensor(batch.Labels, device: device);
        Tensor logits;
        using (Autocast.Enable(precision.ComputeDtype))
            logits = model.call(ids, ones_like(ids), zeros_like(ids), positions);        // (N, V) fp32
        correct = logits.argmax(1).eq(labels).sum().item<long>();                        // padding (-100) never matches
        return nn.functional.cross_entropy(logits, labels, ignore_index: MlmMasking.IgnoreIndex);   // mean over the real positions
    }

    static (double Loss, double Accuracy) EvaluateHeldOut(BertForMaskedLM model, MlmBlocks blocks, int[] heldOut, MlmMasking masking,
                                                          PretrainOptions o, Device device, PrecisionPolicy precision)
    {
        model.eval();
        double lossSum = 0;
        long correct = 0, count = 0;
        const int batchSize = 64;
        using var _ = no_grad();
        for (int start = 0; start < heldOut.Length; start += batchSize)
        {
            using var scope = NewDisposeScope();
            var members = heldOut.Skip(start).Take(batchSize).Select(i => blocks.Block(i).ToArray()).ToList();
            var batch = masking.Mask(members, o.Seed, epoch: -1, batch: start);   // the same masks at every evaluation
            var loss = MaskedLoss(model, batch, members.Count, o.MaxLength, device, precision, out long hits);
            lossSum += loss.item<float>() * batch.Count;
            correct += hits;
            count += batch.Count;
        }
        return (lossSum / Math.Max(count, 1), (double)correct / Math.Max(count, 1));
    }

    static IReadOnlyList<string> ReadTexts(PretrainOptions o)
    {
        var texts = new List<string>();
        foreach (var path in o.Data) texts.AddRange(ReviewCsv.ReadTexts(path, o.TextColumn, o.Encoding).Texts);
        if (o.TrainSplit is { } splitPath)
        {
            // Only the training side of a split: its held-out reviews stay unseen, labelled or not.
            if (!File.Exists(splitPath)) throw new DataFormatException($"{splitPath}: split file not found.");
            var split = SplitRecord.Load(splitPath);
            var (train, _) = DataPreparation.FromSplit(split);
            texts.AddRange(train.Texts);
        }
        if (o.Limit is { } limit && texts.Count > limit)
        {
            var shuffled = texts.ToArray();
            new Random(o.Seed).Shuffle(shuffled);
            return shuffled[..limit];
        }
        return texts;
    }

    /// <summary>The folder of the teacher for hidden-state distillation, checked: weights present, the student's vocabulary, long enough positions.</summary>
    static async Task<string> ResolveTeacherAsync(HubClient hub, string name, string studentFolder, int maxLength,
                                                  IProgress<TrainingEvent>? progress, CancellationToken cancellationToken)
    {
        progress?.Report(new TrainingStage($"Resolving teacher {name}"));
        var folder = await ModelFolder.ResolveBaseAsync(hub, name, false, null, cancellationToken).ConfigureAwait(false);
        var teacherVocab = BertWordPieceTokenizer.ReadVocabulary(Path.Combine(folder, ModelFolder.Vocab));
        var studentVocab = BertWordPieceTokenizer.ReadVocabulary(Path.Combine(studentFolder, ModelFolder.Vocab));
        if (teacherVocab.Count != studentVocab.Count || teacherVocab.Any(kv => !studentVocab.TryGetValue(kv.Key, out var id) || id != kv.Value))
            throw new UsageException("teacher", $"{folder}: its vocab.txt differs from the student's ({studentFolder}); hidden-state distillation feeds both the same word pieces.");
        var config = BertConfig.Load(Path.Combine(folder, ModelFolder.Config));
        if (maxLength > config.MaxPositionEmbeddings)
            throw new UsageException("max_length", $"{maxLength} exceeds the teacher's max_position_embeddings {config.MaxPositionEmbeddings} ({folder}).");
        if (ModelFolder.FindWeights(folder) is null) throw new ModelFormatException($"{folder}: no {ModelFolder.Safetensors} or {ModelFolder.PytorchBin} for the teacher.");
        return folder;
    }

    /// <summary>The teacher from a folder <see cref="ResolveTeacherAsync"/> checked, frozen and in eval mode.</summary>
    /// <returns>the teacher, and its number of labels when it is a trained classifier (then its predictions are the text-level target)</returns>
    static (BertForSequenceClassification? Teacher, int? Labels) LoadTeacher(string folder)
    {
        var config = BertConfig.Load(Path.Combine(folder, ModelFolder.Config));   // a classifier's own labels, so its head loads
        var weights = ModelFolder.FindWeights(folder)!;
        var teacher = new BertForSequenceClassification(config);
        LoadReport report;
        try { report = CheckpointLoader.Load(teacher, weights); }
        catch { teacher.Dispose(); throw; }
        teacher.eval();
        foreach (var p in teacher.parameters()) p.requires_grad_(false);
        return (teacher, report.ClassifierIsFresh || report.PoolerIsFresh ? null : config.NumLabels);
    }

    static string? OptionalFile(string folder, string name) => Path.Combine(folder, name) is var p && File.Exists(p) ? p : null;
}
