using BenchmarkDotNet.Running;
using Blockbuster.Benchmarks;

// Benchmarks and whole-run measurements; see README "Benchmarks".
//   tokenizer-parity [csv] [model-folder]   all reviews vs Hugging Face's tokenizer
//   feature-probe [MODEL] [--train N] [--test M] [--length T]   linear probe of a base model's frozen [CLS] / mean features on imdb.csv
//   minilm-parity                           MiniLM vs ONNX Runtime references: errors and forward time
//   tokenize-time                           quick wall-clock of tokenizing the 50k reviews (median of 5)
//   train-throughput [reviews] [--full-finetune] [--precision P]   trainer vs a bare TorchSharp loop
//   step-profile | layer-probe | rng-probe | attention-probe | attention-grad-probe | fill-probe   where training time goes
//   inference-probe | inference-attention-probe | eval-profile   where eval time goes
//   int8-probe | onednn-probe                                   an int8 forward on one thread; oneDNN's fused int8 linear vs FBGEMM's
//   workers-probe [batch] | train-workers-probe                 one two-threaded loop vs two single-threaded workers
//   qlora-throughput [reviews] [rounds]     trainer tokens/s with an NF4 base vs bf16, paired (all-MiniLM-L6-v2)
//   nf4-memory                              bytes of the frozen base in fp32, bf16, NF4, NF4 + double quantisation
//   onnx-race MODEL [--batch-sizes 16,32,64] [--limit N] [--rounds R]   eval path fp32/bf16/int8 vs ONNX Runtime fp32/int8 on the exported model
//   serve-load MODEL [--clients 32] [--overload-clients 512] [--seconds 20]   blockbuster serve under concurrent clients
//   bdn [BenchmarkDotNet args]              BenchmarkDotNet suites (e.g. --filter *Tokenize*)
var command = args.Length > 0 ? args[0] : "help";
switch (command)
{
    case "tokenizer-parity":
        return TokenizerParity.Run(args.ElementAtOrDefault(1) ?? SharedPaths.ImdbCsv, args.ElementAtOrDefault(2) ?? SharedPaths.BertTiny);
    case "step-profile":
        return StepProfile.Run(args);
    case "attention-probe":
        return AttentionProbe.Run();
    case "attention-grad-probe":
        return AttentionGradProbe.Run();
    case "inference-probe":
        return InferenceProbe.Run();
    case "int8-probe":
        return Int8Probe.Run();
    case "onednn-probe":
        return OnednnProbe.Run();
    case "inference-attention-probe":
        return InferenceAttentionProbe.Run();
    case "workers-probe":
        return WorkersProbe.Run(args);
    case "train-workers-probe":
        return TrainWorkersProbe.Run(args);
    case "eval-profile":
        return EvalProfile.Run();
    case "rng-probe":
        return RngProbe.Run();
    case "layer-probe":
        return LayerProbe.Run();
    case "fill-probe":
        return FillProbe.Run();
    case "train-throughput":
        return await TrainThroughput.Run(args);
    case "feature-probe":
        return FeatureProbe.Run(args);
    case "minilm-parity":
        return MiniLmParity.Run();
    case "leak-probe":
        return LeakProbe.Run();
    case "qlora-throughput":
        return await QloraThroughput.Run(args);
    case "serve-load":
        return await ServeLoad.Run(args);
    case "onnx-race":
        return await OnnxRace.Run(args);
    case "nf4-memory":
        return Nf4Memory.Run();
    case "tokenize-time":
        return TokenizeTime.Run();
    case "bdn":
        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args[1..]);
        return 0;
    default:
        Console.WriteLine("usage: Blockbuster.Benchmarks onnx-race MODEL | serve-load MODEL | feature-probe [MODEL] [--train N] [--test M] [--length T] | minilm-parity | tokenizer-parity | nf4-memory | qlora-throughput | tokenize-time | train-throughput | step-profile | layer-probe | rng-probe | attention-probe | attention-grad-probe | fill-probe | inference-probe | int8-probe | onednn-probe | inference-attention-probe | eval-profile | workers-probe | train-workers-probe | bdn [--filter PATTERN]");
        return command == "help" ? 0 : 2;
}
