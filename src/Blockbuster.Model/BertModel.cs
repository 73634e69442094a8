using static TorchSharp.torch;

namespace Blockbuster.Model;

/// <summary>
/// transformers' BertModel: embeddings, encoder, pooler. Returns (last_hidden_state, pooler_output).
/// Without a pooling layer (as inside transformers' BertForMaskedLM) there is no <c>pooler</c> and only
/// <see cref="Encode"/> applies.
/// </summary>
public sealed class BertModel : nn.Module<Tensor, Tensor, Tensor, (Tensor LastHiddenState, Tensor PoolerOutput)>
{
    public readonly BertEmbeddings embeddings;
    public readonly BertEncoder encoder;
    public readonly BertPooler? pooler;

    public BertModel(BertConfig config, bool addPoolingLayer = true) : base(nameof(BertModel))
    {
        embeddings = new BertEmbeddings(config);
        encoder = new BertEncoder(config);
        pooler = addPoolingLayer ? new BertPooler(config) : null;
        RegisterComponents();
    }

    /// <param name="inputIds">(B, T) int64</param>
    /// <param name="attentionMask">(B, T), 1 for tokens and 0 for padding</param>
    /// <param name="tokenTypeIds">(B, T) int64</param>
    /// <returns>last hidden state (B, T, H) and pooled output (B, H), both fp32</returns>
    public override (Tensor LastHiddenState, Tensor PoolerOutput) forward(Tensor inputIds, Tensor attentionMask, Tensor tokenTypeIds)
    {
        var hidden = Encode(inputIds, attentionMask, tokenTypeIds);
        var pooled = (pooler ?? throw new InvalidOperationException("this BertModel was built without a pooling layer")).call(hidden);
        return (Autocast.Float(hidden), Autocast.Float(pooled));
    }

    /// <returns>the last hidden state (B, T, H), in the compute dtype under autocast</returns>
    public Tensor Encode(Tensor inputIds, Tensor attentionMask, Tensor tokenTypeIds) =>
        encoder.call(embeddings.call(inputIds, tokenTypeIds), AttentionBias(attentionMask));

    /// <summary>
    /// Every layer's output, as transformers' <c>output_hidden_states</c>: the embeddings' (B, T, H) first, then
    /// each layer's, in the compute dtype under autocast. For hidden-state distillation (teacher and student):
    /// all of them stay alive, so no per-layer scopes as in <see cref="BertEncoder"/>'s inference path.
    /// </summary>
    public Tensor[] EncodeAllLayers(Tensor inputIds, Tensor attentionMask, Tensor tokenTypeIds)
    {
        var bias = AttentionBias(attentionMask);
        var states = new Tensor[encoder.layer.Count + 1];
        states[0] = embeddings.call(inputIds, tokenTypeIds);
        for (int i = 0; i < encoder.layer.Count; i++) states[i + 1] = encoder.layer[i].call(states[i], bias);
        return states;
    }

    /// <summary>
    /// The additive mask every layer adds to its attention scores: (B, 1, 1, T) in the compute dtype,
    /// broadcast over heads and queries, 0 for tokens and -inf for padding. None at all when nothing is
    /// padded (length-bucketed batches often are not), which saves attention a pass over its scores.
    /// </summary>
    static Tensor? AttentionBias(Tensor attentionMask)
    {
        if (attentionMask.all().item<bool>()) return null;
        long B = attentionMask.shape[0], T = attentionMask.shape[1];
        var padding = attentionMask.eq(Scalars.Zero).view(B, 1, 1, T);
        return zeros(B, 1, 1, T, Autocast.Dtype ?? ScalarType.Float32, attentionMask.device).masked_fill_(padding, Scalars.NegativeInfinity);
    }
}
