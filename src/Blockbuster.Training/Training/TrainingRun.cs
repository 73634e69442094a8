using System.Diagnostics;
using System.Text.Json.Nodes;
using Blockbuster.Model;
using Blockbuster.Model.Checkpoints;
using Blockbuster.Model.Hub;
using Blockbuster.Training.Data;
using Blockbuster.Training.Evaluation;
using Blockbuster.Training.Tokenization;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Blockbuster.Training;

/// <summary>
/// One fine-tuning run, read top to bottom as nanoGPT's train.py: <see cref="StartAsync"/> sets up data,
/// model and optimizer (or restores them from the checkpoint); <see cref="Train"/> is the flat loop — the
/// learning rate a function of the step, each micro-batch's loss divided by its share of the accumulation,
/// then unscale (fp16), clip, step, zero. One dispose scope per micro-batch and one per update. Held-out
/// evaluation after each epoch; an atomic checkpoint of the whole output folder after each epoch, every
/// save_steps updates, every save_minutes, and on Ctrl+C.
/// </summary>
public sealed class TrainingRun : IDisposable
{
    readonly TrainingOptions o;
    readonly IProgress<TrainingEvent>? progress;
    readonly Device device;
    readonly PrecisionPolicy precision;
    readonly LoadedModel loaded;
    readonly BertForSequenceClassification model;
    readonly List<Parameter> trainable;
    readonly AdamW optimizer;
    readonly DynamicLossScaler? scaler;
    readonly LinearSchedule schedule;
    readonly LengthBucketSampler sampler;
    readonly BertWordPieceTokenizer tokenizer;
    readonly ReviewSet train, test;
    readonly Encoding[] trainEncodings, testEncodings;
    readonly Predictor predictor;
    readonly SplitRecord split;
    readonly string baseFolder, baseModelName;
    readonly List<string> log = [];   // training_log.jsonl: the run's one history; the curves are drawn from it
    readonly Stopwatch clock = Stopwatch.StartNew();
    readonly Stopwatch sinceSave = Stopwatch.StartNew();

    /// <summary>
    /// Free heap pages go back to the kernel this often (and around evaluations and saves): with glibc keeping large
    /// blocks in the heap for speed, fragmentation across batch shapes otherwise only ever grows the resident size.
    /// </summary>
    internal const int ReleaseMemoryEverySteps = 100;
    TrainerState state;
    BestModel? best;
    long tokensTotal;
    /// <summary>Distillation: the teacher's log-probabilities (N, 2) for each training text, in the data's label order.</summary>
    float[][]? teacherLogits;

    /// <summary>The exported weights of the best epoch so far (with --keep-best), kept until the run ends.</summary>
    sealed record BestModel(int Epoch, ClassificationMetrics Metrics, Dictionary<string, Tensor> Merged, Dictionary<string, Tensor>? Adapter) : IDisposable
    {
        public void Dispose() { foreach (var t in Merged.Values.Concat(Adapter?.Values ?? Enumerable.Empty<Tensor>())) t.Dispose(); }
    }

    TrainingRun(TrainingOptions o, IProgress<TrainingEvent>? progress, Device device, PrecisionPolicy precision, LoadedModel loaded,
                List<Parameter> trainable, AdamW optimizer, LinearSchedule schedule, LengthBucketSampler sampler, BertWordPieceTokenizer tokenizer,
                ReviewSet train, ReviewSet test, Encoding[] trainEncodings, Encoding[] testEncodings, SplitRecord split, string baseFolder)
    {
        (this.o, this.progress, this.device, this.precision, this.loaded, this.trainable, this.optimizer, this.schedule, this.sampler) =
            (o, progress, device, precision, loaded, trainable, optimizer, schedule, sampler);
        (this.tokenizer, this.train, this.test, this.trainEncodings, this.testEncodings, this.split, this.baseFolder) =
            (tokenizer, train, test, trainEncodings, testEncodings, split, baseFolder);
        model = loaded.Model;
        scaler = precision.UsesLossScaling ? new DynamicLossScaler() : null;
        predictor = new Predictor(model, tokenizer, device, precision, o.MaxLength, o.EvalBatchSize);
        baseModelName = Directory.Exists(o.Model) ? Path.GetFullPath(o.Model) : o.Model;
        state = new TrainerState();
    }

    // ---- set-up ----------------------------------------------------------------------------------------

