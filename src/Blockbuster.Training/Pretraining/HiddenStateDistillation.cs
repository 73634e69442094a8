using Blockbuster.Model;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Blockbuster.Training.Pretraining;

/// <summary>
/// General distillation as TinyBERT does it (Jiao et al. 2020, §3.1 and 4.1): beside masked LM, the student's
/// hidden states learn a pretrained teacher's. Student layer m (0 = the embeddings' output) matches teacher layer
/// g(m) = m·N/M through a learned linear map from the student's width to the teacher's (the teacher is wider), by
/// mean squared error over every token. One more term is about the whole text. A teacher that is a trained
/// classifier (made by <c>train</c> or <c>distill</c>) gives its predictions: the student grows a pooler
/// (<see cref="pooler"/>, transformers' BertPooler) whose output, through a linear map to the teacher's labels, learns
/// them (soft cross-entropy, TinyBERT's prediction-layer distillation; Turc et al. 2019's pre-trained distillation).
/// That pooler is written to the model folder (<c>bert.pooler.*</c>), so a classifier fine-tuned on the folder starts
/// from a trained pooler, as it does on Google's checkpoints; the map is not (the classifier starts fresh). Any other
/// teacher (all-MiniLM-L6-v2: sentence-transformers train the mean of its last layer) gives the mean of its last
/// layer, and the student's last [CLS] state, mapped to the teacher's width, learns its direction (cosine).
/// The maps exist only for pretraining: they are checkpointed for --resume but not written to the model folder.
/// </summary>
public sealed class HiddenStateDistillation : nn.Module
{
    /// <summary>layers[m] maps student layer m (0: embeddings) to the teacher's width.</summary>
    public readonly ModuleList<Linear> layers;
    /// <summary>Maps the student's last [CLS] state to the teacher's width (or, with a classifier teacher, its pooler's output to the teacher's labels).</summary>
    public readonly Linear cls;
    /// <summary>The student's pooler (transformers' BertPooler), when the teacher is a classifier.</summary>
    public readonly BertPooler? pooler;

    public IReadOnlyList<int> TeacherLayers { get; }

    /// <summary>True when the text-level term is the teacher's predictions (and the student has <see cref="pooler"/>).</summary>
    public bool TargetsPredictions => pooler is not null;

    /// <param name="teacherLabels">the number of labels of a teacher that is a trained classifier (its predictions are the
    /// text-level target); null for any other teacher</param>
    public HiddenStateDistillation(BertConfig student, BertConfig teacher, int? teacherLabels = null) : base(nameof(HiddenStateDistillation))
    {
        TeacherLayers = MapLayers(student.NumHiddenLayers, teacher.NumHiddenLayers);
        layers = nn.ModuleList(TeacherLayers.Select(_ => nn.Linear(student.HiddenSize, teacher.HiddenSize)).ToArray());
        cls = nn.Linear(student.HiddenSize, teacherLabels ?? teacher.HiddenSize);
        if (teacherLabels is not null) pooler = new BertPooler(student);
        RegisterComponents();
    }

    /// <summary>Starts <see cref="pooler"/> from a checkpoint's pooler, when both exist (continuing from a folder this wrote).</summary>
    /// <returns>whether a pooler was copied</returns>
    public bool LoadPooler(IReadOnlyDictionary<string, Tensor> checkpoint)
    {
        if (pooler is null) return false;
        var targets = pooler.state_dict();
        var found = targets.Keys.Select(k => checkpoint.TryGetValue("bert.pooler." + k, out var t) || checkpoint.TryGetValue("pooler." + k, out t) ? t : null).ToList();
        if (found.Any(t => t is null)) return false;
        using (no_grad())
            foreach (var ((_, target), source) in targets.Zip(found)) target.copy_(source!);
        return true;
    }

    /// <summary>TinyBERT's uniform mapping g(m) = m·N/M, for m = 0 (embeddings) … M: bert-tiny's 2 layers ← MiniLM's 3 and 6.</summary>
    public static int[] MapLayers(int studentLayers, int teacherLayers) =>
        Enumerable.Range(0, studentLayers + 1).Select(m => m * teacherLayers / studentLayers).ToArray();

    /// <param name="student">the student's states from <see cref="BertModel.EncodeAllLayers"/>: M + 1 of (B, T, h)</param>
    /// <param name="teacher">the teacher's on the same input, without gradient: N + 1 of (B, T, H)</param>
    /// <param name="teacherLogits">the teacher's logits (B, labels) when <see cref="TargetsPredictions"/></param>
    /// <returns>the hidden-state MSE summed over the mapped layers, and the text-level term (the soft cross-entropy
    /// against the teacher's predictions, or the mean 1 − cosine of [CLS] against the mean); fp32 scalars</returns>
    public (Tensor Hidden, Tensor Sentence) Loss(IReadOnlyList<Tensor> student, IReadOnlyList<Tensor> teacher, Tensor? teacherLogits = null)
    {
        Tensor? hidden = null;
        for (int m = 0; m < layers.Count; m++)
        {
            var target = teacher[TeacherLayers[m]].to(ScalarType.Float32);                       // (B, T, H)
            var term = nn.functional.mse_loss(layers[m].call(student[m].to(ScalarType.Float32)), target);
            hidden = hidden is null ? term : hidden + term;
        }
        if (pooler is not null)
        {
            var logits = cls.call(pooler.call(student[^1].narrow(1, 0, 1).to(ScalarType.Float32)));   // (B, labels): the pooler reads [CLS] only
            var target = (teacherLogits ?? throw new ArgumentNullException(nameof(teacherLogits))).to(ScalarType.Float32).softmax(1);
            return (hidden!, -(target * logits.log_softmax(1)).sum(1).mean());
        }
        // Blocks are full (no padding): the mean over T is the sentence embedding's mean pooling.
        var sentence = teacher[^1].to(ScalarType.Float32).mean([1]);                               // (B, H)
        var mapped = cls.call(student[^1][.., 0].to(ScalarType.Float32));                          // (B, H)
        var cosine = nn.functional.cosine_similarity(mapped, sentence, dim: 1);                     // (B)
        return (hidden!, (1 - cosine).mean());
    }
}
