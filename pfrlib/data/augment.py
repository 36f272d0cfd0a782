"""The resizing, random-scale, crop and flip steps of :mod:`pfrlib.data.transforms`, on
``torchvision.transforms.v2``.

A pair travels through a pipeline as ``tv_tensors.Image`` and ``tv_tensors.Mask``, so torchvision
resizes the mask with nearest neighbour and pads it with 255 (ignore), and one random draw moves
both. Random choices come from torch's global RNG. The transforms import this module only when
they have a step to run: importing torchvision costs about 1.5 s of CPU per process.
"""

from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor
from torchvision import tv_tensors
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as TF

from pfrlib.data.labels import IGNORE_INDEX

__all__ = ["train_pipeline", "run_pipeline", "resize_image", "resize_label"]


def train_pipeline(size: Optional[tuple[int, int]], scale: Optional[tuple[float, float]],
                   crop: Optional[tuple[int, int]], hflip: bool,
                   image_scales: Optional[tuple[float, ...]]) -> Optional[v2.Compose]:
    """:class:`~pfrlib.data.transforms.TrainTransform`'s steps, in order: CLAN's image-only
    rescaling (``image_scales``) or the resize to ``size`` (bicubic image, nearest label), the
    random rescale by a factor in ``scale``, the random ``crop`` (padding 0 / 255), the random
    horizontal flip; ``None`` when there is none."""
    steps: list = []
    if image_scales is not None:
        steps.append(_ImageOnlyScale(size, image_scales))
    elif size is not None:
        steps.append(v2.Resize(size, interpolation=v2.InterpolationMode.BICUBIC, antialias=True))
    if scale is not None:
        steps.append(_RandomScale(scale))
    if crop is not None:
        steps.append(v2.RandomCrop(crop, pad_if_needed=True, fill={tv_tensors.Image: 0, tv_tensors.Mask: IGNORE_INDEX}))
    if hflip:
        steps.append(v2.RandomHorizontalFlip(0.5))
    return v2.Compose(steps) if steps else None


def run_pipeline(pipeline: v2.Compose, image: Tensor, label: Tensor) -> tuple[Tensor, Tensor]:
    """``(image 3 x H x W, label H x W)`` through ``pipeline`` as an image and its mask; plain tensors out."""
    img, lab = pipeline(tv_tensors.Image(image), tv_tensors.Mask(label))
    return img.as_subclass(Tensor), lab.as_subclass(Tensor)


def resize_image(image: Tensor, size: tuple[int, int]) -> Tensor:
    """``image`` (3 x H x W) resized to ``size`` (bicubic, antialiased)."""
    out = TF.resize(tv_tensors.Image(image), list(size), interpolation=v2.InterpolationMode.BICUBIC, antialias=True)
    return out.as_subclass(Tensor)


def resize_label(label: Tensor, size: tuple[int, int]) -> Tensor:
    """``label`` (H x W trainIds) resized to ``size`` (nearest neighbour)."""
    out = TF.resize(tv_tensors.Mask(label), list(size), interpolation=v2.InterpolationMode.NEAREST)
    return out.as_subclass(Tensor)


class _ImageOnlyScale(v2.Transform):
    """CLAN's input rescaling (its datasets' ``__scale__``): the image is resized (bicubic) to
    ``int(H * f) x int(W * f)`` of the base size, ``f`` drawn uniformly from ``factors``; the mask
    is resized (nearest) to the base size itself. Base: ``size``, or the stored size if None."""

    def __init__(self, size: Optional[tuple[int, int]], factors: tuple[float, ...]) -> None:
        super().__init__()
        self.size, self.factors = size, factors

    def make_params(self, flat_inputs: list) -> dict:
        f = self.factors[int(torch.randint(len(self.factors), ()))]
        h, w = self.size if self.size is not None else v2.query_size(flat_inputs)
        return {"image": [max(1, int(h * f)), max(1, int(w * f))], "label": [h, w]}  # int(): CLAN truncates

    def transform(self, inpt, params: dict):
        if isinstance(inpt, tv_tensors.Mask):
            if list(inpt.shape[-2:]) == params["label"]:
                return inpt
            return TF.resize(inpt, params["label"], interpolation=v2.InterpolationMode.NEAREST)
        if isinstance(inpt, tv_tensors.Image):
            if list(inpt.shape[-2:]) == params["image"]:
                return inpt
            return TF.resize(inpt, params["image"], interpolation=v2.InterpolationMode.BICUBIC, antialias=True)
        return inpt


class _RandomScale(v2.Transform):
    """Rescale image (bilinear) and mask (nearest) by a factor drawn uniformly from ``scale_range``."""

    def __init__(self, scale_range: tuple[float, float]) -> None:
        super().__init__()
        self.scale_range = scale_range

    def make_params(self, flat_inputs: list) -> dict:
        lo, hi = self.scale_range
        f = lo + (hi - lo) * float(torch.rand(()))
        h, w = v2.query_size(flat_inputs)
        return {"size": [max(1, round(h * f)), max(1, round(w * f))]}

    def transform(self, inpt, params: dict):
        if isinstance(inpt, tv_tensors.Mask):
            return TF.resize(inpt, params["size"], interpolation=v2.InterpolationMode.NEAREST)
        if isinstance(inpt, tv_tensors.Image):
            return TF.resize(inpt, params["size"], interpolation=v2.InterpolationMode.BILINEAR, antialias=True)
        return inpt
