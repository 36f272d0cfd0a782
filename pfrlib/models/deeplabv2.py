"""DeepLab-v2 with a ResNet-101 backbone, laid out exactly as AdaptSegNet's multi-level model.

The paper (Section 3.1) "adopt[s] the same setting as the method in [10]" (AdaptSegNet): a
DeepLab-v2 ResNet-101 whose last two stages keep stride 1 and use dilated convolutions. This
module rebuilds that network so that AdaptSegNet's released weights load key for key
(:func:`pfrlib.models.load_adaptsegnet_weights`) and give the same logits:

* Caffe-style bottleneck (the MSRA ResNet the DeepLab weights come from): the stride sits on the
  *first* 1x1 convolution, the dilation (and padding = dilation) on the 3x3;
* stem ``conv1`` 7x7/2 -> ``bn1`` -> ReLU -> 3x3/2 max-pool with ``ceil_mode=True``;
* ``layer1`` (stride 4), ``layer2`` (stride 8), ``layer3`` dilation 2 and ``layer4`` dilation 4 at
  stride 1: output stride 8. Every stage's first block has a projection shortcut ``downsample``
  (1x1 conv + BN) - in ``layer1`` because 64 != 256 channels;
* ``layer5``: ASPP classifier (dilations 6/12/18/24) on ``layer3`` (1024 channels): the auxiliary
  head of the multi-level model; ``layer6``: the same on ``layer4`` (2048 channels): the main head.

Shapes for a B x 3 x H x W input: stem -> ``ceil((ceil(H/2) + 2 - 3) / 2) + 1`` rows (H=512: 129),
stages: 256 / 512 / 1024 / 2048 channels; ``layer1`` at that size, ``layer2..4`` and the logits at
``floor((rows - 1) / 2) + 1`` (H=512 -> 65, W=1024 -> 129; 720 x 1280 -> 91 x 161).
"""

from __future__ import annotations

from typing import Optional, Sequence

import torch.nn as nn
from torch import Tensor

from pfrlib.models.common import (ASPPClassifier, SegmentationOutput, batchnorm_layer, configure_batchnorm,
    split_param_groups)

__all__ = ["CaffeBottleneck", "DeepLabV2", "RESNET101_LAYERS"]

#: Blocks per stage of ResNet-101 (``layer1..layer4``).
RESNET101_LAYERS: tuple[int, int, int, int] = (3, 4, 23, 3)
#: ASPP dilation rates of DeepLab-v2 (and AdaptSegNet).
ASPP_DILATIONS: tuple[int, ...] = (6, 12, 18, 24)


class CaffeBottleneck(nn.Module):
    """ResNet bottleneck as in the Caffe ResNet / DeepLab-v2 (B x C_in x h x w -> B x 4*planes x h' x w').

    ``conv1`` (1x1, *stride here*) -> ``bn1`` -> ReLU -> ``conv2`` (3x3, dilation d, padding d) ->
    ``bn2`` -> ReLU -> ``conv3`` (1x1, 4*planes) -> ``bn3`` -> (+ shortcut) -> ReLU. torchvision's
    "ResNet v1.5" puts the stride on the 3x3 instead; the weights are not interchangeable.
    """

    expansion = 4

    def __init__(self, inplanes: int, planes: int, stride: int = 1, dilation: int = 1,
                 downsample: Optional[nn.Module] = None, norm_layer=nn.BatchNorm2d) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, kernel_size=1, stride=stride, bias=False)
        self.bn1 = norm_layer(planes)
        self.conv2 = nn.Conv2d(planes, planes, kernel_size=3, padding=dilation, dilation=dilation, bias=False)
        self.bn2 = norm_layer(planes)
        self.conv3 = nn.Conv2d(planes, planes * self.expansion, kernel_size=1, bias=False)
        self.bn3 = norm_layer(planes * self.expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: Tensor) -> Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        shortcut = x if self.downsample is None else self.downsample(x)
        return self.relu(out + shortcut)


