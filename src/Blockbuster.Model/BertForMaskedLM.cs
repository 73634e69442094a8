using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Blockbuster.Model;

/// <summary>
/// transformers' BertForMaskedLM: <c>bert</c> (no pooler) and <c>cls.predictions</c>, whose decoder is tied
/// to the word embeddings. The head runs only on the masked positions: the 30,522-word decoder on every
/// position would cost more than the whole encoder of a small BERT.
/// </summary>
public sealed class BertForMaskedLM : nn.Module<Tensor, Tensor, Tensor, Tensor, Tensor>
{
    public readonly BertModel bert;
    public readonly BertOnlyMLMHead cls;

    public BertConfig Config { get; }

    public BertForMaskedLM(BertConfig config, bool initialize = true) : base(nameof(BertForMaskedLM))
    {
        config.Validate();
        Config = config;
        bert = new BertModel(config, addPoolingLayer: false);
        cls = new BertOnlyMLMHead(config);
        RegisterComponents();
        if (initialize) BertInit.Apply(this, config);
    }

    /// <param name="maskedPositions">(N) int64 indices into the flattened (B·T) positions whose tokens are predicted</param>
    /// <returns>logits (N, vocab) fp32</returns>
    public override Tensor forward(Tensor inputIds, Tensor attentionMask, Tensor tokenTypeIds, Tensor maskedPositions) =>
        Predict(MaskedHidden(inputIds, attentionMask, tokenTypeIds, maskedPositions));

    /// <returns>the encoder's hidden states (N, H) at the masked positions, in the compute dtype under autocast</returns>
    public Tensor MaskedHidden(Tensor inputIds, Tensor attentionMask, Tensor tokenTypeIds, Tensor maskedPositions)
    {
        var hidden = bert.Encode(inputIds, attentionMask, tokenTypeIds);                    // (B, T, H)
        return hidden.reshape(-1, Config.HiddenSize).index_select(0, maskedPositions);       // (N, H)
    }

    /// <param name="maskedHidden">(N, H) from <see cref="MaskedHidden"/>, or some of its rows</param>
    /// <returns>logits (N, vocab) fp32</returns>
    public Tensor Predict(Tensor maskedHidden) => cls.predictions.call(maskedHidden, bert.embeddings.word_embeddings.weight!);
}

/// <summary>transformers' BertOnlyMLMHead: just <c>predictions</c>.</summary>
public sealed class BertOnlyMLMHead : nn.Module
{
    public readonly BertLMPredictionHead predictions;

    public BertOnlyMLMHead(BertConfig config) : base(nameof(BertOnlyMLMHead))
    {
        predictions = new BertLMPredictionHead(config);
        RegisterComponents();
    }
}

/// <summary>transformers' BertLMPredictionHead: transform, then the tied decoder plus its own <c>bias</c>.</summary>
public sealed class BertLMPredictionHead : nn.Module<Tensor, Tensor, Tensor>
{
    public readonly BertPredictionHeadTransform transform;
    public readonly Parameter bias;

    public BertLMPredictionHead(BertConfig config) : base(nameof(BertLMPredictionHead))
    {
        transform = new BertPredictionHeadTransform(config);
        bias = nn.Parameter(zeros(config.VocabSize));
        RegisterComponents();
    }

    /// <param name="hidden">(N, H)</param> <param name="wordEmbeddings">(V, H), the tied decoder weight</param>
    /// <returns>(N, V) fp32</returns>
    public override Tensor forward(Tensor hidden, Tensor wordEmbeddings)
    {
        var h = transform.call(hidden);
        var logits = Autocast.Dtype is { } dtype
            ? nn.functional.linear(h.to(dtype), wordEmbeddings.to(dtype), bias.to(dtype))
            : nn.functional.linear(h, wordEmbeddings, bias);
        return Autocast.Float(logits);
    }
}

/// <summary>transformers' BertPredictionHeadTransform: dense, activation, LayerNorm (in fp32).</summary>
public sealed class BertPredictionHeadTransform : nn.Module<Tensor, Tensor>
{
    public readonly Linear dense;
    public readonly LayerNorm LayerNorm;
    readonly string activation;

    public BertPredictionHeadTransform(BertConfig config) : base(nameof(BertPredictionHeadTransform))
    {
        dense = nn.Linear(config.HiddenSize, config.HiddenSize);
        LayerNorm = nn.LayerNorm(config.HiddenSize, eps: config.LayerNormEps);
        activation = config.HiddenAct;
        RegisterComponents();
    }

    public override Tensor forward(Tensor hidden) => LayerNorm.call(Autocast.Float(Activations.Apply(activation, Autocast.Linear(dense, hidden))));
}
