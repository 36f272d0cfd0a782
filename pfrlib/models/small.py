"""A small residual segmentation network for the CPU teaching benchmark (registry name ``"small"``).

It mirrors DeepLab-v2's shape so that everything PFR does to a ResNet-101 can be watched on two
CPU cores in minutes:

* a stem of two 3x3/2 convolutions (stride 4), then four stages standing in for ResNet stages
  2..5 (``layer1..layer4``): stride 4, stride 8, stride 8 with dilation 2, stride 8 with
  dilation 4 - output stride 8, dilated last two stages, exactly like DeepLab-v2;
* residual basic blocks (two 3x3 convolutions, projection shortcut when the width or stride
  changes);
* GroupNorm instead of BatchNorm: BatchNorm's batch statistics silently adapt to whatever batch
  they see (a target batch normalises itself towards the source statistics), which muddles an
  experiment about *explicit* feature alignment; GroupNorm normalises each image on its own.
  Groups = ``min(8, C // 4)`` (4 channels per group at least);
* a DeepLab-v2-style ASPP head (summed dilated 3x3 convolutions, dilations 1/2/4 - the map is
  only 8 x 16 at 64 x 128 input, so DeepLab's 6..24 would mostly see padding) on stage 5, and the
  same auxiliary head on stage 4 when ``multi_level``.

Input: ``normalization = "unit"``, i.e. ``(x / 255 - 0.5) / 0.5`` in RGB. With the default widths
(16, 32, 64, 64) and 19 classes the model has ~218k parameters (~185k without the auxiliary head);
a batch of 8 at 64 x 128 takes ~25-30 ms forward + backward on two CPU cores.

Learning rates: trained from scratch, the heads diverge under SGD (momentum 0.9) at lr 1e-2 with
the 10x head rate of :meth:`SmallSegNet.param_groups`; use lr <= 3e-3 with 10x, or
``head_lr_mult=1`` (the ``cpu`` preset: Adam, lr 2e-3, ``head_lr_mult=1``).
"""

from __future__ import annotations

from typing import Sequence

import torch.nn as nn
from torch import Tensor

from pfrlib.models.common import ASPPClassifier, SegmentationOutput, split_param_groups

__all__ = ["SmallSegNet", "ResidualBlock", "group_norm"]


