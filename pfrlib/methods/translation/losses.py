"""The loss terms of the input-space (image translation) family of Table 1, one function each.

Notation: ``G: S -> T`` and ``F: T -> S`` the two generators, ``D_T`` / ``D_S`` the PatchGAN
discriminators of each domain, ``x_s`` / ``x_t`` images ``B x 3 x H x W`` in ``[-1, 1]``.

===========================  =====================================================================
:func:`lsgan_discriminator`   CycleGAN Eq. (1) with the least-squares objective (Sec. 4 "Training
                              details"): ``1/2 E[(D(x_t) - 1)^2] + 1/2 E[D(G(x_s))^2]``
:func:`lsgan_generator`       the generator's side: ``E[(D(G(x_s)) - 1)^2]``
:func:`cycle_loss`            CycleGAN Eq. (2): ``E ||F(G(x)) - x||_1``
:func:`identity_loss`         CycleGAN Sec. 5.2: ``E ||G(y) - y||_1`` for ``y`` already in G's
                              output domain
:func:`semantic_consistency`  CyCADA Eq. (5), TGCF-DA's semantic constraint: cross-entropy of a
                              frozen segmentation model on the translated image against its
                              prediction (CyCADA) or the label (TGCF-DA) of the original
:func:`dlow_adversarial`      DLOW Eq. (3)-(4): the two adversarial terms weighted by ``1 - z``
                              and ``z``
:func:`dlow_cycle`            DLOW's cycle term (the source image is recovered from ``M(z)``)
:func:`domainness_weight`     DLOW's stage 2: the adversarial weight of a translated image of
                              domainness ``z`` (``sqrt(1 - z)``, ``1 - z`` or 1)
:func:`ema_update`            the mean teacher (TGCF-DA Sec. 3.2): ``theta' <- a theta' + (1 - a) theta``
:func:`consistency_loss`      the self-ensembling consistency: mean squared difference of the
                              student's and the teacher's class probabilities
===========================  =====================================================================

Every function returns a scalar tensor (means over all elements, as the papers' expectations).
"""

from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["lsgan_discriminator", "lsgan_generator", "cycle_loss", "identity_loss", "semantic_consistency",
           "dlow_adversarial", "dlow_discriminator", "dlow_cycle", "domainness_weight", "ema_update", "consistency_loss",
           "IGNORE_INDEX", "DLOW_ADV_WEIGHTING"]

#: The forms of :func:`domainness_weight` (the ``dlow_adv_weighting`` option), the paper's first.
DLOW_ADV_WEIGHTING: tuple[str, ...] = ("sqrt_one_minus_z", "one_minus_z", "none")

#: Label value that :func:`semantic_consistency` ignores (Cityscapes' 255).
IGNORE_INDEX = 255


def lsgan_discriminator(d_real: Tensor, d_fake: Tensor) -> Tensor:
    """Least-squares discriminator loss (Mao et al. 2017, as CycleGAN trains it).

    ``L_D = 1/2 mean((D(real) - 1)^2) + 1/2 mean(D(fake)^2)``.

    Args:
        d_real: PatchGAN scores of real images of D's domain, ``B x 1 x h x w``.
        d_fake: scores of translated images (detached from the generator), same shape.
    """
    return 0.5 * ((d_real - 1.0) ** 2).mean() + 0.5 * (d_fake ** 2).mean()


def lsgan_generator(d_fake: Tensor) -> Tensor:
    """Least-squares generator loss: ``L_G = mean((D(G(x)) - 1)^2)`` (the fakes should score 1).

    ``d_fake``: PatchGAN scores of translated images, ``B x 1 x h x w``.
    """
    return ((d_fake - 1.0) ** 2).mean()


def cycle_loss(x: Tensor, reconstructed: Tensor) -> Tensor:
    """CycleGAN Eq. (2), one direction: ``mean |F(G(x)) - x|`` (L1; both ``B x 3 x H x W``)."""
    return (reconstructed - x).abs().mean()


def identity_loss(y: Tensor, mapped: Tensor) -> Tensor:
    """CycleGAN's identity term: ``mean |G(y) - y|`` for ``y`` from G's *output* domain (both
    ``B x 3 x H x W``); weighted by ``lambda_identity * lambda_cycle`` in CycleGAN's code."""
    return (mapped - y).abs().mean()


def semantic_consistency(logits_translated: Tensor, labels: Tensor) -> Tensor:
    """CyCADA Eq. (5): ``L_sem = CE(f_S(G(x_s)), p(f_S, x_s))``, one direction.

    Args:
        logits_translated: the *frozen* source model's logits on the translated images,
            ``B x K x H x W`` (gradients flow into the generator only).
        labels: ``B x H x W`` int64 class ids: the frozen model's argmax on the original images
            (CyCADA: ``p(f, x) = argmax f(x)``), or the source labels (TGCF-DA); 255 = ignore.
    """
    return F.cross_entropy(logits_translated, labels.long(), ignore_index=IGNORE_INDEX)


def _weights(z: Tensor, like: Tensor) -> Tensor:
    """``z`` (``B`` or ``B x 1``) broadcast over the per-image dimensions of ``like``."""
    return z.reshape(-1, *([1] * (like.dim() - 1))).to(like.dtype)