    public static async Task<TrainingRun> StartAsync(TrainingOptions o, HubClient hub, IProgress<TrainingEvent>? progress, CancellationToken cancellationToken)
    {
        TorchRuntime.SetThreads(o.Threads);
        var device = TorchRuntime.ResolveDevice(o.Device);
        var precision = PrecisionPolicy.Resolve(o.Precision, device);

        ReviewSet train, test;
        SplitRecord split;
        if (o.Resume)
        {
            split = SplitRecord.Load(Path.Combine(o.Output, SplitRecord.FileName));
            progress?.Report(new TrainingStage($"Reading {Path.GetFileName(split.DataPath)}"));
            (train, test) = DataPreparation.FromSplit(split, split.DataPath);
        }
        else if (o.Distills)
        {
            // Distillation trains and scores on the teachers' own split (different data, or teachers that disagree on it, are refused).
            split = TeacherTargets.TeacherSplit(o.Teachers, o.Data);
            // Saved as full paths, so that a later --teacher-scores run started in another folder recognises these teachers and texts.
            static string Full(string path) => Directory.Exists(path) || File.Exists(path) ? Path.GetFullPath(path) : path;
            o = o with { Teachers = [.. o.Teachers.Select(Full)], Unlabelled = [.. o.Unlabelled.Select(Full)], Data = split.DataPath, TestSize = split.TestSize, Seed = split.Seed, Limit = split.Limit, TextColumn = split.TextColumn, LabelColumn = split.LabelColumn };
            progress?.Report(new TrainingStage($"Reading {Path.GetFileName(split.DataPath)} (the teacher's split)"));
            (train, test) = DataPreparation.FromSplit(split);
        }
        else
        {
            progress?.Report(new TrainingStage($"Reading {Path.GetFileName(o.Data)}"));
            (train, test, split) = DataPreparation.ReadAndSplit(o);
        }
        if (o.Distills && o.Unlabelled.Length > 0) train = WithUnlabelled(train, test, o);
        if (o.Augment > 0) train = WithAugmented(train, o);
        // The student's base first: a mistyped --model fails before an hour of scoring, not after.
        progress?.Report(new TrainingStage($"Resolving model {o.Model}"));
        var download = progress is null ? null : new SyncProgress<DownloadProgress>(p => progress.Report(new TrainingDownload(p)));
        var baseFolder = await ModelFolder.ResolveBaseAsync(hub, o.Model, o.FromScratch, download, cancellationToken).ConfigureAwait(false);

        var scoring = o.Distills ? new ScoringCheckpoint(o.Output, o.Resume, folder => OutputFolder.WriteRunFiles(folder, o, split)) : null;
        try
        {
            var teacherLogits = scoring is null ? null : await ScoreAsync(o, train, split, scoring, hub, device, progress, cancellationToken).ConfigureAwait(false);
            return Build(o, progress, device, precision, train, test, split, baseFolder, teacherLogits, cancellationToken);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // The scoring's checkpoint made the output folder; a run that fails before its first save leaves none.
            scoring?.Discard();
            throw;
        }
    }

