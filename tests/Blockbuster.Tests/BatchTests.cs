using Blockbuster.Training.Data;
using static TorchSharp.torch;

namespace Blockbuster.Tests;

[Collection("torch-global-state")]
public class BatchTests
{
    [Fact]
    public void Pads_to_the_longest_member_rounded_to_32_within_max_length()
    {
        var batch = Batch.Collate([[2, 7, 3], [2, 7, 8, 9, 3]], [1, 0], padId: 0, CPU);
        Assert.Equal([2L, 32L], batch.InputIds.shape);
        Assert.Equal(8, batch.Tokens);
        Assert.Equal(new long[] { 1, 1, 1, 0, 0 }, batch.AttentionMask[0, ..5].data<long>().ToArray());
        Assert.Equal(new long[] { 2, 7, 3, 0 }, batch.InputIds[0, ..4].data<long>().ToArray());
        Assert.Equal(0L, batch.TokenTypeIds.sum().item<long>());
        Assert.Equal(new long[] { 1, 0 }, batch.Labels!.data<long>().ToArray());

        Assert.Equal(40L, Batch.Collate([Enumerable.Range(0, 35).ToArray()], null, 0, CPU, maxLength: 40).InputIds.shape[1]);
        Assert.Equal(64L, Batch.Collate([Enumerable.Range(0, 33).ToArray()], null, 0, CPU).InputIds.shape[1]);
        Assert.Equal(32L, Batch.Collate([Enumerable.Range(0, 32).ToArray()], null, 0, CPU).InputIds.shape[1]);
        Assert.Equal(5L, Batch.Collate([[1, 2, 3, 4, 5]], null, 0, CPU, maxLength: 5).InputIds.shape[1]);
    }
}
