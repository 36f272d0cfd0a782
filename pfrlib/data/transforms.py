"""Transforms on ``(image, label)`` pairs; the resizing, cropping and flipping steps are
``torchvision.transforms.v2`` (:mod:`pfrlib.data.augment`).

Datasets return the image as stored (uint8 3 x H x W, RGB) and the label as int64 H x W
trainIds; a transform turns that pair into what a model eats. Transforms are *passed in* to a
dataset, never hard-wired, so the same dataset serves training, evaluation and plotting.

* :func:`normalize` - the input normalisation a backbone's weights expect (``model.normalization``):
  ``"caffe_bgr"`` (DeepLab-v2 / AdaptSegNet: BGR, mean subtraction on the 0..255 scale, no std),
  ``"imagenet"`` (torchvision weights) or ``"unit"`` (the small model, ``[-1, 1]``).
* :class:`TrainTransform` - resize (bicubic image, nearest label), optional random scale, random
  crop and horizontal flip, then normalise; or CLAN's rescaling of the image alone by a factor
  drawn from a set (``image_scales``), the label kept at the un-rescaled size.
* :class:`EvalTransform` - resize the image only (the label stays at full resolution: the
  paper's protocol upsamples the logits to the label), then normalise.

Both take ``normalize=None`` to skip the normalisation: the pair then stays compact, a uint8
image and a uint8 label (trainIds and 255 fit in a byte), and the consumer normalises on its
device (the training loop and :func:`pfrlib.evaluation.evaluate.evaluate_model` do; on a GPU that moves
4x fewer bytes than float32 and does the arithmetic where it is cheap). The values are the
same either way: :func:`normalize` is elementwise.

The label is wrapped in ``tv_tensors.Mask`` so that torchvision resizes it with nearest
neighbour and pads it with 255 (ignore). Random choices come from torch's global RNG, so a
transform is reproducible under ``torch.manual_seed`` (per-worker seeding is the engine's job).

torchvision is imported only by a transform that has such a step (:mod:`pfrlib.data.augment`):
importing it loads ``torch._dynamo`` too, about 1.5 s of CPU in every process, and a run whose
images are already at the model's size (the ``cpu`` preset on SynthStreets) needs none of it.
"""

from __future__ import annotations

import math
from typing import Callable, Optional, Sequence

import numpy as np
import torch
from torch import Tensor

__all__ = [
    "to_item",
    "NORMALIZATIONS",
    "CAFFE_BGR_MEAN",
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "normalize",
    "denormalize",
    "TrainTransform",
    "EvalTransform",
]


def to_item(image: np.ndarray, label: np.ndarray, transform: Optional[Callable] = None):
    """A dataset item from arrays: ``image`` (H, W, 3) uint8 RGB and ``label`` (H, W) trainIds.

    Returns ``(uint8 tensor 3 x H x W, int64 tensor H x W)``, or what ``transform(image, label)``
    makes of them (the item format every dataset of :mod:`pfrlib.data` shares).
    """
    image_t = torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1)))
    label_t = torch.from_numpy(np.ascontiguousarray(label)).long()
    return (image_t, label_t) if transform is None else transform(image_t, label_t)

#: Normalisation modes, as declared by ``model.normalization``.
NORMALIZATIONS: tuple[str, ...] = ("caffe_bgr", "imagenet", "unit")
#: Caffe ResNet-101 means, in B, G, R order, 0..255 scale (as AdaptSegNet's ``IMG_MEAN``).
CAFFE_BGR_MEAN: tuple[float, float, float] = (104.00698793, 116.66876762, 122.67891434)
IMAGENET_MEAN: tuple[float, float, float] = (0.485, 0.456, 0.406)
IMAGENET_STD: tuple[float, float, float] = (0.229, 0.224, 0.225)


def _check_mode(mode: Optional[str], allow_none: bool = False) -> None:
    if mode is None and allow_none:
        return
    if mode not in NORMALIZATIONS:
        raise ValueError(f"normalization mode must be one of {NORMALIZATIONS}, got {mode!r}")


