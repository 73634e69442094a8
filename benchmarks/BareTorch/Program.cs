// One tensor op through TorchSharp: what any TorchSharp program pays before doing real work (runtime start,
// loading libtorch, the first op).
using static TorchSharp.torch;

var x = ones(2, 2);
Console.WriteLine((x + x).sum().item<float>());
