using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using Blockbuster.Model;
using Blockbuster.Model.Checkpoints;
using Blockbuster.Model.Hub;
using Blockbuster.Model.Lora;
using Blockbuster.Training.Data;
using Blockbuster.Training.Evaluation;
using Blockbuster.Training.Tokenization;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Blockbuster.Training;

/// <summary>
/// Fine-tunes a BERT classifier. The loop is flat, nanoGPT style: the learning rate is a function of the
/// optimizer step; each micro-batch's loss is divided by its share of the accumulation; then unscale
/// (fp16), clip, step, zero the gradients. One dispose scope per micro-batch (activations go as soon as
/// backward is done) and one per optimizer update. After each epoch: held-out evaluation and an atomic
/// checkpoint of the whole output folder.
/// </summary>
public static class Trainer
{
    public static async Task<TrainingResult> RunAsync(TrainingOptions options, HubClient hub, IProgress<TrainingEvent>? progress = null,
                                                      CancellationToken cancellationToken = default)
    {
        var o = options;
        if (o.Resume)
        {
            OutputFolder.CheckWritable(o.Output, overwrite: false, resume: true);
            o = LoadSavedOptions(o);
        }
        o.Validate();
        OutputFolder.CheckWritable(o.Output, o.Overwrite, o.Resume);

        TorchRuntime.SetThreads(o.Threads);
        var device = TorchRuntime.ResolveDevice(o.Device);
        var precision = PrecisionPolicy.Resolve(o.Precision, device);

        progress?.Report(new TrainingStage($"Reading {Path.GetFileName(o.Data)}"));
        ReviewSet train, test;
        SplitRecord split;
        if (o.Resume)
        {
            split = SplitRecord.Load(Path.Combine(o.Output, SplitRecord.FileName));
            (train, test) = DataPreparation.FromSplit(split, o.Data);
        }
        else
        {
            (train, test, split) = DataPreparation.ReadAndSplit(o);
        }
        int skippedRows = train.SkippedRows;

        progress?.Report(new TrainingStage($"Resolving model {o.Model}"));
        var download = progress is null ? null : new Progress<DownloadProgress>(p => progress.Report(new TrainingDownload(p)));
        var baseFolder = await ModelFolder.ResolveBaseAsync(hub, o.Model, o.FromScratch, download, cancellationToken).ConfigureAwait(false);

        manual_seed(o.Seed);
        DropoutRandom.Shared.Seed((ulong)o.Seed);
        var lora = o.UsesLora ? new LoraConfig { R = o.LoraR, Alpha = o.LoraAlpha, Dropout = o.LoraDropout, TargetModules = o.LoraTargets } : null;
        var loaded = ModelFolder.ForTraining(baseFolder, SentimentLabel.Names, lora, o.FromScratch);
        using var model = loaded.Model;
        if (o.MaxLength > model.Config.MaxPositionEmbeddings)
            throw new ArgumentException($"--max-length {o.MaxLength} exceeds the model's max_position_embeddings {model.Config.MaxPositionEmbeddings}.");
        model.to(device);
        var trainable = SelectTrainable(model, o.UsesLora);   // with LoRA: the adapters and the modules saved whole

        progress?.Report(new TrainingStage($"Tokenizing {train.Count + test.Count:N0} reviews"));
        var tokenizer = BertWordPieceTokenizer.Load(loaded.VocabPath, loaded.TokenizerConfigPath);
        var trainEncodings = tokenizer.EncodeAll(train.Texts.ToArray(), o.MaxLength, o.Threads, cancellationToken);
        var testEncodings = tokenizer.EncodeAll(test.Texts.ToArray(), o.MaxLength, o.Threads, cancellationToken);

        var sampler = new LengthBucketSampler(trainEncodings.Select(e => e.Ids.Length).ToArray(), o.BatchSize, o.Seed);
        int microBatches = sampler.BatchCount;
        int stepsPerEpoch = (microBatches + o.GradientAccumulation - 1) / o.GradientAccumulation;
        var schedule = LinearSchedule.Create(o.EffectiveLearningRate, stepsPerEpoch * o.Epochs, o.EffectiveWarmupRatio);
        using var optimizer = CreateOptimizer(trainable, o);
        var scaler = precision.UsesLossScaling ? new DynamicLossScaler() : null;
        var predictor = new Predictor(model, tokenizer, device, precision, o.MaxLength, o.EvalBatchSize);

        var state = new TrainerState();
        var log = new List<string>();   // training_log.jsonl: the run's one history; the curves are drawn from it
        if (o.Resume)
        {
            state = OutputFolder.Restore(o.Output, model, optimizer);
            if (state.DropoutRng is { } rng) DropoutRandom.Shared.SetState(rng);
            if (scaler is not null && state.LossScale is { } scale) scaler.Restore(scale, state.LossScaleGoodSteps, state.SkippedSteps);
            var logPath = Path.Combine(o.Output, OutputFolder.LogFile);
            if (File.Exists(logPath)) log.AddRange(File.ReadAllLines(logPath).Where(l => l.Length > 0));
            if (state.Epoch >= o.Epochs)
                throw new IOException($"nothing to resume in {o.Output}: training already finished all {o.Epochs} epochs.");
        }

        progress?.Report(new TrainingStarted(train.Count, test.Count, skippedRows, o.Epochs, stepsPerEpoch, schedule.TotalSteps, state.GlobalStep,
            device.ToString(), precision.Name, trainable.Sum(p => p.numel()), model.parameters().Sum(p => p.numel()), loaded.Report,
            o.EffectiveLearningRate, schedule.WarmupSteps, o.UsesLora));

        var baseModelName = Directory.Exists(o.Model) ? Path.GetFullPath(o.Model) : o.Model;
        OutputFolder.Snapshot MakeSnapshot(TrainerState s, object? metrics) => new(model, o, baseFolder, baseModelName, split, log, s, metrics, optimizer);

        var clock = Stopwatch.StartNew();
        double previousSeconds = state.TrainSeconds;
        long tokensTotal = 0;
        int globalStep = state.GlobalStep;
        ClassificationMetrics? lastMetrics = state.EpochMetrics.LastOrDefault();
        model.train();

        for (int epoch = state.Epoch; epoch < o.Epochs; epoch++)
        {
            var batches = sampler.Batches(epoch);
            int start = epoch == state.Epoch ? state.MicroBatch : 0;
            long windowTokens = 0, windowExamples = 0;
            var window = Stopwatch.StartNew();

            for (int m = start; m < batches.Count; m += o.GradientAccumulation)
            {
                if (cancellationToken.IsCancellationRequested)
                {
                    var interrupted = state with
                    {
                        Epoch = epoch, MicroBatch = m, GlobalStep = globalStep, LossScale = scaler?.Scale,
                        LossScaleGoodSteps = scaler?.GoodSteps ?? 0, SkippedSteps = scaler?.SkippedSteps ?? 0,
                        TrainSeconds = previousSeconds + clock.Elapsed.TotalSeconds, DropoutRng = DropoutRandom.Shared.GetState(),
                    };
                    progress?.Report(new TrainingStage("Interrupted: saving a checkpoint"));
                    OutputFolder.Write(o.Output, MakeSnapshot(interrupted, lastMetrics is null ? null : MetricsJson(lastMetrics, o, interrupted, 0)));
                    return new TrainingResult(o.Output, lastMetrics, Interrupted: true, globalStep, clock.Elapsed, 0);
                }

                int inStep = Math.Min(o.GradientAccumulation, batches.Count - m);
                double stepLoss = 0;
                for (int k = 0; k < inStep; k++)
                {
                    var members = batches[m + k];
                    using var scope = NewDisposeScope();
                    var batch = Batch.Collate(members.Select(i => trainEncodings[i].Ids).ToArray(), members.Select(i => train.Labels[i]).ToArray(), tokenizer.PadId, device, o.MaxLength);
                    Tensor logits;
                    using (Autocast.Enable(precision.ComputeDtype))
                        logits = model.call(batch.InputIds, batch.AttentionMask, batch.TokenTypeIds);     // (B, 2) fp32
                    var loss = nn.functional.cross_entropy(logits, batch.Labels!) / inStep;
                    (scaler is null ? loss : scaler.ScaleLoss(loss)).backward();
                    stepLoss += loss.item<float>();
                    windowTokens += batch.Tokens;
                    windowExamples += members.Length;
                    tokensTotal += batch.Tokens;
                }

                double lr = schedule.LearningRate(globalStep);
                bool skipped = false;
                using (NewDisposeScope())
                {
                    if (scaler is not null && !scaler.UnscaleAndCheck(trainable)) skipped = true;
                    else
                    {
                        nn.utils.clip_grad_norm_(trainable, o.MaxGradNorm);
                        foreach (var group in optimizer.ParamGroups) group.LearningRate = lr;
                        optimizer.step();
                    }
                    optimizer.zero_grad();
                }
                globalStep++;

                double seconds = Math.Max(window.Elapsed.TotalSeconds, 1e-9);
                var elapsed = TimeSpan.FromSeconds(previousSeconds) + clock.Elapsed;
                double epochProgress = epoch + (double)Math.Min(m + inStep, batches.Count) / batches.Count;
                log.Add(JsonLine(new JsonObject
                {
                    ["step"] = globalStep, ["epoch"] = Math.Round(epochProgress, 4), ["loss"] = Math.Round(stepLoss, 6),
                    ["learning_rate"] = lr, ["tokens_per_second"] = Math.Round(windowTokens / seconds, 1),
                    ["examples_per_second"] = Math.Round(windowExamples / seconds, 2), ["elapsed_seconds"] = Math.Round(elapsed.TotalSeconds, 2),
                    ["skipped"] = skipped ? true : null,
                }));
                progress?.Report(new StepCompleted(epoch, globalStep, schedule.TotalSteps, stepLoss, lr, windowTokens / seconds, windowExamples / seconds, elapsed, skipped, tokensTotal));
                if (window.Elapsed.TotalSeconds > 5) { window.Restart(); windowTokens = 0; windowExamples = 0; }
            }

            var evalProgress = progress is null ? null : new Progress<int>(done => progress.Report(new EvaluationProgress(epoch, done, test.Count)));
            // Not cancellable: Ctrl+C during the evaluation lets it finish, so the epoch's checkpoint is written
            // and the interruption is taken at the next step boundary.
            var (metrics, _) = predictor.Evaluate(testEncodings, test.Labels, evalProgress, CancellationToken.None);
            model.train();
            lastMetrics = metrics;
            log.Add(JsonLine(new JsonObject
            {
                ["step"] = globalStep, ["epoch"] = epoch + 1, ["eval_accuracy"] = metrics.Accuracy, ["eval_precision"] = metrics.Precision,
                ["eval_recall"] = metrics.Recall, ["eval_f1"] = metrics.F1, ["eval_loss"] = metrics.LogLoss,
            }));
            var totalElapsed = TimeSpan.FromSeconds(previousSeconds) + clock.Elapsed;
            progress?.Report(new EpochCompleted(epoch + 1, o.Epochs, metrics, totalElapsed));

            state = state with
            {
                Epoch = epoch + 1, MicroBatch = 0, GlobalStep = globalStep, LossScale = scaler?.Scale,
                LossScaleGoodSteps = scaler?.GoodSteps ?? 0, SkippedSteps = scaler?.SkippedSteps ?? 0,
                TrainSeconds = totalElapsed.TotalSeconds, EpochMetrics = [.. state.EpochMetrics, metrics], DropoutRng = DropoutRandom.Shared.GetState(),
            };
            double tokensPerSecond = tokensTotal / Math.Max(clock.Elapsed.TotalSeconds, 1e-9);
            OutputFolder.Write(o.Output, MakeSnapshot(state, MetricsJson(metrics, o, state, tokensPerSecond)));
        }

        return new TrainingResult(o.Output, lastMetrics, Interrupted: false, globalStep,
            TimeSpan.FromSeconds(state.TrainSeconds), tokensTotal / Math.Max(clock.Elapsed.TotalSeconds, 1e-9));
    }

