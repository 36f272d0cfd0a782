"""Dilated torchvision ResNets (18 / 50 / 101) with a DeepLab-v2-style ASPP head.

An alternative backbone to :class:`~pfrlib.models.DeepLabV2` for experiments that want
torchvision's ImageNet weights (``normalization = "imagenet"``) instead of the Caffe/COCO
initialisation. Like DeepLab-v2 the output stride is 8: ``layer3`` and ``layer4`` keep stride 1
and dilate their 3x3 convolutions by 2 and 4.

* ResNet-50/101: torchvision's own ``replace_stride_with_dilation=[False, True, True]``. As in
  torchvision, the first block of a dilated stage runs at the previous dilation (1 in
  ``layer3``, 2 in ``layer4``) and the others at the new one (2, 4). Note torchvision's
  bottleneck strides its 3x3 convolution ("ResNet v1.5"), unlike the Caffe ResNet of DeepLab-v2.
* ResNet-18: torchvision's ``BasicBlock`` refuses dilation, so the network is built undilated
  and then rewired in place (:func:`dilate_basic_stage`) with the *same* convention: strides of
  ``layer3``/``layer4`` (first 3x3 conv and the 1x1 shortcut) set to 1, both 3x3 convolutions of
  the first block at the previous dilation, those of the later blocks at 2 (``layer3``) / 4
  (``layer4``), padding = dilation. Weights are unaffected (a dilated conv has the same kernel),
  so ImageNet weights load unchanged.

Heads: ``classifier`` (main, on ``layer4``) and ``aux_classifier`` (on ``layer3``, if
``multi_level``), each an :class:`~pfrlib.models.common.ASPPClassifier` with dilations
6/12/18/24 summing all four branches by default.

Weights are never downloaded: ``weights="IMAGENET1K_V1"`` (a torchvision weights-enum name)
loads the file only if it already sits in the torch hub cache (``$TORCH_HOME/hub/checkpoints``),
``weights_path=`` loads a local torchvision ResNet state_dict (``fc.*`` is ignored).

torchvision is imported where a network is built, not with this module: it loads
``torch._dynamo``, about 1.5 s of CPU, which a process that never builds one should not pay.
"""

from __future__ import annotations

import os
from typing import Optional, Union

import torch
import torch.nn as nn
from torch import Tensor

from pfrlib.models.common import (ASPPClassifier, SegmentationOutput, batchnorm_layer, configure_batchnorm,
    split_param_groups)
from pfrlib.models.weights import WeightsMismatchError, read_state_dict

__all__ = ["DilatedResNet", "dilate_basic_stage", "torchvision_weights_file"]

_CHANNELS = {18: (64, 128, 256, 512), 50: (256, 512, 1024, 2048), 101: (256, 512, 1024, 2048)}


def dilate_basic_stage(stage: nn.Sequential, first_dilation: int, dilation: int) -> None:
    """Turn a strided BasicBlock stage into a stride-1 dilated one, in place (weights kept).

    The strided 3x3 conv (``conv1`` of block 0) and the 1x1 shortcut get stride 1; block 0's
    3x3 convolutions use ``first_dilation``, the later blocks' use ``dilation`` (padding =
    dilation keeps the size). Spatial size in = size out.
    """
    for i, block in enumerate(stage):
        d = first_dilation if i == 0 else dilation
        for conv in (block.conv1, block.conv2):
            conv.stride, conv.dilation, conv.padding = (1, 1), (d, d), (d, d)
        if block.downsample is not None:
            block.downsample[0].stride = (1, 1)
        block.stride = 1


def torchvision_weights_file(depth: int, weights: str) -> str:
    """Where torchvision would cache ``ResNet{depth}_Weights.{weights}`` (it is not downloaded here)."""
    import torchvision  # deferred: its import costs every process about 1.5 s of CPU

    try:
        enum = torchvision.models.get_weight(f"ResNet{depth}_Weights.{weights}")
    except (ValueError, KeyError, AttributeError) as err:
        raise ValueError(f"weights: {weights!r} is not a torchvision ResNet{depth}_Weights name "
                         f"(e.g. 'IMAGENET1K_V1')") from err
    return os.path.join(torch.hub.get_dir(), "checkpoints", os.path.basename(enum.url))


