using Blockbuster.Model;
using Blockbuster.Model.Lora;
using static TorchSharp.torch;

namespace Blockbuster.Tests;

/// <summary>
/// TorchSharp's temporary Scalars (a bare number argument, the alpha of <c>tensor + tensor</c>) can be finalised
/// while the native call that uses them still runs (see <see cref="Scalars"/>). Forward passes on two threads while a
/// third keeps forcing collections and finalizers: with the model's old operators this failed within the first few
/// hundred passes with LibTorch's "Expected false to be true" from <c>Scalar::toFloat</c>; in <c>predict --file</c>
/// it struck about once per million lines.
/// </summary>
[Collection("torch-global-state")]
public class ScalarLifetimeTests
{
    [Fact]
    public void Forward_passes_survive_collections_on_another_thread()
    {
        manual_seed(3);
        // Wide enough that each native op runs for tens of microseconds: the window a finalizer has to hit.
        var config = TinyModels.Config() with { HiddenSize = 128, IntermediateSize = 512, MaxPositionEmbeddings = 128 };
        using var model = new BertForSequenceClassification(config.WithLabels(["negative", "positive"]));
        LoraInjection.Inject(model, new LoraConfig { TargetModules = ["query", "key", "value", "dense"] });

        bool stop = false;
        var collector = new Thread(() => { while (!Volatile.Read(ref stop)) { GC.Collect(0); GC.WaitForPendingFinalizers(); } });
        collector.Start();
        var failures = new System.Collections.Concurrent.ConcurrentQueue<Exception>();
        // Bounded by time as well as count: the old operators failed within 3–4 s here, every time (3 of 3).
        void Passes(ScalarType? dtype, double seconds)
        {
            var clock = System.Diagnostics.Stopwatch.StartNew();
            try
            {
                using var _ = no_grad();
                using var cast = Autocast.Enable(dtype);
                for (int i = 0; i < 60 && failures.IsEmpty && clock.Elapsed.TotalSeconds < seconds; i++)
                {
                    using var scope = NewDisposeScope();
                    // Padded rows: the attention bias (eq, masked_fill) and every residual add, LoRA update and dropout scale run.
                    var ids = randint(5, 120, [16, 128]);
                    var mask = ones(16, 128, dtype: ScalarType.Int64);
                    mask[1, TensorIndex.Slice(10)] = zeros(118, dtype: ScalarType.Int64);
                    var logits = model.call(ids, mask, zeros_like(ids));
                    Assert.False(logits.isnan().any().item<bool>());
                }
            }
            catch (Exception e) { failures.Enqueue(e); }
        }
        try
        {
            model.eval();
            var other = new Thread(() => Passes(ScalarType.BFloat16, 8));
            other.Start();
            Passes(null, 8);
            other.Join();
            model.train();   // dropout's rescale on the attention values and hidden states
            Passes(ScalarType.BFloat16, 4);
        }
        finally
        {
            Volatile.Write(ref stop, true);
            collector.Join();
        }
        Assert.True(failures.IsEmpty, failures.FirstOrDefault()?.Message.Split('\n')[0]);
    }
}