def dlow_adversarial(d_source_fake: Tensor, d_target_fake: Tensor, z: Tensor) -> Tensor:
    """DLOW's generator adversarial term, Eq. (3)-(4): ``M(z)`` is at distance ``z`` from ``S``
    and ``1 - z`` from ``T``, so the translated image should fool ``D_S`` with weight ``1 - z``
    and ``D_T`` with weight ``z``:

    ``L = mean_b[(1 - z_b) * mean((D_S(G(x_b, z_b)) - 1)^2) + z_b * mean((D_T(G(x_b, z_b)) - 1)^2)]``.

    Args:
        d_source_fake, d_target_fake: ``B x 1 x h x w`` scores of ``D_S`` and ``D_T`` on the
            translated images.
        z: ``B`` domainness values in ``[0, 1]``. ``z = 0`` leaves only ``D_S`` (the generator
            should reproduce the source domain), ``z = 1`` only ``D_T`` (CycleGAN's ``G``).
    """
    per_s = ((d_source_fake - 1.0) ** 2).flatten(1).mean(1)
    per_t = ((d_target_fake - 1.0) ** 2).flatten(1).mean(1)
    z = z.reshape(-1).to(per_s.dtype)
    return ((1.0 - z) * per_s + z * per_t).mean()


def dlow_discriminator(d_real: Tensor, d_fake: Tensor, weight: Tensor) -> Tensor:
    """A DLOW discriminator's loss: :func:`lsgan_discriminator` with each image weighted
    (``1 - z`` for ``D_S``, ``z`` for ``D_T``): ``1/2 mean_b[w_b (mean (D(real_b) - 1)^2 +
    mean D(fake_b)^2)]``. Shapes: ``B x 1 x h x w``, ``B x 1 x h x w``, ``B``."""
    w = weight.reshape(-1).to(d_real.dtype)
    real = ((d_real - 1.0) ** 2).flatten(1).mean(1)
    fake = (d_fake ** 2).flatten(1).mean(1)
    return 0.5 * (w * (real + fake)).mean()


def dlow_cycle(x: Tensor, reconstructed: Tensor) -> Tensor:
    """DLOW's cycle term: the source image is recovered from any intermediate domain,
    ``mean |F(G(x_s, z), z) - x_s|`` (the same L1 as :func:`cycle_loss`; shapes ``B x 3 x H x W``)."""
    return cycle_loss(x, reconstructed)


def domainness_weight(z: Tensor, form: str = "sqrt_one_minus_z") -> Tensor:
    """DLOW's stage 2 (Gong et al., CVPR 2019, Sec. 4.1): how much the adversarial term counts
    for a training image translated at domainness ``z``.

    An image at ``z`` near 1 already looks like the target, so there is less left to align: its
    weight falls from 1 at ``z = 0`` to 0 at ``z = 1``.

    ``form``: ``"sqrt_one_minus_z"`` -> ``w = sqrt(1 - z)`` (our reading of the paper; see
    docs/choices.md), ``"one_minus_z"`` -> ``w = 1 - z``, ``"none"`` -> ``w = 1`` (AdaptSegNet's
    unweighted term). ``z``: any shape, values in ``[0, 1]``; returns ``w`` of the same shape.
    """
    if form == "none":
        return torch.ones_like(z)
    if form == "one_minus_z":
        return 1.0 - z
    if form == "sqrt_one_minus_z":
        return (1.0 - z).clamp_min(0.0).sqrt()
    raise ValueError(f"dlow_adv_weighting: expected one of {DLOW_ADV_WEIGHTING}, got {form!r}")


@torch.no_grad()
def ema_update(teacher: nn.Module, student: nn.Module, alpha: float) -> None:
    """The mean teacher (Tarvainen and Valpola 2017; TGCF-DA Sec. 3.2), in place:

    ``theta'_t = alpha * theta'_{t-1} + (1 - alpha) * theta_t`` for every parameter; buffers
    (batch-norm statistics) are copied from the student.
    """
    if not 0.0 <= alpha <= 1.0:
        raise ValueError(f"ema_update: alpha must be in [0, 1], got {alpha}")
    for pt, ps in zip(teacher.parameters(), student.parameters()):
        pt.mul_(alpha).add_(ps.detach(), alpha=1.0 - alpha)
    for bt, bs in zip(teacher.buffers(), student.buffers()):
        bt.copy_(bs)


def consistency_loss(student_logits: Tensor, teacher_logits: Tensor, mask: Optional[Tensor] = None) -> Tensor:
    """Self-ensembling consistency (French et al. 2018; TGCF-DA Eq. (7)): mean squared difference
    of the class probabilities, ``mean_{b,k,h,w} (softmax(s) - softmax(t))^2``, the teacher's side
    detached.

    Args:
        student_logits, teacher_logits: ``B x K x H x W``.
        mask: optional ``B x H x W`` 0/1 weights (e.g. a confidence threshold); ``None`` = all pixels.
    """
    diff = (F.softmax(student_logits, 1) - F.softmax(teacher_logits.detach(), 1)) ** 2
    if mask is None:
        return diff.mean()
    m = mask.to(diff.dtype).unsqueeze(1)
    return (diff * m).sum() / (m.sum() * diff.shape[1]).clamp_min(1.0)
