"""pfrlib.models.small: the small CPU model's size and shapes."""

from __future__ import annotations


import torch
import torch.nn as nn
import torch.nn.functional as F

from pfrlib.models.common import count_parameters, feature_shapes
from pfrlib.models.small import SmallSegNet



def test_small_model_size_and_shapes():
    model = SmallSegNet(19)
    assert 150_000 <= count_parameters(model) <= 600_000
    assert not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())
    assert feature_shapes(model, (8, 3, 64, 128)) == [(8, 16, 16, 32), (8, 32, 8, 16), (8, 64, 8, 16),
                                                      (8, 64, 8, 16), (8, 19, 8, 16), (8, 19, 8, 16)]
    # trains: a few SGD steps on a fixed batch lower the loss
    torch.manual_seed(0)
    x, y = torch.randn(4, 3, 64, 128), torch.randint(0, 19, (4, 8, 16))
    opt = torch.optim.SGD(model.param_groups(3e-3), lr=3e-3, momentum=0.9)  # heads at 10x
    losses = []
    for _ in range(4):
        out = model(x)
        loss = F.cross_entropy(out.logits, y) + 0.1 * F.cross_entropy(out.aux_logits, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]
