using Blockbuster.Model;
using Blockbuster.Model.Quantization;
using static TorchSharp.torch;

namespace Blockbuster.Benchmarks;

/// <summary>
/// nf4-memory: bytes held for the frozen base (the BertModel under a classifier) in fp32, bf16, NF4 and
/// NF4 + double quantisation, for bert-tiny, all-MiniLM-L6-v2 and a BERT-base-shaped config (random weights:
/// sizes do not depend on values). Counted from the tensors the model holds, per quantised parameter and whole.
/// </summary>
static class Nf4Memory
{
    public static int Run()
    {
        var configs = new (string Name, BertConfig Config)[]
        {
            ("bert-tiny", BertConfig.Load(Path.Combine(SharedPaths.BertTiny, "config.json"))),
            ("all-MiniLM-L6-v2", BertConfig.Load(Path.Combine(SharedPaths.MiniLm, "config.json"))),
            ("BERT-base shape", new BertConfig { HiddenSize = 768, NumHiddenLayers = 12, NumAttentionHeads = 12, IntermediateSize = 3072 }),
        };
        Console.WriteLine("| model | quantised params | other base params | fp32 base | bf16 base | NF4 base | NF4+DQ base | NF4 bits/param | NF4+DQ bits/param |");
        Console.WriteLine("|---|---|---|---|---|---|---|---|---|");
        foreach (var (name, config) in configs)
        {
            manual_seed(0);
            using var plain = new BertForSequenceClassification(config.WithLabels(["negative", "positive"]));
            long quantisedParams = LayerSwap.Linears(plain.bert).Sum(l => l.Layer.weight!.numel());
            long baseParams = plain.bert.parameters().Sum(p => p.numel());
            long other = baseParams - quantisedParams;   // embeddings, LayerNorms, biases: kept as they are
            double Bytes(Nf4Options? q)
            {
                if (q is null) return 0;
                using var model = new BertForSequenceClassification(config.WithLabels(["negative", "positive"]));
                Nf4Quantizer.Quantize(model, q.DoubleQuant);
                long bytes = 0;
                foreach (var layer in model.bert.modules().OfType<Linear4bit>())
                    bytes += layer.buffers().Sum(b => b.numel() * b.ElementSize);   // codes, absmax, nested absmax and offset
                return bytes;
            }
            double nf4 = Bytes(new Nf4Options(DoubleQuant: false)), dq = Bytes(new Nf4Options(DoubleQuant: true));
            // The biases of quantised layers stay fp32 and are part of "other" in every column.
            Console.WriteLine($"| {name} | {quantisedParams:N0} | {other:N0} | {Mb(baseParams * 4)} | {Mb(baseParams * 2)} | {Mb(other * 4 + nf4)} | {Mb(other * 4 + dq)} | " +
                              $"{nf4 * 8 / quantisedParams:F3} | {dq * 8 / quantisedParams:F3} |");
        }
        Console.WriteLine("\nNF4 and NF4+DQ keep embeddings, LayerNorms and biases in fp32 (as bitsandbytes does); the bf16 column halves every parameter.");
        return 0;
    }

    static string Mb(double bytes) => $"{bytes / (1 << 20):F2} MB";
}