class DeepLabV2(nn.Module):
    """DeepLab-v2 ResNet-101, AdaptSegNet's multi-level layout (its ``model/deeplab_multi.py``).

    ``forward(x)``: x is B x 3 x H x W, normalised ``"caffe_bgr"`` (BGR, Caffe means subtracted,
    0..255 scale). Returns :class:`SegmentationOutput` with ``logits`` from ``layer6`` (on
    ``layer4``), ``aux_logits`` from ``layer5`` (on ``layer3``, or ``None`` if not
    ``multi_level``), and ``features = (layer1, layer2, layer3, layer4)`` outputs (stages 2..5:
    256 / 512 / 1024 / 2048 channels; output stride 4, 8, 8, 8). Logits are at output stride 8;
    the losses upsample them.

    Args:
        num_classes: K, the number of output classes.
        multi_level: build the auxiliary head ``layer5`` (AdaptSegNet's multi-level model). With
            ``False`` there is no ``layer5`` module (and no ``layer5.*`` keys).
        aspp_branches: how many of the four ASPP branches each head sums (see
            :class:`~pfrlib.models.common.ASPPClassifier`). Default ``2``: what AdaptSegNet's code
            computes (its classifier returns inside the loop, after adding branch 1 to branch 0).
            The paper follows AdaptSegNet's setting and compares against its numbers, and the
            released AdaptSegNet checkpoints were trained (and evaluate) with this head, so the
            ``paper`` preset keeps 2. ``4`` is the ASPP as the DeepLab-v2 paper describes it.
        bn_mode: ``"adaptsegnet"`` (default; BN affine parameters frozen, batch statistics in
            train mode, as AdaptSegNet), ``"frozen"`` (running statistics even in train mode), or
            ``"train"`` (ordinary BN). See :func:`~pfrlib.models.common.batchnorm_layer`.
        layers: blocks per stage; ``(3, 4, 23, 3)`` is ResNet-101 (``(3, 4, 6, 3)`` gives a
            ResNet-50 layout; tests use ``(1, 1, 1, 1)`` for speed).

    Parameters are initialised as AdaptSegNet does (all conv weights N(0, 0.01), BN weight 1,
    bias 0); load real weights with :func:`pfrlib.models.load_adaptsegnet_weights`.
    """

    normalization = "caffe_bgr"
    #: state_dict prefixes of the classifier heads (the rest is backbone).
    head_prefixes: tuple[str, ...] = ("layer5.", "layer6.")

    def __init__(self, num_classes: int, multi_level: bool = True, aspp_branches: int = 2,
                 bn_mode: str = "adaptsegnet", layers: Sequence[int] = RESNET101_LAYERS) -> None:
        super().__init__()
        if int(num_classes) < 1:
            raise ValueError(f"num_classes: expected a positive integer, got {num_classes!r}")
        if aspp_branches not in (1, 2, 3, 4):
            raise ValueError(f"aspp_branches: expected 1..4 (2: AdaptSegNet's code, 4: the full ASPP), "
                             f"got {aspp_branches!r}")
        if len(layers) != 4 or min(layers) < 1:
            raise ValueError(f"layers: expected four positive block counts, got {tuple(layers)!r}")
        self.num_classes = int(num_classes)
        self.multi_level = bool(multi_level)
        self.aspp_branches = int(aspp_branches)
        self.bn_mode = bn_mode
        norm = batchnorm_layer(bn_mode)

        self.conv1 = nn.Conv2d(3, 64, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = norm(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1, ceil_mode=True)
        self._inplanes = 64
        self.layer1 = self._make_layer(64, layers[0], stride=1, dilation=1, norm=norm)
        self.layer2 = self._make_layer(128, layers[1], stride=2, dilation=1, norm=norm)
        self.layer3 = self._make_layer(256, layers[2], stride=1, dilation=2, norm=norm)
        self.layer4 = self._make_layer(512, layers[3], stride=1, dilation=4, norm=norm)
        self.layer5 = (ASPPClassifier(1024, self.num_classes, ASPP_DILATIONS, aspp_branches)
                       if self.multi_level else None)
        self.layer6 = ASPPClassifier(2048, self.num_classes, ASPP_DILATIONS, aspp_branches)

        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.normal_(m.weight, 0.0, 0.01)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        configure_batchnorm(self, bn_mode)

    def _make_layer(self, planes: int, blocks: int, stride: int, dilation: int, norm) -> nn.Sequential:
        """One ResNet stage; its first block gets the stride and a 1x1-conv + BN projection shortcut."""
        out_planes = planes * CaffeBottleneck.expansion
        downsample = None
        if stride != 1 or self._inplanes != out_planes or dilation in (2, 4):  # AdaptSegNet's condition
            downsample = nn.Sequential(
                nn.Conv2d(self._inplanes, out_planes, kernel_size=1, stride=stride, bias=False),
                norm(out_planes),
            )
        stage = [CaffeBottleneck(self._inplanes, planes, stride, dilation, downsample, norm)]
        self._inplanes = out_planes
        stage += [CaffeBottleneck(out_planes, planes, 1, dilation, None, norm) for _ in range(1, blocks)]
        return nn.Sequential(*stage)

    def forward(self, x: Tensor) -> SegmentationOutput:
        """B x 3 x H x W (``caffe_bgr``) -> logits / aux_logits B x K x h x w, features (stages 2..5)."""
        if x.dim() != 4 or x.shape[1] != 3:
            raise ValueError(f"x: expected a B x 3 x H x W tensor, got shape {tuple(x.shape)}")
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        f2 = self.layer1(x)
        f3 = self.layer2(f2)
        f4 = self.layer3(f3)
        f5 = self.layer4(f4)
        aux = self.layer5(f4) if self.layer5 is not None else None
        return SegmentationOutput(self.layer6(f5), aux, (f2, f3, f4, f5))

    def backbone_modules(self) -> list[nn.Module]:
        """The modules AdaptSegNet's ``get_1x_lr_params_NOscale`` walks: conv1, bn1, layer1-4."""
        return [self.conv1, self.bn1, self.layer1, self.layer2, self.layer3, self.layer4]

    def head_modules(self) -> list[nn.Module]:
        """The classifier heads (``get_10x_lr_params``): layer5 (multi-level only) and layer6."""
        return [m for m in (self.layer5, self.layer6) if m is not None]

    def param_groups(self, lr: float, head_lr_mult: float = 10.0) -> list[dict]:
        """Backbone (conv1, bn1, layer1-4) at ``lr``, heads (layer5, layer6) at ``head_lr_mult * lr``.

        AdaptSegNet's ``optim_parameters``, each tensor listed once; BN parameters are frozen and
        so not listed (``pfrlib.paper.optim`` can also list them the way AdaptSegNet's loop does).
        """
        return split_param_groups(self.backbone_modules(), self.head_modules(), lr, head_lr_mult)

    def extra_repr(self) -> str:
        return (f"num_classes={self.num_classes}, multi_level={self.multi_level}, "
                f"aspp_branches={self.aspp_branches}, bn_mode={self.bn_mode!r}")