def _stats(mode: str, ref: Tensor) -> tuple[Tensor, Tensor]:
    """(mean, std) broadcastable to ``... x 3 x H x W``, on the 0..255 scale of the channels as stored."""
    if mode == "caffe_bgr":
        mean, std = CAFFE_BGR_MEAN, (1.0, 1.0, 1.0)
    elif mode == "imagenet":
        mean, std = tuple(255.0 * m for m in IMAGENET_MEAN), tuple(255.0 * s for s in IMAGENET_STD)
    else:
        mean, std = (127.5, 127.5, 127.5), (127.5, 127.5, 127.5)
    shape = (3, 1, 1)
    return (torch.tensor(mean, dtype=ref.dtype, device=ref.device).view(shape),
            torch.tensor(std, dtype=ref.dtype, device=ref.device).view(shape))


def normalize(img: Tensor, mode: str) -> Tensor:
    """Normalise an RGB image for a backbone.

    Args:
        img: ``3 x H x W`` or ``B x 3 x H x W``, RGB, uint8 or float **on the 0..255 scale**.
        mode: ``"caffe_bgr"``: reverse channels to BGR, subtract :data:`CAFFE_BGR_MEAN`, no std;
            ``"imagenet"``: ``(x / 255 - IMAGENET_MEAN) / IMAGENET_STD`` (RGB);
            ``"unit"``: ``(x / 255 - 0.5) / 0.5`` (RGB, values in [-1, 1]).

    Returns:
        float32 tensor of the same shape.
    """
    _check_mode(mode)
    if img.dim() not in (3, 4) or img.shape[-3] != 3:
        raise ValueError(f"normalize expects a 3 x H x W or B x 3 x H x W image, got shape {tuple(img.shape)}")
    x = img.float() if not img.is_floating_point() else img.to(torch.float32)
    if mode == "caffe_bgr":
        x = x.flip(-3)
    mean, std = _stats(mode, x)
    return (x - mean) / std


def denormalize(x: Tensor, mode: str) -> Tensor:
    """Inverse of :func:`normalize`: back to a uint8 RGB image (for plotting)."""
    _check_mode(mode)
    mean, std = _stats(mode, x.float())
    img = x.float() * std + mean
    if mode == "caffe_bgr":
        img = img.flip(-3)
    return img.round().clamp(0, 255).to(torch.uint8)


def _size(size: Optional[Sequence[int]], name: str) -> Optional[tuple[int, int]]:
    if size is None:
        return None
    try:
        h, w = (int(v) for v in size)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be (H, W) or None, got {size!r}") from None
    if h < 1 or w < 1:
        raise ValueError(f"{name} must be positive, got {size!r}")
    return h, w


def _check_pair(image: Tensor, label: Tensor) -> None:
    if image.dim() != 3 or image.shape[0] != 3:
        raise ValueError(f"image must be 3 x H x W, got shape {tuple(image.shape)}")
    if label.dim() != 2 or tuple(label.shape) != tuple(image.shape[-2:]):
        raise ValueError(f"label must be H x W matching the image {tuple(image.shape[-2:])}, got {tuple(label.shape)}")


def _output(image: Tensor, label: Tensor, mode: Optional[str]) -> tuple[Tensor, Tensor]:
    """The transform's result: normalised float32 + int64 label, or (``mode=None``) uint8 + uint8."""
    if mode is None:
        if label.numel() and (int(label.min()) < 0 or int(label.max()) > 255):
            raise ValueError(f"label values must be 0..255 to travel as uint8, got {int(label.min())}..{int(label.max())}")
        return image.to(torch.uint8), label.to(torch.uint8)
    return normalize(image, mode), label.long()


