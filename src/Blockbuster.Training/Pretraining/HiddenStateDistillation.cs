using Blockbuster.Model;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Blockbuster.Training.Pretraining;

/// <summary>
/// General distillation as TinyBERT does it (Jiao et al. 2020, §3.1 and 4.1): beside masked LM, the student's
/// hidden states learn a pretrained teacher's. Student layer m (0 = the embeddings' output) matches teacher layer
/// g(m) = m·N/M through a learned linear map from the student's width to the teacher's (the teacher is wider), by
/// mean squared error over every token. One more term asks the student's last [CLS] state, mapped the same way, to
/// point where the teacher's mean-pooled last layer points (cosine): sentence-transformers' models such as
/// all-MiniLM-L6-v2 are trained on that mean, and the original recipe reads its classifier from [CLS].
/// The maps exist only for pretraining: they are checkpointed for --resume but not written to the model folder.
/// </summary>
public sealed class HiddenStateDistillation : nn.Module
{
    /// <summary>layers[m] maps student layer m (0: embeddings) to the teacher's width.</summary>
    public readonly ModuleList<Linear> layers;
    /// <summary>Maps the student's last [CLS] state to the teacher's width.</summary>
    public readonly Linear cls;

    public IReadOnlyList<int> TeacherLayers { get; }

    public HiddenStateDistillation(BertConfig student, BertConfig teacher) : base(nameof(HiddenStateDistillation))
    {
        TeacherLayers = MapLayers(student.NumHiddenLayers, teacher.NumHiddenLayers);
        layers = nn.ModuleList(TeacherLayers.Select(_ => nn.Linear(student.HiddenSize, teacher.HiddenSize)).ToArray());
        cls = nn.Linear(student.HiddenSize, teacher.HiddenSize);
        RegisterComponents();
    }

    /// <summary>TinyBERT's uniform mapping g(m) = m·N/M, for m = 0 (embeddings) … M: bert-tiny's 2 layers ← MiniLM's 3 and 6.</summary>
    public static int[] MapLayers(int studentLayers, int teacherLayers) =>
        Enumerable.Range(0, studentLayers + 1).Select(m => m * teacherLayers / studentLayers).ToArray();

    /// <param name="student">the student's states from <see cref="BertModel.EncodeAllLayers"/>: M + 1 of (B, T, h)</param>
    /// <param name="teacher">the teacher's on the same input, without gradient: N + 1 of (B, T, H)</param>
    /// <returns>the hidden-state MSE summed over the mapped layers, and the mean (1 − cosine) of the [CLS] term; fp32 scalars</returns>
    public (Tensor Hidden, Tensor Sentence) Loss(IReadOnlyList<Tensor> student, IReadOnlyList<Tensor> teacher)
    {
        Tensor? hidden = null;
        for (int m = 0; m < layers.Count; m++)
        {
            var target = teacher[TeacherLayers[m]].to(ScalarType.Float32);                       // (B, T, H)
            var term = nn.functional.mse_loss(layers[m].call(student[m].to(ScalarType.Float32)), target);
            hidden = hidden is null ? term : hidden + term;
        }
        // Blocks are full (no padding): the mean over T is the sentence embedding's mean pooling.
        var sentence = teacher[^1].to(ScalarType.Float32).mean([1]);                               // (B, H)
        var mapped = cls.call(student[^1][.., 0].to(ScalarType.Float32));                          // (B, H)
        var cosine = nn.functional.cosine_similarity(mapped, sentence, dim: 1);                     // (B)
        return (hidden!, (1 - cosine).mean());
    }
}
