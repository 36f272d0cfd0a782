"""AdaptSegNet's fully convolutional output-space discriminator (paper Eq. 5).

Input: the segmentation network's softmax output, B x K x h x w. Five 4x4 convolutions with
stride 2 and padding 1 (each halves the size, rounding down: h' = floor(h / 32) for h a
multiple of 32), channels K -> ndf -> 2 ndf -> 4 ndf -> 8 ndf -> 1, LeakyReLU(0.2) after all
but the last, no normalisation and no sigmoid: the output B x 1 x h' x w' is a map of logits
(``pfrlib.paper.losses.discriminator_loss`` applies the BCE-with-logits or least-squares loss).
Keys: ``conv1..conv4`` and ``classifier`` (``.weight`` / ``.bias``), as AdaptSegNet's.
"""

from __future__ import annotations

import torch.nn as nn
from torch import Tensor

__all__ = ["FCDiscriminator"]


class FCDiscriminator(nn.Module):
    """Output-space discriminator D: B x K x h x w probabilities -> B x 1 x h/32 x w/32 logits.

    Args:
        num_classes: K, the channels of its input.
        ndf: width of the first layer (AdaptSegNet: 64).
    """

    def __init__(self, num_classes: int, ndf: int = 64) -> None:
        super().__init__()
        if int(num_classes) < 1:
            raise ValueError(f"num_classes: expected a positive integer, got {num_classes!r}")
        if int(ndf) < 1:
            raise ValueError(f"ndf: expected a positive integer, got {ndf!r}")
        self.num_classes, self.ndf = int(num_classes), int(ndf)
        widths = (self.num_classes, ndf, ndf * 2, ndf * 4, ndf * 8)
        for i in range(4):
            setattr(self, f"conv{i + 1}", nn.Conv2d(widths[i], widths[i + 1], kernel_size=4, stride=2, padding=1))
        self.classifier = nn.Conv2d(ndf * 8, 1, kernel_size=4, stride=2, padding=1)
        self.leaky_relu = nn.LeakyReLU(negative_slope=0.2, inplace=True)

    def forward(self, x: Tensor) -> Tensor:
        """B x K x h x w (softmax) -> B x 1 x h' x w' logits ("source" vs "target")."""
        if x.dim() != 4 or x.shape[1] != self.num_classes:
            raise ValueError(f"x: expected B x {self.num_classes} x h x w, got shape {tuple(x.shape)}")
        if min(x.shape[-2:]) < 32:
            raise ValueError(f"x: spatial size {tuple(x.shape[-2:])} is below 32 x 32, too small for five "
                             "stride-2 convolutions; upsample the logits to the image size first (AdaptSegNet does)")
        for conv in (self.conv1, self.conv2, self.conv3, self.conv4):
            x = self.leaky_relu(conv(x))
        return self.classifier(x)