class TrainTransform:
    """Training augmentation: resize, random scale, random crop, random flip, normalise.

    Args:
        size: ``(H, W)`` to resize every pair to first (bicubic image, nearest label), or
            ``None`` to keep the stored size (AdaptSegNet resizes GTA5 to 720 x 1280).
        scale: ``(lo, hi)`` random rescale factor range after the resize, or ``None``.
        crop: ``(H, W)`` random crop (pads with 0 / 255 when the image is smaller), or ``None``.
        hflip: flip horizontally with probability 0.5.
        normalize: normalisation mode (see :func:`normalize`), or ``None`` to return the uint8
            image and a uint8 label (normalise later, on the device).
        image_scales: factors ``f`` (CLAN's ``__scale__``): the *image alone* is resized to
            ``int(H * f) x int(W * f)`` of ``size`` (or of the stored size), ``f`` drawn uniformly
            from the tuple (repeat a factor to weight it); the label keeps ``size``. ``None``: off.
            Not with ``scale`` or ``crop`` (they would cut image and label apart).

    Call: ``(uint8 3 x H x W, int64 H x W) -> (float32 3 x H' x W', int64 H' x W')``
    (``normalize=None``: ``(uint8 3 x H' x W', uint8 H' x W')``; with ``image_scales`` the image
    is ``int(H' * f) x int(W' * f)``). Random draws use torch's global RNG.
    """

    def __init__(self, size: Optional[Sequence[int]] = None, scale: Optional[Sequence[float]] = None,
                 crop: Optional[Sequence[int]] = None, hflip: bool = True, normalize: Optional[str] = "unit",
                 image_scales: Optional[Sequence[float]] = None) -> None:
        _check_mode(normalize, allow_none=True)
        self.size = _size(size, "size")
        self.crop = _size(crop, "crop")
        if scale is not None:
            lo, hi = (float(v) for v in scale)
            if not 0 < lo <= hi:
                raise ValueError(f"scale must be (lo, hi) with 0 < lo <= hi, got {scale!r}")
            scale = (lo, hi)
        self.scale = scale
        self.image_scales = _factors(image_scales)
        if self.image_scales is not None and (scale is not None or self.crop is not None):
            raise ValueError("image_scales: rescales the image alone, so it cannot be combined with scale or crop")
        self.hflip = bool(hflip)
        self.mode = normalize
        self.pipeline = None
        if any(v is not None for v in (self.image_scales, self.size, self.scale, self.crop)) or self.hflip:
            from pfrlib.data.augment import train_pipeline  # torchvision only when there is a step

            self.pipeline = train_pipeline(self.size, self.scale, self.crop, self.hflip, self.image_scales)

    def __call__(self, image: Tensor, label: Tensor) -> tuple[Tensor, Tensor]:
        _check_pair(image, label)
        if self.pipeline is not None:
            from pfrlib.data.augment import run_pipeline  # torchvision, loaded with the pipeline

            image, label = run_pipeline(self.pipeline, image, label)
        return _output(image, label, self.mode)

    def __repr__(self) -> str:
        extra = "" if self.image_scales is None else f", image_scales={self.image_scales}"
        return (f"TrainTransform(size={self.size}, scale={self.scale}, crop={self.crop}, "
                f"hflip={self.hflip}, normalize={self.mode!r}{extra})")


def _factors(factors: Optional[Sequence[float]]) -> Optional[tuple[float, ...]]:
    """``image_scales`` checked: a non-empty tuple of finite factors > 0, or None."""
    if factors is None:
        return None
    try:
        out = tuple(float(f) for f in factors)
    except (TypeError, ValueError):
        raise ValueError(f"image_scales must be a tuple of factors > 0 (e.g. 0.8 1.0 1.1) or None, got {factors!r}") from None
    if not out or not all(math.isfinite(f) and f > 0 for f in out):
        raise ValueError(f"image_scales must be a non-empty tuple of finite factors > 0 or None, got {factors!r}")
    return out


class EvalTransform:
    """Evaluation transform: resize the image, keep the label at full resolution, normalise.

    The paper's protocol (AdaptSegNet's ``evaluate_cityscapes.py``) feeds Cityscapes at
    1024 x 512 and upsamples the logits to the label's 2048 x 1024; so by default the label is
    *not* resized. ``resize_label=True`` resizes it too (nearest), e.g. for quick previews.

    Args:
        size: ``(H, W)`` of the network input (bicubic), or ``None`` to keep the stored size.
        normalize: normalisation mode (see :func:`normalize`), or ``None`` for uint8 outputs.
        resize_label: also resize the label (nearest).

    Call: ``(uint8 3 x H x W, int64 H x W) -> (float32 3 x H' x W', int64 label)``.
    """

    def __init__(self, size: Optional[Sequence[int]] = None, normalize: Optional[str] = "unit",
                 resize_label: bool = False) -> None:
        _check_mode(normalize, allow_none=True)
        self.size = _size(size, "size")
        self.mode = normalize
        self.resize_label = bool(resize_label)

    def __call__(self, image: Tensor, label: Tensor) -> tuple[Tensor, Tensor]:
        _check_pair(image, label)
        if self.size is not None and tuple(image.shape[-2:]) != self.size:
            from pfrlib.data.augment import resize_image, resize_label  # torchvision only when resizing

            image = resize_image(image, self.size)
            if self.resize_label:
                label = resize_label(label, self.size)
        return _output(image, label, self.mode)

    def __repr__(self) -> str:
        return f"EvalTransform(size={self.size}, normalize={self.mode!r}, resize_label={self.resize_label})"
