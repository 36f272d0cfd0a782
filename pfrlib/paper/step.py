"""One adaptation iteration, as the paper writes it: Eq. (1)-(5) computed, Eq. (6) minimised.

Two pure functions (no files, no logging, no data loading), called once each per iteration by
:class:`pfrlib.engine.trainer.Trainer`, and by notebooks 04-05 to show the whole iteration on one screen:

:func:`network_step` - the segmentation network's update (AdaptSegNet's Algorithm, Sec. 3.3):

1. discriminators frozen; **source forward**, Eq. (1) on the logits upsampled to the label size;
2. **target forward** (images only), the fooling side of Eq. (5) on its softmax;
3. **PFR**, Eq. (4), between the stage features of those *same* two forwards (no extra pass);
4. **Eq. (6)**: :func:`pfrlib.paper.losses.total_loss` of the terms, one backward, one optimiser step.

:func:`discriminator_step` - the discriminator side of Eq. (5) on the *detached* softmax outputs
of step 1-2 (source labelled 0, target 1), one optimiser step per discriminator.

A method is a set of loss weights (``LossConfig.effective_weights``): ``source_only`` computes
only ``seg`` and skips the target forward, ``pfr`` has no discriminator, ``oracle`` is
``source_only`` on the labelled target set. AdaptSegNet's multi-level model adds ``seg_aux`` and
``adv_aux`` (its auxiliary head on stage 4, with its own discriminator).

The Table-1 baselines (``clan``, ``fcn_wild``, ``road``, ``curriculum``: :mod:`pfrlib.methods.baselines`)
use the same two forwards and add one call after step 3: ``baseline.network_terms`` returns
their terms (summed into Eq. 6 with their weights) and, per discriminator of theirs, a
:class:`~pfrlib.methods.baselines.DiscriminatorInputs` (features instead of softmax, or their own
discriminator loss) that :func:`discriminator_step` trains it on.

Precision: under ``autocast=True`` (bf16, on by default on CUDA) the whole network step runs in
one autocast region: forwards, upsampling, softmax, the discriminators and PFR. What needs
float32 gets it: the cross-entropy and BCE losses (autocast's float32 list), the softmax, and the
Gram products (:func:`pfrlib.paper.losses.gram_matrix` leaves autocast for its ``bmm``).

Nothing here reads a value back to the host: the loss terms stay on the device (the run loop
checks them for NaN/inf with :class:`pfrlib.engine.watchdog.FiniteCheck`, once per log interval), and the labels are
not range-checked per batch (datasets check each item when they load it).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Callable, Mapping, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from pfrlib.paper import losses

__all__ = ["DiscriminatorInputs", "BaselineInputs", "BaselineTerms", "Baseline", "StepExtras", "NetworkStep",
           "network_step", "discriminator_step", "upsample", "d_accuracy"]


@dataclass
class DiscriminatorInputs:
    """What :func:`pfrlib.paper.step.discriminator_step` trains one discriminator on.

    Attributes:
        source, target: its inputs, attached to the graph (detached by the step): logits
            (B x K x H x W, with ``softmax=True``) or features (B x C x h x w, ``softmax=False``).
        softmax: apply the softmax over dim 1 first (output-space discriminators).
        loss: ``loss(d_src, d_tgt) -> scalar``, the discriminator's loss on its two outputs;
            ``None`` = :func:`pfrlib.paper.losses.discriminator_loss` (Eq. 5, the step's GAN kind).
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
        logs: detached scalars worth logging (e.g. the discrepancy map's statistics), written to
            ``metrics.jsonl`` with the loss terms at each logged iteration.
    """

    terms: dict[str, Tensor] = field(default_factory=dict)
    outputs: dict[str, DiscriminatorInputs] = field(default_factory=dict)
    logs: dict[str, Tensor] = field(default_factory=dict)


class Baseline(nn.Module):
    """A Table-1 baseline: extra loss terms on the engine's forwards, and the modules they need.

    Subclasses implement :meth:`network_terms` (the method registry, :mod:`pfrlib.methods`, names
    each one's ``--method``); they may override
    :meth:`build_discriminators` and :meth:`trainable_modules`. ``callables`` maps a trainable
    submodule's name to what to call in the step (the run loop puts a
    ``DistributedDataParallel`` wrapper there under ``torchrun``).
    """

    #: The constructor takes the labelled source training set as a third argument
    #: (:func:`pfrlib.methods.baselines.build_baseline` passes it).
    needs_source_labels: bool = False
    #: Keys of :attr:`BaselineTerms.logs` that ``final.json`` summarises over the logged iterations
    #: (:attr:`pfrlib.engine.record.FinalRecord.method_stats`; CLAN: its discrepancy map's statistics).
    summary_logs: tuple[str, ...] = ()
    #: The step forwards the target batch through the network (its terms read that forward). False:
    #: the target images are only read by :meth:`source_images` (histogram matching), and the step
    #: is source only's (no target forward, so no normalisation statistics from the target).
    forwards_target: bool = True

    def __init__(self) -> None:
        super().__init__()
        self.callables: dict[str, Callable] = {}

    def build_discriminators(self) -> dict[str, nn.Module]:
        """New discriminators, by key (trained by :func:`pfrlib.paper.step.discriminator_step`)."""
        return {}

    def trainable_modules(self) -> dict[str, nn.Module]:
        """Submodules trained with the segmentation network's optimiser (one extra param group)."""
        return {}

    def source_images(self, xs: Tensor, xt: Tensor) -> Tensor:
        """The source images this iteration trains on, from its raw source and target batches.

        The run loop calls it before it normalises the images (both B x 3 x H x W RGB on the
        0..255 scale, uint8 or float, on the device); the default keeps ``xs``. FDA
        (:mod:`pfrlib.methods.beyond.fda`) returns the source batch with the target batch's
        low-frequency amplitude spectrum. It must draw no random number (a resume stays bit-exact).
        """
        return xs

    def call(self, name: str, *args, **kwargs):
        """Call submodule ``name`` through its ``callables`` entry (a DDP wrapper) if any."""
        fn = self.callables.get(name) or getattr(self, name)
        return fn(*args, **kwargs)

    def network_terms(self, inputs: BaselineInputs) -> BaselineTerms:  # pragma: no cover (abstract)
        raise NotImplementedError


@dataclass
class StepExtras:
    """What one step needs beyond the batch, the networks and Eq. (6)'s weights.

    A method's hooks (each ``None`` or neutral for the ladder of Eq. 6) and the run's execution
    options; the run loop builds one per iteration (:meth:`pfrlib.engine.trainer.Trainer.step_extras`,
    which a method's trainer overrides).

    Attributes:
        baseline: a method's extra terms on the step's two forwards (a Table-1 baseline,
            :mod:`pfrlib.methods.baselines`, or the mean teacher); ``discriminators`` then
            includes its discriminators.
        adv_weight: per-source-image weights ``B`` (DLOW's stage 2: each translated image's
            :func:`~pfrlib.methods.translation.losses.domainness_weight`); ``adv`` / ``adv_aux`` are
            multiplied by their mean (at the paper's batch of one, by that image's own weight:
            target and source images are not paired) and the mean is logged as ``adv_weight``.
        target_size: ``(H, W)`` the target logits are upsampled to; ``None``: the target images'
            size. Source logits go to the labels' size. (With CLAN's rescaled inputs,
            ``DataConfig.image_scales``, both are the fixed sizes, not the inputs'.)
        iteration, horizon: iterations done so far and the schedule length (CLAN's preheat and
            damping, Curriculum's start).
        autocast: bf16 autocast over the forwards and losses (see the module docstring).
        grad_clip: clip the gradient norm of ``clip_parameters`` to this value (``None``: no clip).
    """

    baseline: Optional[Baseline] = None
    adv_weight: Optional[Tensor] = None
    target_size: Optional[Sequence[int]] = None
    iteration: int = 0
    horizon: int = 1
    autocast: bool = False
    grad_clip: Optional[float] = None
    clip_parameters: Optional[Sequence[Tensor]] = None


@dataclass
class NetworkStep:
    """What :func:`network_step` computed (all tensors on the device).

    Attributes:
        terms: the unweighted loss terms of Eq. (6) this method uses (``seg``, ``seg_aux``,
            ``adv``, ``adv_aux``, ``pfr``), scalars still attached to the graph until backward.
        total: Eq. (6), the weighted sum that was back-propagated.
        stage_terms: PFR's per-stage style and content terms (``pfr_style_2`` ...), detached.
        outputs: for each discriminator (``"main"``, ``"aux"``) the source and target logits
            (B x K x H x W, upsampled) whose detached softmax the discriminator step judges; a
            baseline's discriminators get a :class:`~pfrlib.methods.baselines.DiscriminatorInputs`.
        forwards: how many forward passes of the network this step made (1 or 2).
    """

    terms: dict[str, Tensor]
    total: Tensor
    stage_terms: dict[str, Tensor] = field(default_factory=dict)
    outputs: dict[str, "tuple[Tensor, Tensor] | DiscriminatorInputs"] = field(default_factory=dict)
    forwards: int = 0


def upsample(logits: Tensor, size: Sequence[int]) -> Tensor:
    """(B, K, h, w) logits -> (B, K, H, W), bilinear with ``align_corners=True`` (AdaptSegNet)."""
    if tuple(logits.shape[-2:]) == tuple(size):
        return logits
    return F.interpolate(logits, size=tuple(size), mode="bilinear", align_corners=True)


def _autocast(device: torch.device, enabled: bool):
    if enabled:
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def network_step(
    net: Callable,
    discriminators: Mapping[str, nn.Module],
    optimizer: torch.optim.Optimizer,
    source: tuple[Tensor, Tensor],
    target: Optional[Tensor],
    weights: Mapping[str, float],
    loss_cfg,
    extras: Optional[StepExtras] = None,
) -> NetworkStep:
    """One update of the segmentation network by Eq. (6).

    Args:
        net: the segmentation network (or its ``DistributedDataParallel`` wrapper); in train mode.
            A network with AdaptSegNet's auxiliary head (``aux_logits``) adds ``seg_aux`` and
            ``adv_aux``.
        discriminators: ``{"main": D}`` (and ``"aux"`` for multi-level), frozen here; empty when
            the method has no adversarial term.
        optimizer: the network's optimiser (gradients are zeroed here, then stepped).
        source: ``(x_s, y_s)``: normalised images B x 3 x H x W and labels B x H x W.
        target: normalised target images B x 3 x H' x W' (never their labels), or ``None`` for
            ``source_only`` / ``oracle``.
        weights: the loss weights of Eq. (6) (``TrainConfig.effective_weights()``).
        loss_cfg: a :class:`pfrlib.config.sections.LossConfig` (PFR stages, weights, options; GAN kind).
        extras: a method's hooks and the run's execution options (:class:`StepExtras`); ``None``:
            none of them.

    Returns:
        :class:`NetworkStep` (terms, total, per-stage PFR terms, the outputs the discriminator
        step needs, the number of forwards).
    """
    ex = extras or StepExtras()
    baseline, adv_weight, target_size = ex.baseline, ex.adv_weight, ex.target_size
    xs, ys = source
    use_adv = weights.get("adv", 0) > 0 or weights.get("adv_aux", 0) > 0
    use_pfr = weights.get("pfr", 0) > 0
    optimizer.zero_grad(set_to_none=True)
    for d in discriminators.values():
        d.requires_grad_(False)  # frozen while the segmentation network learns

    terms: dict[str, Tensor] = {}
    stage_terms: dict[str, Tensor] = {}
    outputs: dict[str, tuple[Tensor, Tensor]] = {}
    forwards = 0
    with _autocast(xs.device, ex.autocast):
        # 1. source forward, Eq. (1)
        out_s = net(xs)
        forwards += 1
        logits_s = upsample(out_s.logits, ys.shape[-2:])
        terms["seg"] = losses.segmentation_loss(logits_s, ys, check=False)
        aux_s = None
        multi_level = out_s.aux_logits is not None
        if multi_level:
            aux_s = upsample(out_s.aux_logits, ys.shape[-2:])
            terms["seg_aux"] = losses.segmentation_loss(aux_s, ys, check=False)

        if target is not None:
            size_t = target.shape[-2:] if target_size is None else tuple(target_size)
            # 2. target forward, fooling side of Eq. (5): make D call the target "source"
            out_t = net(target)
            forwards += 1
            if use_adv:
                logits_t = upsample(out_t.logits, size_t)
                d_out = discriminators["main"](F.softmax(logits_t, dim=1))
                terms["adv"] = losses.generator_loss(d_out, loss_cfg.gan)
                outputs["main"] = (logits_s, logits_t)
                if multi_level:
                    aux_t = upsample(out_t.aux_logits, size_t)
                    d_aux = discriminators["aux"](F.softmax(aux_t, dim=1))
                    terms["adv_aux"] = losses.generator_loss(d_aux, loss_cfg.gan)
                    outputs["aux"] = (aux_s, aux_t)
                if adv_weight is not None:  # DLOW: the batch's translated images' domainness weight
                    scale = adv_weight.to(terms["adv"].dtype).mean()
                    for key in ("adv", "adv_aux"):
                        if key in terms:
                            terms[key] = terms[key] * scale
                    stage_terms["adv_weight"] = scale.detach()
            # 3. PFR, Eq. (4), on the stage features of the two forwards above
            if use_pfr:
                feats_s = list(out_s.features)
                if loss_cfg.pfr_detach_source:
                    feats_s = [f.detach() for f in feats_s]
                pfr = losses.pfr_loss(
                    feats_s, list(out_t.features),
                    stages=tuple(loss_cfg.pfr_stages),
                    style_weight=loss_cfg.style_weight,
                    content_weight=loss_cfg.content_weight,
                    gram_normalize=loss_cfg.gram_normalize,
                    content_form=loss_cfg.content_form,
                    style_pairing=loss_cfg.style_pairing,
                )
                terms["pfr"] = pfr.total
                stage_terms.update({f"pfr_style_{s}": v for s, v in pfr.style.items()})
                stage_terms.update({f"pfr_content_{s}": v for s, v in pfr.content.items()})
            # a Table-1 baseline's terms on the same two forwards
            if baseline is not None:
                extra = baseline.network_terms(BaselineInputs(
                    out_s=out_s, out_t=out_t, xs=xs, ys=ys, xt=target, logits_s=logits_s,
                    logits_t=upsample(out_t.logits, size_t), discriminators=discriminators,
                    iteration=ex.iteration, horizon=ex.horizon, gan=loss_cfg.gan))
                terms.update(extra.terms)
                outputs.update(extra.outputs)
                stage_terms.update({k: v.detach() for k, v in extra.logs.items()})

    # 4. Eq. (6), one backward, one step
    total = losses.total_loss(terms, weights)
    total.backward()
    if ex.grad_clip is not None:
        torch.nn.utils.clip_grad_norm_(list(ex.clip_parameters or []), ex.grad_clip)
    optimizer.step()
    return NetworkStep(terms=terms, total=total, stage_terms=stage_terms, outputs=outputs, forwards=forwards)


def discriminator_step(
    d_nets: Mapping[str, Callable],
    discriminators: Mapping[str, nn.Module],
    optimizers: Mapping[str, torch.optim.Optimizer],
    outputs: Mapping[str, tuple[Tensor, Tensor]],
    gan: str = "bce",
    *,
    autocast: bool = False,
) -> dict[str, Tensor]:
    """The discriminator side of Eq. (5): one update of each discriminator.

    Args:
        d_nets: the discriminators to call (``DistributedDataParallel`` wrappers under torchrun).
        discriminators: the same, unwrapped (their ``requires_grad`` is switched back on here).
        optimizers: one per discriminator.
        outputs: :attr:`NetworkStep.outputs`: source and target logits per discriminator (their
            softmax is *detached*, so this step never changes the segmentation network), or a
            baseline's :class:`~pfrlib.methods.baselines.DiscriminatorInputs` (features, or its own loss).
        gan: ``"bce"`` (AdaptSegNet) or ``"lsgan"``.

    Returns:
        Detached scalars: ``d`` (and ``d_aux``; a baseline's ``d_feature``, ``d_regions``), and for
        the main discriminator the fraction of its outputs on the right side of the decision
        threshold, ``d_acc_source`` / ``d_acc_target``.
    """
    logs: dict[str, Tensor] = {}
    for key, entry in outputs.items():
        if not isinstance(entry, DiscriminatorInputs):
            entry = DiscriminatorInputs(*entry)  # (source logits, target logits): Eq. (5) on softmax
        d, opt = discriminators[key], optimizers[key]
        d.requires_grad_(True)
        opt.zero_grad(set_to_none=True)
        with _autocast(entry.source.device, autocast):
            src, tgt = entry.source.detach(), entry.target.detach()
            if entry.softmax:
                src, tgt = F.softmax(src, dim=1), F.softmax(tgt, dim=1)
            d_src = d_nets[key](src)
            d_tgt = d_nets[key](tgt)
            loss_d = losses.discriminator_loss(d_src, d_tgt, gan) if entry.loss is None else entry.loss(d_src, d_tgt)
        loss_d.backward()
        opt.step()
        name = {"main": "d", "aux": "d_aux"}.get(key, f"d_{key}")
        logs[name] = loss_d.detach()
        if key == "main":
            logs["d_acc_source"], logs["d_acc_target"] = d_accuracy(d_src.detach(), d_tgt.detach(), gan)
    return logs


def d_accuracy(d_src: Tensor, d_tgt: Tensor, gan: str) -> tuple[Tensor, Tensor]:
    """Fraction of discriminator outputs on the right side of the decision threshold (device scalars)."""
    thr = 0.0 if gan == "bce" else 0.5  # logits vs least-squares outputs
    acc_s = ((d_src > thr) == (losses.SOURCE_LABEL > 0.5)).float().mean()
    acc_t = ((d_tgt > thr) == (losses.TARGET_LABEL > 0.5)).float().mean()
    return acc_s, acc_t
