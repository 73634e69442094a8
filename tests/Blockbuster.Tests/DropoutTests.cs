using Blockbuster.Model;
using static TorchSharp.torch;

namespace Blockbuster.Tests;

[Collection("torch-global-state")]
public class DropoutTests
{
    [Theory]
    [InlineData(ScalarType.Float32)]
    [InlineData(ScalarType.BFloat16)]
    public void Drops_p_of_the_values_and_keeps_the_mean(ScalarType dtype)
    {
        var x = ones(1000, 1001).to(dtype);   // odd size: exercises the tail
        var y = FastDropout.Apply(x, 0.1, new DropoutRandom(5)).to(ScalarType.Float32);
        double dropped = (y == 0).to(ScalarType.Float32).mean().item<float>();
        Assert.InRange(dropped, 0.098, 0.102);
        Assert.InRange(y.mean().item<float>(), 0.997, 1.003);
        Assert.InRange(y.max().item<float>(), 1.10, 1.12);
    }

    [Fact]
    public void Same_seed_same_masks_and_state_round_trips()
    {
        var a = new DropoutRandom(9);
        var b = new DropoutRandom(9);
        var x = ones(64, 64);
        Assert.True(FastDropout.Apply(x, 0.3, a).allclose(FastDropout.Apply(x, 0.3, b), rtol: 0, atol: 0));
        var state = a.GetState();
        var first = FastDropout.Apply(x, 0.3, a);
        var c = new DropoutRandom(0);
        c.SetState(state);
        Assert.True(FastDropout.Apply(x, 0.3, c).allclose(first, rtol: 0, atol: 0));
        Assert.False(FastDropout.Apply(x, 0.3, a).allclose(first, rtol: 0, atol: 0));
    }

    [Fact]
    public void Keep_mask_is_exact_zero_one_in_half_types()
    {
        var mask = FastDropout.KeepMask([300, 301], 0.25, ScalarType.BFloat16, CPU, new DropoutRandom(2)).to(ScalarType.Float32);
        Assert.Equal(0f, ((mask != 0) & (mask != 1)).sum().item<long>());
        Assert.InRange(mask.mean().item<float>(), 0.74, 0.76);
        // Gradients flow through the mask: d(sum(dropout(x)))/dx is the mask itself (0 or 1/(1-p)).
        var x = ones(1000, requires_grad: true);
        var y = FastDropout.Apply(x, 0.5, new DropoutRandom(1));
        y.sum().backward();
        Assert.True(x.grad!.allclose(y.detach(), rtol: 0, atol: 0));
        Assert.InRange(x.grad!.eq(0).sum().item<long>(), 400, 600);
        var eval = new FastDropout(0.5);
        eval.eval();
        Assert.True(eval.call(ones(10)).allclose(ones(10), rtol: 0, atol: 0));
    }
}
