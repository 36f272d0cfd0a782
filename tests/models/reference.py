"""An independent *functional* re-implementation of AdaptSegNet's multi-level DeepLab-v2 for the model tests:
plain ``torch.nn.functional`` calls (``reference_forward``) driven by a state dict in AdaptSegNet's key
layout, built from the architecture description (``adaptsegnet_key_shapes``), not from the model under
test; and ``tiny``, a DeepLabV2 with one block per stage."""

from __future__ import annotations

import math
from collections import OrderedDict

import torch
import torch.nn.functional as F

from pfrlib.models.common import SegmentationOutput
from pfrlib.models.deeplabv2 import DeepLabV2

R101 = (3, 4, 23, 3)
TINY = (1, 1, 1, 1)
# (stage, planes, stride, dilation) of AdaptSegNet's layer1..layer4
STAGES = ((1, 64, 1, 1), (2, 128, 2, 1), (3, 256, 1, 2), (4, 512, 1, 4))


def adaptsegnet_key_shapes(num_classes: int, layers=R101, multi_level: bool = True,
                           with_nbt: bool = True) -> "OrderedDict[str, tuple]":
    """AdaptSegNet's ``ResNetMulti`` state_dict layout (key -> shape), from the architecture text."""
    out: OrderedDict[str, tuple] = OrderedDict()

    def bn(prefix: str, c: int) -> None:
        out[f"{prefix}.weight"] = (c,)
        out[f"{prefix}.bias"] = (c,)
        out[f"{prefix}.running_mean"] = (c,)
        out[f"{prefix}.running_var"] = (c,)
        if with_nbt:
            out[f"{prefix}.num_batches_tracked"] = ()

    out["conv1.weight"] = (64, 3, 7, 7)
    bn("bn1", 64)
    cin = 64
    for (stage, planes, _stride, _dil), n in zip(STAGES, layers):
        for b in range(n):
            p = f"layer{stage}.{b}"
            out[f"{p}.conv1.weight"] = (planes, cin, 1, 1)
            bn(f"{p}.bn1", planes)
            out[f"{p}.conv2.weight"] = (planes, planes, 3, 3)
            bn(f"{p}.bn2", planes)
            out[f"{p}.conv3.weight"] = (4 * planes, planes, 1, 1)
            bn(f"{p}.bn3", 4 * planes)
            if b == 0:
                out[f"{p}.downsample.0.weight"] = (4 * planes, cin, 1, 1)
                bn(f"{p}.downsample.1", 4 * planes)
            cin = 4 * planes
    for head, c in (("layer5", 1024), ("layer6", 2048)):
        if head == "layer5" and not multi_level:
            continue
        for i in range(4):
            out[f"{head}.conv2d_list.{i}.weight"] = (num_classes, c, 3, 3)
            out[f"{head}.conv2d_list.{i}.bias"] = (num_classes,)
    return out


def seeded_state_dict(shapes, seed: int = 0) -> "OrderedDict[str, torch.Tensor]":
    """Random but well-scaled tensors for a key -> shape layout (activations stay O(1))."""
    g = torch.Generator().manual_seed(seed)
    sd: OrderedDict[str, torch.Tensor] = OrderedDict()
    for k, shape in shapes.items():
        if k.endswith("num_batches_tracked"):
            sd[k] = torch.tensor(0)
        elif k.endswith("running_var"):
            sd[k] = torch.rand(shape, generator=g) + 0.5
        elif k.endswith("running_mean") or (k.endswith("bias")):
            sd[k] = 0.1 * torch.randn(shape, generator=g)
        elif len(shape) == 1:  # BN weight
            sd[k] = 0.5 + 0.5 * torch.rand(shape, generator=g)
        else:  # conv weight
            fan_in = shape[1] * shape[2] * shape[3]
            sd[k] = torch.randn(shape, generator=g) / math.sqrt(fan_in)
    return sd


def reference_forward(sd, x, aspp_branches: int = 2, layers=R101):
    """AdaptSegNet's DeepLab-v2 (eval mode) with torch.nn.functional only -> (aux, main, features)."""

    def bn(t, p):
        return F.batch_norm(t, sd[p + ".running_mean"], sd[p + ".running_var"], sd[p + ".weight"],
                            sd[p + ".bias"], training=False, eps=1e-5)

    h = F.relu(bn(F.conv2d(x, sd["conv1.weight"], stride=2, padding=3), "bn1"))
    h = F.max_pool2d(h, kernel_size=3, stride=2, padding=1, ceil_mode=True)
    feats = []
    for (stage, _planes, stride, dil), n in zip(STAGES, layers):
        for b in range(n):
            p = f"layer{stage}.{b}"
            s = stride if b == 0 else 1
            y = F.relu(bn(F.conv2d(h, sd[p + ".conv1.weight"], stride=s), p + ".bn1"))
            y = F.relu(bn(F.conv2d(y, sd[p + ".conv2.weight"], padding=dil, dilation=dil), p + ".bn2"))
            y = bn(F.conv2d(y, sd[p + ".conv3.weight"]), p + ".bn3")
            short = bn(F.conv2d(h, sd[p + ".downsample.0.weight"], stride=s), p + ".downsample.1") if b == 0 else h
            h = F.relu(y + short)
        feats.append(h)

    def head(t, name):
        return sum(F.conv2d(t, sd[f"{name}.conv2d_list.{i}.weight"], sd[f"{name}.conv2d_list.{i}.bias"],
                            padding=6 * (i + 1), dilation=6 * (i + 1)) for i in range(aspp_branches))

    return head(feats[2], "layer5"), head(feats[3], "layer6"), feats


def tiny(num_classes=19, **kw) -> DeepLabV2:
    return DeepLabV2(num_classes, layers=TINY, **kw)


def check_output(out, k, batch, shapes_hw, channels):
    assert isinstance(out, SegmentationOutput)
    assert len(out.features) == 4
    for f, hw, c in zip(out.features, shapes_hw[:4], channels):
        assert tuple(f.shape) == (batch, c, *hw)
    assert tuple(out.logits.shape) == (batch, k, *shapes_hw[4])
    assert out.aux_logits is not None and out.aux_logits.shape == out.logits.shape
    assert torch.isfinite(out.logits).all()