    /// <summary>
    /// LoRA: only adapter factors, the classifier and any other module saved whole (a pooler a masked-LM
    /// checkpoint lacked) learn; the frozen base computes no weight gradients.
    /// </summary>
    public static List<Parameter> SelectTrainable(BertForSequenceClassification model, bool lora)
    {
        var trainable = new List<Parameter>();
        foreach (var (name, parameter) in model.named_parameters())
        {
            bool train = !lora || CheckpointLoader.IsLoraFactor(name) || name.StartsWith("classifier.", StringComparison.Ordinal)
                         || model.LoraConfig?.SavesWhole(name) == true;
            parameter.requires_grad = train;
            if (train) trainable.Add(parameter);
        }
        return trainable;
    }

    /// <summary>AdamW as transformers' Trainer sets it up: no weight decay on biases and LayerNorm weights.</summary>
    public static AdamW CreateOptimizer(IReadOnlyList<Parameter> trainable, TrainingOptions o) =>
        CreateOptimizer(trainable, o.EffectiveLearningRate, o.WeightDecay);

    public static AdamW CreateOptimizer(IReadOnlyList<Parameter> trainable, double learningRate, double weightDecay)
    {
        var noDecay = new HashSet<Parameter>(ReferenceEqualityComparer.Instance);
        foreach (var p in trainable)
            if (p.dim() == 1) noDecay.Add(p);   // biases and LayerNorm weights are exactly the 1-D parameters here
        var groups = new List<AdamW.ParamGroup>();
        var decay = trainable.Where(p => !noDecay.Contains(p)).ToList();
        var plain = trainable.Where(p => noDecay.Contains(p)).ToList();
        if (decay.Count > 0) groups.Add(new AdamW.ParamGroup(decay, lr: learningRate, beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay: weightDecay));
        if (plain.Count > 0) groups.Add(new AdamW.ParamGroup(plain, lr: learningRate, beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay: 0));
        return optim.AdamW(groups, learningRate);
    }

