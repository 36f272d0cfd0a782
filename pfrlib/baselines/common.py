"""What the four Table-1 baselines share: the hook interface of the step, label distributions.

A baseline (:class:`Baseline`) plugs into :func:`pfrlib.step.network_step` through one call,
:meth:`Baseline.network_terms`, made after the engine's source and target forwards: it returns
extra loss terms (weighted by :meth:`pfrlib.config.TrainConfig.effective_weights` and summed into
Eq. 6 with the rest) and, for each of its discriminators, the inputs that
:func:`pfrlib.step.discriminator_step` trains it on (:class:`DiscriminatorInputs`). Everything a
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

from ..data.labels import IGNORE_INDEX

__all__ = [
    "check_weights",
    "Baseline",
    "BaselineInputs",
    "BaselineTerms",
    "DiscriminatorInputs",
    "label_distribution",
    "predicted_distribution",
    "per_element_adversarial",
]


@dataclass
class DiscriminatorInputs:
    """What :func:`pfrlib.step.discriminator_step` trains one discriminator on.

    Attributes:
        source, target: its inputs, attached to the graph (detached by the step): logits
            (B x K x H x W, with ``softmax=True``) or features (B x C x h x w, ``softmax=False``).
        softmax: apply the softmax over dim 1 first (output-space discriminators).
        loss: ``loss(d_src, d_tgt) -> scalar``, the discriminator's loss on its two outputs;
            ``None`` = :func:`pfrlib.losses.discriminator_loss` (Eq. 5, the step's GAN kind).
    """

    source: Tensor
    target: Tensor
    softmax: bool = True
    loss: Optional[Callable[[Tensor, Tensor], Tensor]] = None


@dataclass
class BaselineInputs:
    """What :meth:`Baseline.network_terms` sees of one iteration (all on the device).

    Attributes:
        out_s, out_t: the network's outputs on the source and target batch (the engine's two
            forwards; ``logits`` B x K x h x w, ``features`` the stage 2..5 maps).
        xs, ys: normalised source images B x 3 x H x W and their labels B x H x W.
        xt: normalised target images B x 3 x H' x W' (never labels).
        logits_s, logits_t: ``out_s.logits`` / ``out_t.logits`` upsampled to the label sizes (the
            source labels'; the target images' or the step's ``target_size``): the image sizes
            unless the inputs are rescaled (``DataConfig.image_scales``).
        discriminators: the baseline's discriminators (frozen during this step).
        iteration: iterations finished before this one (0 on the first).
        horizon: the poly schedule's length (``schedule_iterations`` or ``iterations``).
        gan: ``"bce"`` or ``"lsgan"`` (``LossConfig.gan``).
    """

    out_s: object
    out_t: object
    xs: Tensor
    ys: Tensor
    xt: Tensor
    logits_s: Tensor
    logits_t: Tensor
    discriminators: Mapping[str, nn.Module]
    iteration: int = 0
    horizon: int = 1
    gan: str = "bce"


@dataclass
class BaselineTerms:
    """What :meth:`Baseline.network_terms` returns.

    Attributes:
        terms: unweighted scalar loss terms (attached), by the names of
            :meth:`pfrlib.config.TrainConfig.effective_weights`; a ``seg`` entry replaces Eq. (1).
        outputs: :class:`DiscriminatorInputs` per discriminator key.
        logs: detached scalars worth logging (e.g. the mean discrepancy map).
    """

    terms: dict[str, Tensor] = field(default_factory=dict)
    outputs: dict[str, DiscriminatorInputs] = field(default_factory=dict)
    logs: dict[str, Tensor] = field(default_factory=dict)


def check_weights(section, *names: str) -> None:
    """``ValueError`` naming the field unless each of ``names`` of a baseline's config section is a
    finite number >= 0."""
    for name in names:
        v = getattr(section, name)
        if not (v >= 0 and math.isfinite(v)):
            raise ValueError(f"{name} must be a finite number >= 0, got {v}")


class Baseline(nn.Module):
    """A Table-1 baseline: extra loss terms on the engine's forwards, and the modules they need.

    Subclasses implement :meth:`network_terms` (the method registry, :mod:`pfrlib.methods`, names
    each one's ``--method``); they may override
    :meth:`build_discriminators` and :meth:`trainable_modules`. ``callables`` maps a trainable
    submodule's name to what to call in the step (the run loop puts a
    ``DistributedDataParallel`` wrapper there under ``torchrun``).
    """

    #: The constructor takes the labelled source training set as a third argument
    #: (:func:`pfrlib.baselines.build_baseline` passes it).
    needs_source_labels: bool = False

    def __init__(self) -> None:
        super().__init__()
        self.callables: dict[str, Callable] = {}

    def build_discriminators(self) -> dict[str, nn.Module]:
        """New discriminators, by key (trained by :func:`pfrlib.step.discriminator_step`)."""
        return {}

    def trainable_modules(self) -> dict[str, nn.Module]:
        """Submodules trained with the segmentation network's optimiser (one extra param group)."""
        return {}

    def call(self, name: str, *args, **kwargs):
        """Call submodule ``name`` through its ``callables`` entry (a DDP wrapper) if any."""
        fn = self.callables.get(name) or getattr(self, name)
        return fn(*args, **kwargs)

    def network_terms(self, inputs: BaselineInputs) -> BaselineTerms:  # pragma: no cover (abstract)
        raise NotImplementedError


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
