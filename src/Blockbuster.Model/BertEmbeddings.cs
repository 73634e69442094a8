using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Blockbuster.Model;

/// <summary>transformers' BertEmbeddings: word + absolute position + token type, then LayerNorm and dropout.</summary>
public sealed class BertEmbeddings : nn.Module<Tensor, Tensor, Tensor>
{
    public readonly Embedding word_embeddings;
    public readonly Embedding position_embeddings;
    public readonly Embedding token_type_embeddings;
    public readonly LayerNorm LayerNorm;
    public readonly FastDropout dropout;

    public BertEmbeddings(BertConfig config) : base(nameof(BertEmbeddings))
    {
        word_embeddings = nn.Embedding(config.VocabSize, config.HiddenSize, padding_idx: config.PadTokenId);
        position_embeddings = nn.Embedding(config.MaxPositionEmbeddings, config.HiddenSize);
        token_type_embeddings = nn.Embedding(config.TypeVocabSize, config.HiddenSize);
        LayerNorm = nn.LayerNorm(config.HiddenSize, eps: config.LayerNormEps);
        dropout = new FastDropout(config.HiddenDropoutProb);
        RegisterComponents();
    }

    /// <param name="inputIds">(B, T) int64</param>
    /// <param name="tokenTypeIds">(B, T) int64</param>
    /// <returns>(B, T, H) fp32</returns>
    public override Tensor forward(Tensor inputIds, Tensor tokenTypeIds)
    {
        long T = inputIds.shape[1];
        var positionIds = arange(T, dtype: ScalarType.Int64, device: inputIds.device);        // (T)
        var embeddings = word_embeddings.call(inputIds)
                         + position_embeddings.call(positionIds)                           // broadcast over B
                         + token_type_embeddings.call(tokenTypeIds);
        return dropout.call(LayerNorm.call(embeddings));
    }
}
