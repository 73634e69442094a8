using Blockbuster.Model;
using Blockbuster.Training;
using Blockbuster.Training.Data;
using static TorchSharp.torch;

namespace Blockbuster.Tests;

/// <summary>
/// Tests that use LibTorch run alone, one class at a time: they draw dropout masks, seed or set global torch state, and a
/// fixture building a model beside other torch tests once failed in native code (a tensor on the "HPU" backend).
/// </summary>
[CollectionDefinition("torch-global-state", DisableParallelization = true)]
public class TorchGlobalState;

[Collection("torch-global-state")]
public class TrainingMathTests
{
    [Fact]
    public void Linear_schedule_values_at_start_end_of_warmup_and_last_step()
    {
        var s = LinearSchedule.Create(1e-3, totalSteps: 100, warmupRatio: 0.1);
        Assert.Equal(10, s.WarmupSteps);
        Assert.Equal(0.0, s.LearningRate(0));
        Assert.Equal(5e-4, s.LearningRate(5), 12);
        Assert.Equal(1e-3, s.LearningRate(10), 12);
        Assert.Equal(1e-3 * 1 / 90, s.LearningRate(99), 12);
        Assert.Equal(0.0, s.LearningRate(100));
        var flat = LinearSchedule.Create(3e-5, 4, 0);
        Assert.Equal([3e-5, 2.25e-5, 1.5e-5, 0.75e-5], Enumerable.Range(0, 4).Select(flat.LearningRate).Select(v => Math.Round(v, 12)));
    }

    static (BertForSequenceClassification Model, List<int[]> Ids, int[] Labels) NoDropoutModelAndBatch()
    {
        manual_seed(11);
        var config = TinyModels.Config() with { HiddenDropoutProb = 0, AttentionProbsDropoutProb = 0 };
        var model = Blockbuster.Model.Lora.LoraInjection.Inject(new BertForSequenceClassification(config), new Blockbuster.Model.Lora.LoraConfig { Dropout = 0 });
        using (no_grad()) foreach (var l in model.LoraLayers()) l.lora_B.weight!.normal_(0, 0.1);
        var rng = new Random(5);
        var ids = Enumerable.Range(0, 16).Select(i => new[] { 2 }.Concat(Enumerable.Range(0, 3 + rng.Next(20)).Select(_ => 5 + rng.Next(100))).Append(3).ToArray()).ToList();
        var labels = Enumerable.Range(0, 16).Select(i => i % 2).ToArray();
        return (model, ids, labels);
    }

    static Dictionary<string, Tensor> Gradients(BertForSequenceClassification model, IEnumerable<(List<int[]> Ids, int[] Labels)> microBatches, int count)
    {
        model.train();
        var trainable = Trainer.SelectTrainable(model, lora: true);
        foreach (var p in trainable) p.grad?.zero_();
        foreach (var (ids, labels) in microBatches)
        {
            var batch = Batch.Collate(ids, labels, 0, CPU);
            var loss = nn.functional.cross_entropy(model.call(batch.InputIds, batch.AttentionMask, batch.TokenTypeIds), batch.Labels!) / count;
            loss.backward();
        }
        return model.named_parameters().Where(p => p.parameter.requires_grad).ToDictionary(p => p.name, p => p.parameter.grad!.clone());
    }

    [Fact]
    public void Gradient_accumulation_2x8_equals_one_batch_of_16()
    {
        var (model, ids, labels) = NoDropoutModelAndBatch();
        using (model)
        {
            var whole = Gradients(model, [(ids, labels)], 1);
            var accumulated = Gradients(model, [(ids[..8], labels[..8]), (ids[8..], labels[8..])], 2);
            Assert.Equal(10, whole.Count);
            foreach (var (name, g) in whole)
                Assert.True((g - accumulated[name]).abs().max().item<float>() < 1e-5, $"{name} differs");
            Assert.True(whole.Values.Sum(g => g.abs().sum().item<float>()) > 0);
        }
    }

