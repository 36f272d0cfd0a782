"""Pieces every segmentation model of :mod:`pfrlib.models` shares.

* :class:`SegmentationOutput` - what every ``forward(x)`` returns: main logits, auxiliary
  logits (or ``None``) and the four stage features the PFR losses align (paper Section 3.2,
  stages i = 2..5, i.e. ResNet ``layer1..layer4``).
* :class:`ASPPClassifier` - DeepLab-v2's ASPP classifier: parallel dilated 3x3 convolutions
  straight to class scores, summed (no image pooling, no 1x1 branch: that is DeepLab-v3).
* Batch-norm modes (:data:`BN_MODES`) shared by the two ResNet families.
* :func:`count_parameters` and :func:`feature_shapes` for the notebooks.

Input normalisation (``model.normalization``; ``pfrlib.data.transforms.normalize`` implements
it, ``x`` is the 0..255 RGB image):

* ``"caffe_bgr"``: channels reversed to BGR, then ``x - (104.00698793, 116.66876762,
  122.67891434)`` (B, G, R means on the 0..255 scale), no division - the Caffe ResNet-101 that
  DeepLab-v2 / AdaptSegNet initialise from was trained on this input.
* ``"imagenet"``: ``(x / 255 - (0.485, 0.456, 0.406)) / (0.229, 0.224, 0.225)`` in RGB order
  (torchvision's ImageNet weights).
* ``"unit"``: ``(x / 255 - 0.5) / 0.5``, RGB, i.e. values in [-1, 1] (the small model, trained
  from scratch).
"""

from __future__ import annotations

from typing import Iterable, NamedTuple, Optional, Sequence

import torch
import torch.nn as nn
from torch import Tensor

__all__ = [
    "SegmentationOutput",
    "NORMALIZATIONS",
    "BN_MODES",
    "ASPPClassifier",
    "EvalModeBatchNorm2d",
    "batchnorm_layer",
    "configure_batchnorm",
    "split_param_groups",
    "count_parameters",
    "feature_shapes",
]

#: The input normalisations a model may declare (see the module docstring for the formulas).
NORMALIZATIONS: tuple[str, ...] = ("caffe_bgr", "imagenet", "unit")

#: Batch-norm behaviours of the ResNet models (see :func:`batchnorm_layer`).
BN_MODES: tuple[str, ...] = ("adaptsegnet", "frozen", "train")


class SegmentationOutput(NamedTuple):
    """What every segmentation model returns.

    Attributes:
        logits: B x K x h x w main-head scores (h, w = input size / output stride, 8 here).
        aux_logits: B x K x h x w auxiliary-head scores (on stage 4 = ``layer3``), or ``None``
            when the model was built with ``multi_level=False``.
        features: the four stage outputs (stage 2, 3, 4, 5 = ``layer1..layer4``); stage ``i``
            is ``features[i - 2]``. These are what Eq. (2)-(4) align.
    """

    logits: Tensor
    aux_logits: Optional[Tensor]
    features: tuple[Tensor, Tensor, Tensor, Tensor]


class ASPPClassifier(nn.Module):
    """DeepLab-v2 ASPP classifier: ``sum_b conv3x3_{dilation d_b}(x)`` (B x C x h x w -> B x K x h x w).

    Each branch is a 3x3 convolution with bias, dilation = padding = ``d_b`` (size-preserving),
    mapping the ``in_channels`` features straight to ``num_classes`` scores. Parameters are
    stored in ``conv2d_list`` (AdaptSegNet's key names ``conv2d_list.{b}.weight/bias``).

    ``branches_used`` selects how many of the branches are *summed*:

    * ``len(dilations)``: the ASPP of the DeepLab-v2 paper (all branches);
    * ``2``: what AdaptSegNet's code actually computes - its loop over the branches returns after
      the first addition, so only branches 0 and 1 (dilations 6 and 12) contribute (AdaptSegNet
      issues #20 and #60; DAFormer calls this head "dlv2red"). All branches are still created
      (identical state_dict: AdaptSegNet checkpoints load key for key), but the unused ones are
      built with ``requires_grad=False``: they never receive a gradient, so they are left out of
      the optimiser (and of weight decay), and ``DistributedDataParallel`` does not wait for
      their gradients (it stops with "parameters that were not used in producing loss" if a
      parameter that requires a gradient never gets one).

    Weights start as N(0, 0.01) (AdaptSegNet); biases keep PyTorch's default initialisation.
    """

    def __init__(self, in_channels: int, num_classes: int, dilations: Sequence[int] = (6, 12, 18, 24),
                 branches_used: Optional[int] = None) -> None:
        super().__init__()
        if not dilations:
            raise ValueError("dilations: expected at least one dilation rate")
        used = len(dilations) if branches_used is None else int(branches_used)
        if not 1 <= used <= len(dilations):
            raise ValueError(f"branches_used: expected 1..{len(dilations)}, got {branches_used!r}")
        self.dilations = tuple(int(d) for d in dilations)
        self.branches_used = used
        self.conv2d_list = nn.ModuleList(
            nn.Conv2d(in_channels, num_classes, kernel_size=3, padding=d, dilation=d, bias=True)
            for d in self.dilations
        )
        for conv in self.conv2d_list:
            nn.init.normal_(conv.weight, 0.0, 0.01)
        for conv in self.conv2d_list[used:]:
            conv.requires_grad_(False)  # never summed: no gradient, not trained, not decayed

    def forward(self, x: Tensor) -> Tensor:
        """B x C x h x w features -> B x K x h x w scores (sum of the first ``branches_used`` branches)."""
        out = self.conv2d_list[0](x)
        for conv in self.conv2d_list[1:self.branches_used]:
            out = out + conv(x)
        return out

    def extra_repr(self) -> str:
        return f"dilations={self.dilations}, branches_used={self.branches_used}"


