using TorchSharp;
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
        word_embeddings = UninitializedEmbedding(config.VocabSize, config.HiddenSize, config.PadTokenId);
        position_embeddings = nn.Embedding(config.MaxPositionEmbeddings, config.HiddenSize);
        token_type_embeddings = nn.Embedding(config.TypeVocabSize, config.HiddenSize);
        LayerNorm = nn.LayerNorm(config.HiddenSize, eps: config.LayerNormEps);
        dropout = new FastDropout(config.HiddenDropoutProb);
        RegisterComponents();
    }

    /// <summary>
    /// nn.Embedding(V, H, padding_idx) without its normal_ init: the largest tensor (V × H, 3.9M floats in bert-tiny)
    /// is always filled afterwards, by BertInit or by a checkpoint, and that init alone is ~18 ms of a cold
    /// <c>predict</c>. libtorch's Embedding (and from_pretrained) always initialise, so a 1-row module gets the
    /// uninitialised weight set on it; forward and padding_idx read only the weight it holds.
    /// </summary>
    static Embedding UninitializedEmbedding(long vocabSize, long hiddenSize, long paddingIdx)
    {
        var embedding = nn.Embedding(paddingIdx + 1, hiddenSize, padding_idx: paddingIdx);
        embedding.weight = new TorchSharp.Modules.Parameter(empty(vocabSize, hiddenSize));
        return embedding;
    }

    /// <param name="inputIds">(B, T) int64</param>
    /// <param name="tokenTypeIds">(B, T) int64</param>
    /// <returns>(B, T, H) fp32</returns>
    public override Tensor forward(Tensor inputIds, Tensor tokenTypeIds)
    {
        long T = inputIds.shape[1];
        using var length = T.ToScalar();                                                       // alive through the call (see Scalars)
        var positionIds = arange(Scalars.Zero, length, Scalars.One, ScalarType.Int64, inputIds.device);   // (T)
        var embeddings = word_embeddings.call(inputIds)
                         .add(position_embeddings.call(positionIds), Scalars.One)          // broadcast over B
                         .add(token_type_embeddings.call(tokenTypeIds), Scalars.One);
        return dropout.call(LayerNorm.call(embeddings));
    }
}
