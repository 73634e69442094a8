using static TorchSharp.torch;

namespace Blockbuster.Model;

/// <summary>transformers' BertModel: embeddings, encoder, pooler. Returns (last_hidden_state, pooler_output).</summary>
public sealed class BertModel : nn.Module<Tensor, Tensor, Tensor, (Tensor LastHiddenState, Tensor PoolerOutput)>
{
    public readonly BertEmbeddings embeddings;
    public readonly BertEncoder encoder;
    public readonly BertPooler pooler;

    public BertModel(BertConfig config, Lora.LoraConfig? lora = null) : base(nameof(BertModel))
    {
        embeddings = new BertEmbeddings(config);
        encoder = new BertEncoder(config, lora);
        pooler = new BertPooler(config, lora);
        RegisterComponents();
    }

    /// <param name="inputIds">(B, T) int64</param>
    /// <param name="attentionMask">(B, T), 1 for tokens and 0 for padding</param>
    /// <param name="tokenTypeIds">(B, T) int64</param>
    /// <returns>last hidden state (B, T, H) and pooled output (B, H), both fp32</returns>
    public override (Tensor LastHiddenState, Tensor PoolerOutput) forward(Tensor inputIds, Tensor attentionMask, Tensor tokenTypeIds)
    {
        long B = inputIds.shape[0], T = inputIds.shape[1];
        // (B, 1, 1, T), broadcast over heads and queries; none at all when nothing is padded (length-bucketed
        // batches often are not), which lets attention skip the masking pass.
        Tensor? mask = attentionMask.all().item<bool>() ? null : attentionMask.to(ScalarType.Bool).view(B, 1, 1, T);
        var hidden = encoder.call(embeddings.call(inputIds, tokenTypeIds), mask);
        return (Autocast.Float(hidden), Autocast.Float(pooler.call(hidden)));
    }
}