    [Fact]
    public void Loss_falls_to_near_zero_when_overfitting_one_batch()
    {
        manual_seed(12);
        DropoutRandom.Shared.Seed(12);
        using var model = new BertForSequenceClassification(TinyModels.Config());
        var trainable = Trainer.SelectTrainable(model, lora: false);
        using var optimizer = Trainer.CreateOptimizer(trainable, new TrainingOptions { LearningRate = 1e-3, WeightDecay = 0 });
        var ids = Enumerable.Range(0, 8).Select(i => new[] { 2, 10 + i, 20 + i, 30 + i, 3 }).ToList();
        var labels = Enumerable.Range(0, 8).Select(i => i % 2).ToArray();
        model.train();
        float first = 0, last = 0;
        for (int step = 0; step < 200; step++)
        {
            using var scope = NewDisposeScope();
            var batch = Batch.Collate(ids, labels, 0, CPU);
            var loss = nn.functional.cross_entropy(model.call(batch.InputIds, batch.AttentionMask, batch.TokenTypeIds), batch.Labels!);
            loss.backward();
            optimizer.step();
            optimizer.zero_grad();
            last = loss.item<float>();
            if (step == 0) first = last;
        }
        Assert.InRange(first, 0.6, 0.8);
        Assert.True(last < 0.05, $"loss after 200 steps: {last}");
    }

    [Fact]
    public void Split_is_stratified_disjoint_and_deterministic()
    {
        var labels = Enumerable.Range(0, 1000).Select(i => i < 700 ? 1 : 0).ToArray();
        var (train, test) = StratifiedSplit.Split(labels, 0.2, 42);
        Assert.Equal(200, test.Length);
        Assert.Equal(800, train.Length);
        Assert.Equal(140, test.Count(i => labels[i] == 1));
        Assert.Empty(train.Intersect(test));
        Assert.Equal(Enumerable.Range(0, 1000), train.Concat(test).Order());
        Assert.Equal(test, StratifiedSplit.Split(labels, 0.2, 42).Test);
        Assert.NotEqual(test, StratifiedSplit.Split(labels, 0.2, 43).Test);
        var subset = StratifiedSplit.Subset(labels, 100, 42);
        Assert.Equal(100, subset.Length);
        Assert.Equal(70, subset.Count(i => labels[i] == 1));
    }

    [Fact]
    public void Length_bucketed_batches_cover_every_example_once_and_repeat_per_seed()
    {
        var rng = new Random(1);
        var lengths = Enumerable.Range(0, 1000).Select(_ => rng.Next(5, 500)).ToArray();
        var sampler = new LengthBucketSampler(lengths, 16, seed: 7);
        var epoch0 = sampler.Batches(0);
        Assert.Equal(63, epoch0.Count);
        Assert.Equal(Enumerable.Range(0, 1000), epoch0.SelectMany(b => b).Order());
        Assert.Equal(epoch0, new LengthBucketSampler(lengths, 16, seed: 7).Batches(0));
        Assert.NotEqual(epoch0, sampler.Batches(1));
        // Within a batch lengths are close: padding waste well under that of random batches.
        double waste = epoch0.Sum(b => b.Max(i => lengths[i]) * b.Length - b.Sum(i => lengths[i])) / (double)lengths.Sum();
        Assert.True(waste < 0.05, $"padding waste {waste:P1}");
    }

    [Fact]
    public void Dynamic_loss_scaler_skips_on_inf_and_grows_after_good_steps()
    {
        var scaler = new DynamicLossScaler(initialScale: 1024, growthInterval: 3);
        var p = new TorchSharp.Modules.Parameter(ones(3));
        p.grad = tensor(new float[] { 1024, 2048, float.PositiveInfinity });
        Assert.False(scaler.UnscaleAndCheck([p]));
        Assert.Equal(512, scaler.Scale);
        Assert.Equal(1, scaler.SkippedSteps);
        for (int i = 0; i < 3; i++)
        {
            p.grad = tensor(new float[] { 512, 1024, 0 });
            Assert.True(scaler.UnscaleAndCheck([p]));
        }
        Assert.Equal(new float[] { 1, 2, 0 }, p.grad!.data<float>().ToArray());
        Assert.Equal(1024, scaler.Scale);
    }
}
