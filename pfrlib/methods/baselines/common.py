"""What the four Table-1 baselines share: weight checks, label distributions, per-pixel adversarial losses.

The hook interface they implement is the step's (:mod:`pfrlib.paper.step`): a baseline
(:class:`~pfrlib.paper.step.Baseline`) plugs into :func:`pfrlib.paper.step.network_step` through one call,
:meth:`Baseline.network_terms`, made after the engine's source and target forwards: it returns
extra loss terms (weighted by :meth:`pfrlib.config.TrainConfig.effective_weights` and summed into
Eq. 6 with the rest) and, for each of its discriminators, the inputs that
:func:`pfrlib.paper.step.discriminator_step` trains it on (:class:`DiscriminatorInputs`). Everything a
baseline owns - its discriminators (built by :meth:`Baseline.build_discriminators`, then trained,
checkpointed and wrapped in ``DistributedDataParallel`` by the run loop like AdaptSegNet's), a
frozen reference network, an estimator trained with the network, source statistics - is a
submodule or buffer of the :class:`Baseline` module, so ``Baseline.state_dict()`` is the part of
the checkpoint a bit-exact resume needs.

Baselines read the *source* labels (statistics, estimator targets) and the target *images*; the
target labels are never given to them (the run loop opens the target training set without
labels).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Mapping, Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from pfrlib.data.labels import IGNORE_INDEX

__all__ = ["check_weights", "label_distribution", "predicted_distribution", "per_element_adversarial"]


def check_weights(section, *names: str) -> None:
    """``ValueError`` naming the field unless each of ``names`` of a baseline's config section is a
    finite number >= 0."""
    for name in names:
        v = getattr(section, name)
        if not (v >= 0 and math.isfinite(v)):
            raise ValueError(f"{name} must be a finite number >= 0, got {v}")


def label_distribution(labels: Tensor, num_classes: int, ignore_index: int = IGNORE_INDEX) -> Tensor:
    """Per-image class frequencies of a label map: the image-level label distribution.

    Zhang, David, Gong (ICCV 2017), the image's global label distribution: ``p_s(c) = |{i : y_i = c}| / |{i : y_i labelled}|``.

    Args:
        labels: B x H x W class ids (``ignore_index`` pixels are left out).
        num_classes: K.

    Returns:
        B x K float32, each row summing to 1 (all zeros for an image with no labelled pixel).
    """
    if labels.dim() != 3:
        raise ValueError(f"labels: expected B x H x W, got shape {tuple(labels.shape)}")
    labels = labels.long()
    valid = labels != ignore_index
    onehot = F.one_hot(torch.where(valid, labels, torch.zeros_like(labels)), num_classes).float()
    counts = (onehot * valid.unsqueeze(-1)).sum(dim=(1, 2))
    return counts / counts.sum(dim=1, keepdim=True).clamp_min(1.0)


def predicted_distribution(logits: Tensor) -> Tensor:
    """The network's image-level label distribution: its softmax averaged over the pixels.

    Zhang, David, Gong (ICCV 2017), the network's predicted label distribution: ``p_hat_t(c) = (1 / |I|) sum_i softmax(z_i)_c``; also the
    predicted class sizes that FCNs in the Wild constrain.

    Args:
        logits: B x K x H x W scores.

    Returns:
        B x K float32, rows summing to 1.
    """
    if logits.dim() != 4:
        raise ValueError(f"logits: expected B x K x H x W, got shape {tuple(logits.shape)}")
    return F.softmax(logits.float(), dim=1).mean(dim=(2, 3))


def per_element_adversarial(d_out: Tensor, value: float, kind: str = "bce") -> Tensor:
    """Eq. (5)'s loss per discriminator output element, before the mean.

    Args:
        d_out: discriminator outputs, any shape (logits for ``bce``).
        value: the domain label to push towards (0 source, 1 target).
        kind: ``"bce"`` (with logits) or ``"lsgan"`` (squared error).

    Returns:
        Same shape as ``d_out``, float32.
    """
    target = torch.full_like(d_out, value, dtype=torch.float32)
    if kind == "bce":
        return F.binary_cross_entropy_with_logits(d_out.float(), target, reduction="none")
    if kind == "lsgan":
        return (d_out.float() - target) ** 2
    raise ValueError(f"gan: expected 'bce' or 'lsgan', got {kind!r}")