class DilatedResNet(nn.Module):
    """torchvision ResNet-18/50/101 at output stride 8 with ASPP heads (registry names ``dilated_r*``).

    ``forward(x)``: x is B x 3 x H x W, normalised ``"imagenet"``; returns
    :class:`SegmentationOutput` with logits B x K x H/8 x W/8 (rounded up as strided convs do),
    ``aux_logits`` from ``layer3`` (or ``None``), and features ``layer1..layer4`` (stages 2..5;
    ResNet-18: 64/128/256/512 channels, ResNet-50/101: 256/512/1024/2048; output stride 4, 8, 8, 8).

    Args:
        num_classes: K.
        depth: 18, 50 or 101.
        multi_level: build the auxiliary head on ``layer3``.
        aspp_branches: ASPP branches summed per head (default 4, the full DeepLab-v2 ASPP).
        bn_mode: ``"adaptsegnet"`` (default), ``"frozen"`` or ``"train"``
            (:func:`~pfrlib.models.common.batchnorm_layer`).
        weights: torchvision weights-enum name, e.g. ``"IMAGENET1K_V1"``; loaded from the torch
            hub cache only (``FileNotFoundError`` naming the expected path otherwise).
        weights_path: a local torchvision ResNet state_dict file (alternative to ``weights``).
    """

    normalization = "imagenet"
    head_prefixes: tuple[str, ...] = ("classifier.", "aux_classifier.")

    def __init__(self, num_classes: int, depth: int = 50, multi_level: bool = True, aspp_branches: int = 4,
                 bn_mode: str = "adaptsegnet", weights: Optional[str] = None,
                 weights_path: Optional[Union[str, os.PathLike]] = None) -> None:
        super().__init__()
        if int(num_classes) < 1:
            raise ValueError(f"num_classes: expected a positive integer, got {num_classes!r}")
        if depth not in _CHANNELS:
            raise ValueError(f"depth: expected one of {sorted(_CHANNELS)}, got {depth!r}")
        if weights is not None and weights_path is not None:
            raise ValueError("weights / weights_path: give at most one of them")
        self.num_classes = int(num_classes)
        self.depth = depth
        self.multi_level = bool(multi_level)
        self.bn_mode = bn_mode
        norm = batchnorm_layer(bn_mode)
        import torchvision  # deferred: its import costs every process about 1.5 s of CPU

        builder = getattr(torchvision.models, f"resnet{depth}")
        if depth == 18:
            net = builder(weights=None, norm_layer=norm)
            dilate_basic_stage(net.layer3, 1, 2)
            dilate_basic_stage(net.layer4, 2, 4)
        else:
            net = builder(weights=None, norm_layer=norm, replace_stride_with_dilation=[False, True, True])
        self.conv1, self.bn1, self.relu, self.maxpool = net.conv1, net.bn1, net.relu, net.maxpool
        self.layer1, self.layer2, self.layer3, self.layer4 = net.layer1, net.layer2, net.layer3, net.layer4
        c2, c3, c4, c5 = _CHANNELS[depth]
        self.stage_channels = (c2, c3, c4, c5)
        self.classifier = ASPPClassifier(c5, self.num_classes, (6, 12, 18, 24), aspp_branches)
        self.aux_classifier = (ASPPClassifier(c4, self.num_classes, (6, 12, 18, 24), aspp_branches)
                               if self.multi_level else None)
        if weights is not None:
            path = torchvision_weights_file(depth, weights)
            if not os.path.isfile(path):
                raise FileNotFoundError(
                    f"weights={weights!r}: {path} is not in the torch hub cache and pfrlib never downloads; "
                    f"put the file there or pass weights_path=")
            self.load_backbone(path)
        elif weights_path is not None:
            self.load_backbone(weights_path)
        configure_batchnorm(self, bn_mode)

    def backbone_modules(self) -> list[nn.Module]:
        """conv1, bn1, layer1-4 (the backbone, at the base learning rate)."""
        return [self.conv1, self.bn1, self.layer1, self.layer2, self.layer3, self.layer4]

    def head_modules(self) -> list[nn.Module]:
        """The classifier heads (main, and auxiliary when multi-level)."""
        return [m for m in (self.classifier, self.aux_classifier) if m is not None]

    def load_backbone(self, path_or_state_dict) -> list[str]:
        """Load a torchvision ResNet state_dict into the backbone (``fc.*`` ignored); returns loaded keys.

        Raises ``WeightsMismatchError`` naming missing / unexpected keys and shape mismatches.
        """
        sd, source = read_state_dict(path_or_state_dict)
        sd = {k: v for k, v in sd.items() if not k.startswith("fc.")}
        target = {k: v for k, v in self.state_dict().items() if not k.startswith(self.head_prefixes)}
        problems = [f"unexpected key {k}" for k in sd if k not in target]
        problems += [f"missing key {k}" for k in target if k not in sd and not k.endswith("num_batches_tracked")]
        problems += [f"{k}: file {list(v.shape)} vs model {list(target[k].shape)}"
                     for k, v in sd.items() if k in target and v.shape != target[k].shape]
        if problems:
            raise WeightsMismatchError(f"{source} is not a torchvision ResNet-{self.depth} state_dict "
                                       f"({len(problems)} problem(s)):\n  " + "\n  ".join(problems[:25]))
        with torch.no_grad():
            for k, v in sd.items():
                target[k].copy_(v)
        return list(sd)

    def forward(self, x: Tensor) -> SegmentationOutput:
        """B x 3 x H x W (``imagenet``) -> logits / aux_logits B x K x h x w, features (stages 2..5)."""
        if x.dim() != 4 or x.shape[1] != 3:
            raise ValueError(f"x: expected a B x 3 x H x W tensor, got shape {tuple(x.shape)}")
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        f2 = self.layer1(x)
        f3 = self.layer2(f2)
        f4 = self.layer3(f3)
        f5 = self.layer4(f4)
        aux = self.aux_classifier(f4) if self.aux_classifier is not None else None
        return SegmentationOutput(self.classifier(f5), aux, (f2, f3, f4, f5))

    def param_groups(self, lr: float, head_lr_mult: float = 10.0) -> list[dict]:
        """Backbone (conv1, bn1, layer1-4) at ``lr``, heads at ``head_lr_mult * lr`` (trainable params only)."""
        return split_param_groups(self.backbone_modules(), self.head_modules(), lr, head_lr_mult)

    def extra_repr(self) -> str:
        return (f"depth={self.depth}, num_classes={self.num_classes}, multi_level={self.multi_level}, "
                f"bn_mode={self.bn_mode!r}")