class EvalModeBatchNorm2d(nn.BatchNorm2d):
    """A BatchNorm2d that stays in eval mode: it always normalises with its running statistics.

    ``model.train()`` reaches it through ``Module.train`` and is ignored, so the statistics never
    adapt to the batch (``bn_mode="frozen"``). The state_dict is a plain BatchNorm2d's.
    """

    def train(self, mode: bool = True) -> "EvalModeBatchNorm2d":
        return super().train(False)


def batchnorm_layer(mode: str):
    """The BatchNorm2d class for a ``bn_mode`` (use with :func:`configure_batchnorm`).

    * ``"adaptsegnet"``: affine parameters frozen (``requires_grad=False``), batch statistics in
      train mode (running statistics updated, used in eval mode) - what AdaptSegNet's code does.
    * ``"frozen"``: affine parameters frozen and running statistics always used, even after
      ``model.train()`` (the usual "frozen BN" of detection/segmentation fine-tuning).
    * ``"train"``: an ordinary trainable BatchNorm2d.
    """
    if mode not in BN_MODES:
        raise ValueError(f"bn_mode: expected one of {BN_MODES}, got {mode!r}")
    return EvalModeBatchNorm2d if mode == "frozen" else nn.BatchNorm2d


def configure_batchnorm(module: nn.Module, mode: str) -> None:
    """Set ``requires_grad`` of every BatchNorm's affine parameters for ``mode`` (in place).

    ``"adaptsegnet"`` and ``"frozen"`` freeze them, ``"train"`` leaves them trainable.
    """
    if mode not in BN_MODES:
        raise ValueError(f"bn_mode: expected one of {BN_MODES}, got {mode!r}")
    for m in module.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            for p in m.parameters():
                p.requires_grad_(mode == "train")
    module.train(module.training)  # EvalModeBatchNorm2d modules settle into eval mode


def split_param_groups(backbone: Iterable[nn.Module], heads: Iterable[nn.Module], lr: float,
                       head_lr_mult: float = 10.0) -> list[dict]:
    """AdaptSegNet's ``optim_parameters``: backbone parameters at ``lr``, heads at ``head_lr_mult * lr``.

    Only parameters with ``requires_grad`` are listed (frozen BatchNorm parameters are left out,
    as in AdaptSegNet); a group with no parameters is dropped.
    """
    groups = []
    for modules, group_lr in ((backbone, lr), (heads, lr * head_lr_mult)):
        params = [p for m in modules for p in m.parameters() if p.requires_grad]
        if params:
            groups.append({"params": params, "lr": group_lr})
    return groups


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of scalar parameters of ``model`` (all, or only those with ``requires_grad``)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def feature_shapes(model: nn.Module, input_shape: Sequence[int] = (1, 3, 512, 1024)) -> list[tuple]:
    """Shapes of ``features`` (stages 2..5), then ``logits`` (and ``aux_logits`` if any) for an input shape.

    Runs the forward pass on PyTorch's ``meta`` device (shapes only: no memory, no compute), with
    meta copies of the parameters passed through ``torch.func.functional_call``, so even a
    ResNet-101 at 720 x 1280 costs nothing. Falls back to a zero tensor on the model's device if a
    layer has no meta implementation. Returns a list of tuples, e.g. for DeepLabV2 at
    1 x 3 x 512 x 1024: ``[(1, 256, 65, 129), (1, 512, 65, 129), (1, 1024, 65, 129),
    (1, 2048, 65, 129), (1, 19, 65, 129), (1, 19, 65, 129)]``.
    """
    shape = tuple(int(s) for s in input_shape)
    if len(shape) != 4 or shape[1] != 3 or min(shape) < 1:
        raise ValueError(f"input_shape: expected (B, 3, H, W) with positive sizes, got {tuple(input_shape)}")
    was_training = model.training
    model.eval()
    try:
        try:
            meta = {k: torch.empty_like(v, device="meta") for k, v in model.state_dict(keep_vars=True).items()}
            with torch.no_grad():
                out = torch.func.functional_call(model, meta, (torch.empty(shape, device="meta"),))
        except (NotImplementedError, RuntimeError):
            device = next(iter(model.parameters())).device
            with torch.no_grad():
                out = model(torch.zeros(shape, device=device))
    finally:
        model.train(was_training)
    shapes = [tuple(f.shape) for f in out.features] + [tuple(out.logits.shape)]
    if out.aux_logits is not None:
        shapes.append(tuple(out.aux_logits.shape))
    return shapes
