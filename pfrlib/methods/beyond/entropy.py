"""The entropy maps of ADVENT and FDA: what "confidence" means to each (:mod:`pfrlib.methods.beyond`).

* ADVENT (valeoai/ADVENT, ``advent/utils/func.py``, ``prob_2_entropy``): the **weighted
  self-information** map ``I = -p log2(p + 1e-30) / log2(C)`` per class (:func:`self_information`);
  summed over the classes it is the pixel's entropy normalised to [0, 1]. ADVENT's MinEnt loss
  (``advent/utils/loss.py``, ``entropy_loss``) averages that entropy over the batch and the pixels
  (:func:`entropy_loss`); the paper sums it over the pixels instead (``reduction="sum"``, an
  option: docs/choices.md).
* FDA (YanchaoYang/FDA, ``model/deeplab.py``, ``ResNet101.forward``): the entropy normalised by
  ``ln(19)`` (the code's constant 2.9444) on the logits at the network's output resolution, then
  the robust (Charbonnier) penalty ``(E^2 + 1e-8) ** eta`` averaged over the pixels
  (:func:`charbonnier_entropy`).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["REDUCTIONS", "self_information", "entropy_map", "entropy_loss", "charbonnier_entropy"]

#: How :func:`entropy_loss` reduces the per-pixel entropies: ``"mean"`` over batch and pixels
#: (ADVENT's code), ``"sum"`` over the pixels, mean over the batch (ADVENT's paper).
REDUCTIONS: tuple[str, ...] = ("mean", "sum")


def _check_prob(prob: Tensor) -> None:
    if prob.dim() != 4 or prob.shape[1] < 2:
        raise ValueError(f"prob: expected B x C x H x W probabilities with C >= 2, got shape {tuple(prob.shape)}")


def self_information(prob: Tensor, normalize: bool = True, eps: float = 1e-30) -> Tensor:
    """ADVENT's weighted self-information map, per class.

    Args:
        prob: B x C x H x W softmax probabilities.
        normalize: ``-p log2(p + eps) / log2(C)`` as ADVENT's code (``prob_2_entropy``); False:
            the paper's ``-p log p`` (natural log, not normalised).
        eps: added inside the log (the code's 1e-30), so ``p = 0`` gives 0.

    Returns:
        B x C x H x W float32, >= 0; its sum over C is the pixel's entropy (in [0, 1] normalised).
    """
    _check_prob(prob)
    p = prob.float()
    if normalize:
        return -p * torch.log2(p + eps) / math.log2(p.shape[1])
    return -p * torch.log(p + eps)


def entropy_map(prob: Tensor, normalize: bool = True) -> Tensor:
    """Per-pixel entropy ``sum_c I_c`` of :func:`self_information`: B x H x W (in [0, 1] normalised)."""
    return self_information(prob, normalize).sum(dim=1)


def entropy_loss(prob: Tensor, reduction: str = "mean") -> Tensor:
    """ADVENT's MinEnt loss: the normalised entropy of the target predictions.

    Args:
        prob: B x C x H x W softmax probabilities (ADVENT: of the logits upsampled to the target size).
        reduction: ``"mean"``: ``sum(I) / (B H W)`` (ADVENT's ``entropy_loss``); ``"sum"``: summed
            over the pixels, averaged over the batch (the paper's loss, as we read it).

    Returns:
        Scalar >= 0 (0 for one-hot predictions; 1 per pixel for uniform ones, ``"mean"``).
    """
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction: expected one of {REDUCTIONS}, got {reduction!r}")
    ent = entropy_map(prob)
    return ent.mean() if reduction == "mean" else ent.sum(dim=(1, 2)).mean()


def charbonnier_entropy(logits: Tensor, eta: float = 2.0, eps: float = 1e-8) -> Tensor:
    """FDA's robust entropy term: ``mean((E^2 + eps) ** eta)``, ``E = -sum_c p log p / ln(C)``.

    Args:
        logits: B x C x h x w scores, at the network's output resolution (FDA's code takes them
            before upsampling).
        eta: the penalty's exponent (FDA's ``ita``: 2.0).
        eps: added to ``E^2`` (FDA's code: 1e-8).

    Returns:
        Scalar >= 0, averaged over the batch and the pixels.
    """
    if logits.dim() != 4 or logits.shape[1] < 2:
        raise ValueError(f"logits: expected B x C x h x w with C >= 2, got shape {tuple(logits.shape)}")
    x = logits.float()
    ent = -(F.softmax(x, dim=1) * F.log_softmax(x, dim=1)).sum(dim=1) / math.log(x.shape[1])
    return ((ent ** 2 + eps) ** eta).mean()
