using Blockbuster.Training.Evaluation;

namespace Blockbuster.Tests;

public class MetricsTests
{
    [Fact]
    public void Matches_a_hand_computed_confusion_matrix()
    {
        // true:      1    1    1    1    0    0    0    0    0    0
        // p(pos):  .9   .8   .3   .6   .2   .7   .1   .4   .55  .05
        // predicted: 1    1    0    1    0    1    0    0    1    0  → TP 3, FN 1, FP 2, TN 4
        int[] labels = [1, 1, 1, 1, 0, 0, 0, 0, 0, 0];
        double[] p = [0.9, 0.8, 0.3, 0.6, 0.2, 0.7, 0.1, 0.4, 0.55, 0.05];
        var m = ClassificationMetrics.Compute(labels, p);
        Assert.Equal(0.7, m.Accuracy, 12);
        Assert.Equal(3.0 / 5, m.Precision, 12);
        Assert.Equal(3.0 / 4, m.Recall, 12);
        Assert.Equal(2 * 0.6 * 0.75 / 1.35, m.F1, 12);
        Assert.Equal([[4L, 2L], [1L, 3L]], m.ConfusionMatrix);
        Assert.Equal([6L, 4L], m.Support);
        // AUC by counting: of 24 (positive, negative) pairs the positive scores higher in 6 + 6 + 3 + 5 = 20.
        Assert.Equal(20.0 / 24, m.RocAuc!.Value, 12);
        double logLoss = -(Math.Log(.9) + Math.Log(.8) + Math.Log(.3) + Math.Log(.6) + Math.Log(.8) + Math.Log(.3) + Math.Log(.9) + Math.Log(.6) + Math.Log(.45) + Math.Log(.95)) / 10;
        Assert.Equal(logLoss, m.LogLoss, 12);
    }

    [Fact]
    public void A_class_never_predicted_gives_zero_not_nan()
    {
        var m = ClassificationMetrics.Compute([1, 0, 1, 0], [0.1, 0.2, 0.3, 0.4]);   // always negative
        Assert.Equal(0.5, m.Accuracy);
        Assert.Equal(0.0, m.Precision);
        Assert.Equal(0.0, m.Recall);
        Assert.Equal(0.0, m.F1);
        Assert.Equal([[2L, 0L], [2L, 0L]], m.ConfusionMatrix);
        var onlyNegatives = ClassificationMetrics.Compute([0, 0], [0.9, 0.1]);
        Assert.Null(onlyNegatives.RocAuc);
        Assert.Equal(0.0, onlyNegatives.Recall);
        Assert.False(double.IsNaN(onlyNegatives.F1));
        Assert.True(double.IsFinite(ClassificationMetrics.Compute([1], [0.0]).LogLoss));   // clipped like scikit-learn
    }

    [Fact]
    public void Ties_get_average_ranks_in_auc()
    {
        Assert.Equal(0.5, ClassificationMetrics.ComputeRocAuc([1, 0], [0.5, 0.5]));
        // pairs: (.5,.5) tie = ½, (.5,.1) = 1, (.9,.5) = 1, (.9,.1) = 1 → 3.5 / 4
        Assert.Equal(0.875, ClassificationMetrics.ComputeRocAuc([1, 0, 1, 0], [0.5, 0.5, 0.9, 0.1]));
    }
}
