"""pfrlib.models.discriminator: the fully convolutional output-space discriminator."""

from __future__ import annotations


import pytest
import torch
import torch.nn as nn

from pfrlib.models.discriminator import FCDiscriminator



def test_fc_discriminator():
    d = FCDiscriminator(19, ndf=8)
    keys = [f"{n}.{t}" for n in ("conv1", "conv2", "conv3", "conv4", "classifier") for t in ("weight", "bias")]
    assert list(d.state_dict()) == keys
    assert FCDiscriminator(19).conv4.weight.shape == (512, 256, 4, 4)
    assert d.classifier.weight.shape == (1, 64, 4, 4)
    x = torch.softmax(torch.randn(2, 19, 64, 128), dim=1)
    out = d(x)
    assert out.shape == (2, 1, 2, 4)
    with torch.no_grad():
        d.classifier.bias.fill_(-5.0)
    assert (d(x) < 0).all()  # raw logits: no sigmoid
    assert d.leaky_relu.negative_slope == 0.2
    assert not any(isinstance(m, (nn.BatchNorm2d, nn.InstanceNorm2d, nn.Sigmoid)) for m in d.modules())
    with pytest.raises(ValueError, match="x: expected"):
        d(torch.zeros(1, 5, 64, 64))
    with pytest.raises(ValueError, match="32 x 32"):
        d(torch.zeros(1, 19, 8, 16))
