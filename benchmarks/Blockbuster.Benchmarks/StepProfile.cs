using System.Diagnostics;
using Blockbuster.Model;
using Blockbuster.Model.Lora;
using Blockbuster.Training;
using Blockbuster.Training.Data;
using Blockbuster.Training.Tokenization;
using static TorchSharp.torch;

namespace Blockbuster.Benchmarks;

/// <summary>Times forward, backward and optimizer separately for bert-tiny on real IMDB batches.</summary>
static class StepProfile
{
    public static int Run(string[] args)
    {
        int n = 1600;
        var reviews = ReviewCsv.Read(SharedPaths.ImdbCsv).Subset(Enumerable.Range(0, n).ToArray());
        var tokenizer = BertWordPieceTokenizer.Load(Path.Combine(SharedPaths.BertTiny, "vocab.txt"));
        var enc = tokenizer.EncodeAll(reviews.Texts.ToArray(), 512);
        var sampler = new LengthBucketSampler(enc.Select(e => e.Ids.Length).ToArray(), 16, 42);
        var batches = sampler.Batches(0);
        var config = BertConfig.Load(Path.Combine(SharedPaths.BertTiny, "config.json"));
        foreach (var (name, dtype, lora) in new (string, ScalarType?, bool)[] { ("fp32 full", null, false), ("bf16 full", ScalarType.BFloat16, false), ("fp32 lora", null, true), ("bf16 lora", ScalarType.BFloat16, true) })
        {
            using var model = Blockbuster.Model.Lora.LoraInjection.Inject(new BertForSequenceClassification(config), lora ? new LoraConfig() : null);
            var trainable = Trainer.SelectTrainable(model, lora);
            using var opt = Trainer.CreateOptimizer(trainable, new TrainingOptions());
            model.train();
            double fwd = 0, bwd = 0, step = 0; long tokens = 0;
            var total = Stopwatch.StartNew();
            foreach (var b in batches)
            {
                using var scope = NewDisposeScope();
                var batch = Batch.Collate(b.Select(i => enc[i].Ids).ToArray(), b.Select(i => reviews.Labels[i]).ToArray(), 0, CPU);
                tokens += batch.Tokens;
                var sw = Stopwatch.StartNew();
                Tensor loss;
                using (Autocast.Enable(dtype)) loss = nn.functional.cross_entropy(model.call(batch.InputIds, batch.AttentionMask, batch.TokenTypeIds), batch.Labels!);
                fwd += sw.Elapsed.TotalSeconds; sw.Restart();
                loss.backward();
                bwd += sw.Elapsed.TotalSeconds; sw.Restart();
                nn.utils.clip_grad_norm_(trainable, 1.0);
                opt.step(); opt.zero_grad();
                step += sw.Elapsed.TotalSeconds;
            }
            Console.WriteLine($"{name}: {tokens / total.Elapsed.TotalSeconds:N0} tok/s  fwd {fwd:F2}s bwd {bwd:F2}s opt {step:F2}s total {total.Elapsed.TotalSeconds:F2}s");
        }
        return 0;
    }
}
