"""pfrlib.methods.translation.networks: the generator and patch discriminator against CycleGAN's published sizes, DLOW's
conditional norm, the upsamplers against a checkerboard."""

from __future__ import annotations


import pytest
import torch

from pfrlib.methods.translation.networks import (UPSAMPLINGS, ConditionalInstanceNorm2d, PatchDiscriminator,
                                                ResnetGenerator, count_parameters, patch_receptive_field, upsampler)


def test_networks_have_cyclegans_published_sizes():
    # CycleGAN's code prints 11.378 M parameters for resnet_9blocks (ngf 64) and 2.765 M for the
    # 70x70 PatchGAN ("basic", ndf 64)
    assert round(count_parameters(ResnetGenerator(64, 9)) / 1e6, 3) == 11.378
    assert round(count_parameters(PatchDiscriminator(64, 3)) / 1e6, 3) == 2.765
    assert patch_receptive_field(3) == 70 and patch_receptive_field(1) == 16
    x = torch.randn(2, 3, 32, 64)
    assert ResnetGenerator(8, 1).eval()(x).shape == x.shape
    with pytest.raises(ValueError, match="divisible by 4"):
        ResnetGenerator(8, 1)(torch.randn(1, 3, 30, 64))


def test_conditional_norm_starts_as_instance_norm_and_follows_z():
    torch.manual_seed(0)
    g = ResnetGenerator(8, 1, norm="conditional")
    x = torch.randn(2, 3, 16, 16)
    assert torch.allclose(g(x, torch.zeros(2)), g(x, torch.ones(2)))  # zero-initialised affine maps
    for m in g.modules():
        if isinstance(m, ConditionalInstanceNorm2d):
            torch.nn.init.normal_(m.gamma.weight)
    assert not torch.allclose(g(x, torch.zeros(2)), g(x, torch.ones(2)))
    with pytest.raises(ValueError, match="needs a condition"):
        g(x)


@pytest.mark.parametrize("kind", UPSAMPLINGS)
def test_resize_convolution_draws_no_checkerboard_on_a_constant_input(kind):
    """Odena et al. 2016: a transposed convolution of stride 2 and kernel 3 gives each output pixel
    1, 2 or 4 kernel taps by the parity of its row and column, so a constant input comes out as a
    periodic pattern; a resize then a convolution gives every pixel the same taps (constant out)."""
    torch.manual_seed(0)
    up = upsampler(kind, 4, 3)
    with torch.no_grad():
        for p in up.parameters():
            torch.nn.init.uniform_(p, 0.1, 1.0)  # positive weights: a pattern cannot cancel by chance
        out = up(torch.ones(1, 4, 8, 8))
    assert out.shape == (1, 3, 16, 16)
    interior = out[..., 1:-1, 1:-1]  # away from the border, where padding differs anyway
    variance = interior.var(dim=(2, 3)).max().item()
    if kind == "transposed":
        assert variance > 1e-2
        assert not torch.allclose(interior[..., 0::2, 0::2], interior[..., 1::2, 1::2])  # the checkerboard
    else:
        assert variance < 1e-10


def test_generator_upsamples_by_resize_convolution_unless_asked():
    assert not any(isinstance(m, torch.nn.ConvTranspose2d) for m in ResnetGenerator(8, 1).modules())
    cyclegan = ResnetGenerator(8, 1, upsampling="transposed")
    assert sum(isinstance(m, torch.nn.ConvTranspose2d) for m in cyclegan.modules()) == 2
    assert count_parameters(cyclegan) == count_parameters(ResnetGenerator(8, 1))  # same 3x3 kernels
    with pytest.raises(ValueError, match="gen_upsampling"):
        ResnetGenerator(8, 1, upsampling="pixelshuffle")