def group_norm(channels: int) -> nn.GroupNorm:
    """GroupNorm with ``min(8, channels // 4)`` groups (at least one)."""
    return nn.GroupNorm(max(1, min(8, channels // 4)), channels)


def conv3x3(cin: int, cout: int, stride: int = 1, dilation: int = 1) -> nn.Conv2d:
    """3x3 convolution, padding = dilation (size-preserving at stride 1), no bias (a norm follows)."""
    return nn.Conv2d(cin, cout, 3, stride=stride, padding=dilation, dilation=dilation, bias=False)


class ResidualBlock(nn.Module):
    """Basic residual block: conv3x3 -> GN -> ReLU -> conv3x3 -> GN, + shortcut, ReLU.

    B x C_in x h x w -> B x C_out x h/stride x w/stride. The shortcut is a 1x1 conv + GN when
    the width or stride changes. ``dilation`` applies to both 3x3 convolutions.
    """

    def __init__(self, cin: int, cout: int, stride: int = 1, dilation: int = 1) -> None:
        super().__init__()
        self.conv1 = conv3x3(cin, cout, stride, dilation)
        self.norm1 = group_norm(cout)
        self.conv2 = conv3x3(cout, cout, 1, dilation)
        self.norm2 = group_norm(cout)
        self.relu = nn.ReLU(inplace=True)
        self.shortcut = None
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride, bias=False), group_norm(cout))

    def forward(self, x: Tensor) -> Tensor:
        out = self.relu(self.norm1(self.conv1(x)))
        out = self.norm2(self.conv2(out))
        return self.relu(out + (x if self.shortcut is None else self.shortcut(x)))


class SmallSegNet(nn.Module):
    """The CPU teaching model: four residual stages (output stride 8), GroupNorm, ASPP-style heads.

    ``forward(x)``: x is B x 3 x H x W, normalised ``"unit"``. Returns
    :class:`SegmentationOutput`: logits (and aux_logits on stage 4 if ``multi_level``)
    B x K x ceil(H/8) x ceil(W/8); features = stage 2..5 outputs with ``widths`` channels at
    strides 4, 8, 8, 8 (64 x 128 input: 16 x 32, then 8 x 16).

    Args:
        num_classes: K.
        multi_level: build the auxiliary head on stage 4 (``layer3``).
        widths: channels of stages 2..5 (the stem ends at ``widths[0]``).
        blocks: residual blocks per stage.
        head_dilations: dilation rates of the ASPP branches (all summed).
    """

    normalization = "unit"
    head_prefixes: tuple[str, ...] = ("classifier.", "aux_classifier.")

    def __init__(self, num_classes: int, multi_level: bool = True, widths: Sequence[int] = (16, 32, 64, 64),
                 blocks: Sequence[int] = (1, 1, 1, 1), head_dilations: Sequence[int] = (1, 2, 4)) -> None:
        super().__init__()
        if int(num_classes) < 1:
            raise ValueError(f"num_classes: expected a positive integer, got {num_classes!r}")
        if len(widths) != 4 or min(widths) < 4:
            raise ValueError(f"widths: expected four stage widths >= 4, got {tuple(widths)!r}")
        if len(blocks) != 4 or min(blocks) < 1:
            raise ValueError(f"blocks: expected four positive block counts, got {tuple(blocks)!r}")
        self.num_classes = int(num_classes)
        self.multi_level = bool(multi_level)
        self.widths = tuple(int(w) for w in widths)
        w2, w3, w4, w5 = self.widths
        stem = max(4, w2 // 2)
        self.stem = nn.Sequential(
            conv3x3(3, stem, stride=2), group_norm(stem), nn.ReLU(inplace=True),
            conv3x3(stem, w2, stride=2), group_norm(w2), nn.ReLU(inplace=True),
        )
        self.layer1 = self._stage(w2, w2, blocks[0], stride=1, dilation=1)  # stage 2, stride 4
        self.layer2 = self._stage(w2, w3, blocks[1], stride=2, dilation=1)  # stage 3, stride 8
        self.layer3 = self._stage(w3, w4, blocks[2], stride=1, dilation=2)  # stage 4, stride 8, dilated
        self.layer4 = self._stage(w4, w5, blocks[3], stride=1, dilation=4)  # stage 5, stride 8, dilated
        self.classifier = ASPPClassifier(w5, self.num_classes, head_dilations)
        self.aux_classifier = ASPPClassifier(w4, self.num_classes, head_dilations) if self.multi_level else None
        for m in self.modules():
            if isinstance(m, nn.Conv2d) and not any(m is c for h in self._heads() for c in h.conv2d_list):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    @staticmethod
    def _stage(cin: int, cout: int, n: int, stride: int, dilation: int) -> nn.Sequential:
        return nn.Sequential(ResidualBlock(cin, cout, stride, dilation),
                             *[ResidualBlock(cout, cout, 1, dilation) for _ in range(1, n)])

    def _heads(self) -> list[nn.Module]:
        return [m for m in (self.classifier, getattr(self, "aux_classifier", None)) if m is not None]

    def forward(self, x: Tensor) -> SegmentationOutput:
        """B x 3 x H x W (``unit``) -> logits / aux_logits B x K x H/8 x W/8, features (stages 2..5)."""
        if x.dim() != 4 or x.shape[1] != 3:
            raise ValueError(f"x: expected a B x 3 x H x W tensor, got shape {tuple(x.shape)}")
        f2 = self.layer1(self.stem(x))
        f3 = self.layer2(f2)
        f4 = self.layer3(f3)
        f5 = self.layer4(f4)
        aux = self.aux_classifier(f4) if self.aux_classifier is not None else None
        return SegmentationOutput(self.classifier(f5), aux, (f2, f3, f4, f5))

    def backbone_modules(self) -> list[nn.Module]:
        """Stem and stages 2-5 (the backbone, at the base learning rate)."""
        return [self.stem, self.layer1, self.layer2, self.layer3, self.layer4]

    def head_modules(self) -> list[nn.Module]:
        """The classifier heads (main, and auxiliary when multi-level)."""
        return self._heads()

    def param_groups(self, lr: float, head_lr_mult: float = 10.0) -> list[dict]:
        """Stem and stages at ``lr``, heads at ``head_lr_mult * lr`` (the same rule as DeepLabV2)."""
        return split_param_groups(self.backbone_modules(), self.head_modules(), lr, head_lr_mult)

    def extra_repr(self) -> str:
        return f"num_classes={self.num_classes}, multi_level={self.multi_level}, widths={self.widths}"