    /// <summary>The student, its tokenized texts, optimizer and schedule: the run, ready to train (restored when resumed).</summary>
    static TrainingRun Build(TrainingOptions o, IProgress<TrainingEvent>? progress, Device device, PrecisionPolicy precision,
                             ReviewSet train, ReviewSet test, SplitRecord split, string baseFolder, float[][]? teacherLogits, CancellationToken cancellationToken)
    {
        manual_seed(o.Seed);
        DropoutRandom.Shared.Seed((ulong)o.Seed);
        var lora = o.UsesLora ? new Model.Lora.LoraConfig { R = o.LoraR, Alpha = o.LoraAlpha, Dropout = o.LoraDropout, TargetModules = o.LoraTargets } : null;
        var loaded = ModelFolder.ForTraining(baseFolder, SentimentLabel.Names, lora, o.FromScratch, o.Nf4);
        try
        {
            var model = loaded.Model;
            if (o.MaxLength > model.Config.MaxPositionEmbeddings)
                throw new UsageException("max_length", $"{o.MaxLength} exceeds the model's max_position_embeddings {model.Config.MaxPositionEmbeddings}.");
            model.to(device);
            var trainable = Trainer.SelectTrainable(model, o.UsesLora);

            progress?.Report(new TrainingStage($"Tokenizing {train.Count + test.Count:N0} reviews"));
            var tokenizer = BertWordPieceTokenizer.Load(loaded.VocabPath, loaded.TokenizerConfigPath);
            var truncation = TruncationRules.Parse(o.Truncation);
            var trainEncodings = tokenizer.EncodeAll(train.Texts.ToArray(), o.MaxLength, truncation, o.Threads, cancellationToken);
            var testEncodings = tokenizer.EncodeAll(test.Texts.ToArray(), o.MaxLength, truncation, o.Threads, cancellationToken);

            var sampler = new LengthBucketSampler(trainEncodings.Select(e => e.Ids.Length).ToArray(), o.BatchSize, o.EffectiveDataSeed);
            int stepsPerEpoch = (sampler.BatchCount + o.GradientAccumulation - 1) / o.GradientAccumulation;
            var schedule = LinearSchedule.Create(o.EffectiveLearningRate, stepsPerEpoch * o.Epochs, o.EffectiveWarmupRatio);
            var optimizer = Trainer.CreateOptimizer(trainable, o);
            var run = new TrainingRun(o, progress, device, precision, loaded, trainable, optimizer, schedule, sampler, tokenizer,
                                      train, test, trainEncodings, testEncodings, split, baseFolder) { teacherLogits = teacherLogits };
            if (o.Resume) run.Restore();
            progress?.Report(new TrainingStarted(train.Count, test.Count, train.SkippedRows, o.Epochs, stepsPerEpoch, schedule.TotalSteps, run.state.GlobalStep,
                device.ToString(), precision.Name, trainable.Sum(p => p.numel()), model.parameters().Sum(p => p.numel()), loaded.Report,
                o.EffectiveLearningRate, schedule.WarmupSteps, o.UsesLora));
            return run;
        }
        catch
        {
            loaded.Model.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The teachers' scores of every training text: cached by this run (resumed) or an earlier one (--teacher-scores),
    /// or scored now with a checkpoint after every chunk, so a stopped scoring resumes.
    /// </summary>
    static async Task<float[][]> ScoreAsync(TrainingOptions o, ReviewSet train, SplitRecord split, ScoringCheckpoint checkpoint, HubClient hub, Device device,
                                            IProgress<TrainingEvent>? progress, CancellationToken cancellationToken)
    {
        var cached = o.Resume ? new TeacherTargets.CachedScores(o.Output, o.Teachers)
            : o.TeacherScores is { } earlier ? TeacherTargets.CheckReusable(earlier, o, split, train.Count) : null;
        try
        {
            return await TeacherTargets.ComputeAsync(o.Teachers, train.Texts, cached, checkpoint, hub, device, progress, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (checkpoint.Written)
        {
            progress?.Report(new TrainingStage($"Scoring stopped; the scores so far are saved in {o.Output}: continue with --resume"));
            throw;
        }
    }

    /// <summary>The training reviews followed by the unlabelled texts (label -100: no cross-entropy, the teacher's soft label only).</summary>
    static ReviewSet WithUnlabelled(ReviewSet train, ReviewSet test, TrainingOptions o)
    {
        var heldOut = test.Texts.ToHashSet(StringComparer.Ordinal);
        var texts = new List<string>(train.Texts);
        foreach (var path in o.Unlabelled)
        {
            var (more, _, _) = ReviewCsv.ReadTexts(path, o.TextColumn, o.Encoding);
            int leaked = more.Count(heldOut.Contains);
            if (leaked > 0)
                throw new DataFormatException($"{Path.GetFileName(path)}: {leaked:N0} of its texts are held-out reviews of the teacher's split; the student must not see them.");
            texts.AddRange(more);
        }
        return TeacherLabelledAfter(train, texts);
    }

    /// <summary>The texts followed by their augmented copies, copy by copy, unlabelled (the teacher labels them).</summary>
    static ReviewSet WithAugmented(ReviewSet train, TrainingOptions o) =>
        TeacherLabelledAfter(train, TextAugmentation.WithCopies(train.Texts, o.Augment, o.Seed).ToList());

    /// <summary><paramref name="train"/> with <paramref name="texts"/> (its own texts, then more): the added ones unlabelled, no CSV row.</summary>
    static ReviewSet TeacherLabelledAfter(ReviewSet train, List<string> texts)
    {
        int added = texts.Count - train.Count;
        return train with
        {
            Texts = texts, Labels = [.. train.Labels, .. Enumerable.Repeat(Unlabelled, added)], Rows = [.. train.Rows, .. Enumerable.Repeat(0, added)],
        };
    }

    /// <summary>The label of an unlabelled text: cross-entropy's ignore_index.</summary>
    const int Unlabelled = -100;

    void Restore()
    {
        var checkpoint = Path.Combine(o.Output, TrainerState.Folder);
        // Stopped while the teachers scored: training starts from the beginning.
        if (!File.Exists(Path.Combine(checkpoint, TrainerState.FileName))) return;
        state = TrainingCheckpoint.Restore(checkpoint, model, optimizer);
        if (state.DropoutRng is { } rng) DropoutRandom.Shared.SetState(rng);
        if (scaler is not null && state.LossScale is { } scale) scaler.Restore(scale, state.LossScaleGoodSteps, state.SkippedSteps);
        var logPath = Path.Combine(o.Output, OutputFolder.LogFile);
        if (File.Exists(logPath)) log.AddRange(File.ReadAllLines(logPath).Where(l => l.Length > 0));
        if (state.BestEpoch is { } bestEpoch)
        {
            var merged = SafetensorsFile.Read(Path.Combine(checkpoint, BestMergedFile));
            var adapterPath = Path.Combine(checkpoint, BestAdapterFile);
            best = new BestModel(bestEpoch, state.EpochMetrics[bestEpoch - 1], merged, File.Exists(adapterPath) ? SafetensorsFile.Read(adapterPath) : null);
        }
        if (state.Epoch >= o.Epochs)
            throw new IOException($"nothing to resume in {o.Output}: training already finished all {o.Epochs} epochs.");
    }

    // ---- the loop --------------------------------------------------------------------------------------

    public TrainingResult Train(CancellationToken cancellationToken)
    {
        double previousSeconds = state.TrainSeconds;
        TimeSpan Elapsed() => TimeSpan.FromSeconds(previousSeconds) + clock.Elapsed;
        int globalStep = state.GlobalStep;
        TrainerState Now(int epoch, int microBatch) => state with
        {
            Epoch = epoch, MicroBatch = microBatch, GlobalStep = globalStep, LossScale = scaler?.Scale,
            LossScaleGoodSteps = scaler?.GoodSteps ?? 0, SkippedSteps = scaler?.SkippedSteps ?? 0,
            TrainSeconds = Elapsed().TotalSeconds, DropoutRng = DropoutRandom.Shared.GetState(),
        };
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
                    progress?.Report(new TrainingStage("Interrupted: saving a checkpoint"));
                    Save(Now(epoch, m));
                    return new TrainingResult(o.Output, state.EpochMetrics.LastOrDefault(), Interrupted: true, globalStep, Elapsed(), 0);
                }

                int inStep = Math.Min(o.GradientAccumulation, batches.Count - m);
                var (stepLoss, tokens, examples) = MicroBatches(batches, m, inStep);
                double lr = schedule.LearningRate(globalStep);
                bool skipped = !Update(lr);
                globalStep++;
                windowTokens += tokens;
                windowExamples += examples;
                tokensTotal += tokens;

                double seconds = Math.Max(window.Elapsed.TotalSeconds, 1e-9);
                double epochProgress = epoch + (double)Math.Min(m + inStep, batches.Count) / batches.Count;
                Log(new JsonObject
                {
                    ["step"] = globalStep, ["epoch"] = Math.Round(epochProgress, 4), ["loss"] = Math.Round(stepLoss, 6),
                    ["learning_rate"] = lr, ["tokens_per_second"] = Math.Round(windowTokens / seconds, 1),
                    ["examples_per_second"] = Math.Round(windowExamples / seconds, 2), ["elapsed_seconds"] = Math.Round(Elapsed().TotalSeconds, 2),
                    ["skipped"] = skipped ? true : null,
                });
                progress?.Report(new StepCompleted(epoch, globalStep, schedule.TotalSteps, stepLoss, lr, windowTokens / seconds, windowExamples / seconds, Elapsed(), skipped, tokensTotal));
                if (window.Elapsed.TotalSeconds > 5) { window.Restart(); windowTokens = 0; windowExamples = 0; }

                bool epochEnds = m + inStep >= batches.Count;
                if (!epochEnds && (globalStep % o.SaveSteps == 0 || sinceSave.Elapsed.TotalMinutes >= o.SaveMinutes))
                    Save(Now(epoch, m + inStep));
                else if (globalStep % ReleaseMemoryEverySteps == 0) NativeMemory.ReleaseFreePages();
            }

            var metrics = Evaluate(epoch, globalStep);
            state = Now(epoch + 1, 0) with { EpochMetrics = [.. state.EpochMetrics, metrics] };
            KeepIfBest(epoch + 1, metrics);
            progress?.Report(new EpochCompleted(epoch + 1, o.Epochs, metrics, Elapsed()));
            Save(state);
        }
        var reported = best?.Metrics ?? state.EpochMetrics[^1];
        return new TrainingResult(o.Output, reported, Interrupted: false, globalStep, TimeSpan.FromSeconds(state.TrainSeconds),
            tokensTotal / Math.Max(clock.Elapsed.TotalSeconds, 1e-9), best?.Epoch);
    }

    /// <summary>Forward and backward over one optimizer step's micro-batches; returns the step's loss.</summary>
    (double Loss, long Tokens, long Examples) MicroBatches(IReadOnlyList<int[]> batches, int first, int count)
    {
        double stepLoss = 0;
        long tokens = 0, examples = 0;
        for (int k = 0; k < count; k++)
        {
            var members = batches[first + k];
            using var scope = NewDisposeScope();
            var batch = Batch.Collate(members.Select(i => trainEncodings[i].Ids).ToArray(), members.Select(i => train.Labels[i]).ToArray(), tokenizer.PadId, device, o.MaxLength);
            Tensor logits;
            using (Autocast.Enable(precision.ComputeDtype))
                logits = model.call(batch.InputIds, batch.AttentionMask, batch.TokenTypeIds);     // (B, 2) fp32
            var loss = (teacherLogits is null ? nn.functional.cross_entropy(logits, batch.Labels!) : DistillationLoss(logits, batch.Labels!, members)) / count;
            (scaler is null ? loss : scaler.ScaleLoss(loss)).backward();
            CrashPoints.Reach("step");
            stepLoss += loss.item<float>();
            tokens += batch.Tokens;
            examples += members.Length;
        }
        return (stepLoss, tokens, examples);
    }

    /// <summary>
    /// Hinton et al.'s loss: α · T² · KL(teacher ‖ student) at temperature T, plus (1 − α) · cross-entropy on the
    /// texts that have a true label (unlabelled ones carry -100 and only the first term).
    /// </summary>
    Tensor DistillationLoss(Tensor logits, Tensor labels, int[] members)
    {
        double T = o.Temperature;
        var teacher = tensor(members.SelectMany(i => teacherLogits![i]).ToArray(), [members.Length, 2], device: device);
        var teacherLog = nn.functional.log_softmax(teacher / T, 1);
        var studentLog = nn.functional.log_softmax(logits / T, 1);
        var kl = (teacherLog.exp() * (teacherLog - studentLog)).sum(1).mean() * (T * T);                  // batchmean
        bool anyLabelled = members.Any(i => train.Labels[i] != Unlabelled);
        var ce = anyLabelled ? nn.functional.cross_entropy(logits, labels, ignore_index: Unlabelled) : zeros_like(kl);
        return kl * o.Alpha + ce * (1 - o.Alpha);
    }

    /// <summary>Unscale (fp16), clip, step at <paramref name="lr"/>, zero the gradients. False when fp16 overflowed and the step was skipped.</summary>
    bool Update(double lr) => OptimizerStep.Take(trainable, optimizer, scaler, lr, o.MaxGradNorm);

    // ---- evaluation ------------------------------------------------------------------------------------

    /// <summary>
    /// Scores the held-out split. Not cancellable: Ctrl+C during it lets it finish, so the epoch's checkpoint
    /// is written and the interruption is taken at the next step boundary.
    /// </summary>
    ClassificationMetrics Evaluate(int epoch, int globalStep)
    {
        NativeMemory.ReleaseFreePages();   // training's free blocks, before the evaluation's own allocations
        var evalProgress = new SyncProgress<int>(done =>
        {
            if (done >= test.Count / 2) CrashPoints.Reach("eval");
            progress?.Report(new EvaluationProgress(epoch, done, test.Count));
        });
        var (metrics, _) = predictor.Evaluate(testEncodings, test.Labels, evalProgress, CancellationToken.None);
        NativeMemory.ReleaseFreePages();   // and the evaluation's, before training's
        model.train();
        Log(new JsonObject
        {
            ["step"] = globalStep, ["epoch"] = epoch + 1, ["eval_accuracy"] = metrics.Accuracy, ["eval_precision"] = metrics.Precision,
            ["eval_recall"] = metrics.Recall, ["eval_f1"] = metrics.F1, ["eval_loss"] = metrics.LogLoss,
        });
        return metrics;
    }

    /// <summary>--keep-best: the exported weights of the best epoch so far are kept (in memory and in the checkpoint).</summary>
    void KeepIfBest(int epoch, ClassificationMetrics metrics)
    {
        if (!o.KeepBest) return;
        double Score(ClassificationMetrics m) => o.BestMetric switch { "f1" => m.F1, "loss" => -m.LogLoss, _ => m.Accuracy };
        if (best is not null && Score(metrics) <= Score(best.Metrics)) return;
        best?.Dispose();
        using var scope = NewDisposeScope();
        var merged = ModelExport.MergedStateDict(model);
        var adapter = WritesAdapter ? ModelExport.AdapterStateDict(model) : null;
        foreach (var t in merged.Values.Concat(adapter?.Values ?? Enumerable.Empty<Tensor>())) t.MoveToOuterDisposeScope();
        best = new BestModel(epoch, metrics, merged, adapter);
        state = state with { BestEpoch = epoch };
    }

    // ---- checkpointing ---------------------------------------------------------------------------------

    const string BestMergedFile = "best_model.safetensors", BestAdapterFile = "best_adapter.safetensors";

    /// <summary>From scratch there is no checkpoint for an adapter to sit on (the base weights were random).</summary>
    bool WritesAdapter => model.LoraConfig is not null && !o.FromScratch;

    void Save(TrainerState s)
    {
        state = s;
        var shown = best is not null ? best.Metrics : s.EpochMetrics.LastOrDefault();
        int? shownEpoch = best?.Epoch ?? (s.EpochMetrics.Count > 0 ? s.EpochMetrics.Count : null);
        var metrics = shown is null ? null : MetricsJson(shown, shownEpoch!.Value, s);
        using var scope = NewDisposeScope();
        var extra = teacherLogits is null ? null
            : new Dictionary<string, IReadOnlyDictionary<string, Tensor>> { [TeacherTargets.CacheFile] = new Dictionary<string, Tensor> { ["logits"] = TeacherTargets.ToTensor(teacherLogits) } };
        OutputFolder.Write(o.Output, new OutputFolder.Snapshot(model, o, baseFolder, baseModelName, split, log, s, metrics, optimizer,
            best?.Merged, best?.Adapter, WritesAdapter, BestCheckpointFiles(), extra));
        NativeMemory.ReleaseFreePages();
        sinceSave.Restart();
    }

    IReadOnlyDictionary<string, IReadOnlyDictionary<string, Tensor>> BestCheckpointFiles()
    {
        var files = new Dictionary<string, IReadOnlyDictionary<string, Tensor>>();
        if (best is null) return files;
        files[BestMergedFile] = best.Merged;
        if (best.Adapter is not null) files[BestAdapterFile] = best.Adapter;
        return files;
    }

    JsonObject MetricsJson(ClassificationMetrics metrics, int epoch, TrainerState s)
    {
        var json = new JsonObject { ["split"] = "held-out", ["epoch"] = epoch, ["global_step"] = s.GlobalStep };
        if (o.KeepBest) { json["best_epoch"] = best?.Epoch; json["metric_for_best_model"] = o.BestMetric; }
        foreach (var (key, value) in metrics.ToJsonObject()) json[key] = value?.DeepClone();
        json["labels"] = new JsonArray([.. SentimentLabel.Names.Select(n => (JsonNode)n)]);
        json["train_seconds"] = Math.Round(s.TrainSeconds, 2);
        json["train_tokens_per_second"] = Math.Round(tokensTotal / Math.Max(clock.Elapsed.TotalSeconds, 1e-9), 1);
        json["precision_mode"] = o.Precision;
        return json;
    }

    void Log(JsonObject line)
    {
        foreach (var key in line.Where(kv => kv.Value is null).Select(kv => kv.Key).ToList()) line.Remove(key);
        log.Add(line.ToJsonString());
    }

    public void Dispose()
    {
        best?.Dispose();
        optimizer.Dispose();
        model.Dispose();
    }
}
