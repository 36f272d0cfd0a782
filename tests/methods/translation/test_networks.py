"""pfrlib.methods.translation.networks: the generator and patch discriminator against CycleGAN's published sizes, DLOW's conditional norm."""

from __future__ import annotations


import pytest
import torch

from pfrlib.methods.translation.networks import (ConditionalInstanceNorm2d, PatchDiscriminator, ResnetGenerator,
                                                count_parameters, patch_receptive_field)


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