    static object MetricsJson(ClassificationMetrics metrics, TrainingOptions o, TrainerState state, double tokensPerSecond) => new Dictionary<string, object?>
    {
        ["split"] = "held-out",
        ["epoch"] = state.Epoch,
        ["global_step"] = state.GlobalStep,
        ["accuracy"] = metrics.Accuracy, ["precision"] = metrics.Precision, ["recall"] = metrics.Recall, ["f1"] = metrics.F1,
        ["roc_auc"] = metrics.RocAuc, ["log_loss"] = metrics.LogLoss,
        ["confusion_matrix"] = metrics.ConfusionMatrix, ["support"] = metrics.Support, ["count"] = metrics.Count,
        ["labels"] = SentimentLabel.Names,
        ["train_seconds"] = Math.Round(state.TrainSeconds, 2),
        ["train_tokens_per_second"] = Math.Round(tokensPerSecond, 1),
        ["precision_mode"] = o.Precision,
    };

    static string JsonLine(JsonObject o)
    {
        foreach (var key in o.Where(kv => kv.Value is null).Select(kv => kv.Key).ToList()) o.Remove(key);
        return o.ToJsonString();
    }

    /// <summary>--resume continues with the options the run started with; only device and threads may change.</summary>
    static TrainingOptions LoadSavedOptions(TrainingOptions requested)
    {
        var path = Path.Combine(requested.Output, OutputFolder.ArgsFile);
        var saved = JsonSerializer.Deserialize<TrainingOptions>(File.ReadAllText(path))
                    ?? throw new IOException($"{path}: empty training arguments.");
        return saved with { Output = requested.Output, Resume = true, Overwrite = false, Device = requested.Device, Threads = requested.Threads };
    }
}
