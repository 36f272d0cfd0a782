"""CLAN: category-level adversaries (Luo, Zheng, Guan, Yu, Yang, CVPR 2019), ``--method clan``.

The paper's method section and its released code (RoyalVane/CLAN, ``CLAN_train.py``), on this
engine (the paper's loss names are kept; equation numbers are not cited because we could not
check them against the paper text here):

* the network has two classifiers ``C1``, ``C2`` on the stage-5 features and predicts
  ``p = p1 + p2`` (:class:`pfrlib.models.TwoClassifierNet`, ``ModelConfig.classifiers = 2``);
* **segmentation**: ``L_seg = CE(p1, y) + CE(p2, y)`` on source (it replaces Eq. 1 of the
  summed prediction; CLAN's code uses a focal variant of CE, :func:`focal_segmentation_loss`,
  an option (``clan_focal_gamma``); by default we keep the engine's CE so that the table's rows
  differ only by their adaptation terms);
* **weight discrepancy loss**: ``L_weight = cos(w1, w2) = w1 . w2 / (|w1| |w2|)``, the
  cosine similarity of the two classifiers' flattened weights (:func:`weight_discrepancy_loss`;
  the code adds 1 to keep it positive, a constant that changes no gradient);
* **local alignment score map** (the discrepancy map): ``M = 1 - cos(p1_t, p2_t)`` per target pixel, the cosine
  distance of the two softmax outputs (:func:`discrepancy_map`), 0 where they agree;
* **category-level (adaptive) adversarial loss**: the output-space discriminator ``D`` judges
  ``softmax(p1 + p2)``; on target its per-pixel loss is weighted by ``lambda_local * M + epsilon``
  (:func:`weighted_adversarial_loss`), for the fooling side (``M`` attached, as in the code) and
  for ``D``'s target half (``M`` detached), after a preheat with the plain loss;
* the code multiplies both adaptation terms by ``damping = 1 - iteration / horizon``.

Each logged iteration records the map's mean, 95th percentile and the share of target pixels it
weights (:func:`map_statistics`, :data:`MAP_STATS`); ``final.json`` summarises them
(``method_stats``). At the ``cpu`` scale the map stays near 0 and weights few pixels; why, point by
point against CLAN's code: ``docs/choices.md``, "Does CLAN's discrepancy map weight?".

Defaults (:class:`pfrlib.config.CLANConfig`) are the code's GTA5 values: ``lambda_adv = 0.001``,
``lambda_weight = 0.01 x 2``, ``lambda_local = 40``, ``epsilon = 0.4``, preheat 1/20 of the run;
D's source half is upsampled to the source size as in the code (``clan_d_source_size``). The
``paper`` preset with ``--method clan`` trains CLAN's recipe (:meth:`CLANConfig.paper_overrides`:
100k iterations after a linear learning-rate warm-up over the preheat, no auxiliary head, four
ASPP branches, mirroring, and its random rescaling of the input images by 0.8 / 1.0 / 1.1 with the
predictions upsampled to the fixed label sizes: ``DataConfig.image_scales``). Its focal CE is an
option (``clan_focal_gamma = 2``), off by default; every difference: ``docs/baselines.md``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import partial
from typing import Any, Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from pfrlib.data.labels import IGNORE_INDEX
from pfrlib.paper.losses import segmentation_loss
from pfrlib.models.discriminator import FCDiscriminator
from pfrlib.paper.step import Baseline, BaselineInputs, BaselineTerms, DiscriminatorInputs
from pfrlib.methods.baselines.common import check_weights, per_element_adversarial

__all__ = ["CLANConfig", "CLAN", "D_SOURCE_SIZES", "CLAN_IMAGE_SCALES", "WEIGHTED_MARGIN", "MAP_STATS", "discrepancy_map",
           "map_statistics", "weight_discrepancy_loss", "weighted_adversarial_loss", "clan_discriminator_loss",
           "clan_factors", "focal_segmentation_loss"]


#: Where the discriminator's per-pixel loss on the *source* half is taken: ``"source"`` (its output
#: upsampled to the source image size, as CLAN's ``CLAN_train.py`` does with ``interp_source``) or
#: ``"target"`` (upsampled to the target map's size, this project's first version).
D_SOURCE_SIZES: tuple[str, ...] = ("source", "target")

#: CLAN's input rescaling factors as ``DataConfig.image_scales`` (drawn uniformly): 0.8 three
#: times, 1.0 four times, 1.1 three times, the 30 / 40 / 30 % of its datasets' ``__scale__``.
CLAN_IMAGE_SCALES: tuple[float, ...] = (0.8,) * 3 + (1.0,) * 4 + (1.1,) * 3

#: A target pixel counts as *weighted* when its adversarial weight ``lambda_local * M + epsilon``
#: exceeds ``WEIGHTED_MARGIN x epsilon``: the map at least doubles the weight it would have where
#: the classifiers agree (``M > epsilon / lambda_local``, 0.01 at CLAN's GTA5 values).
WEIGHTED_MARGIN: float = 2.0

#: The discrepancy map's statistics logged per iteration (``metrics.jsonl``) and summarised in
#: ``final.json`` (:func:`map_statistics`): its mean, its 95th percentile over the target pixels,
#: and the share of target pixels weighted above :data:`WEIGHTED_MARGIN` x epsilon.
MAP_STATS: tuple[str, ...] = ("clan_map_mean", "clan_map_p95", "clan_map_weighted")


@dataclass
class CLANConfig:
    """``--method clan`` (Luo et al., CVPR 2019; :mod:`pfrlib.methods.baselines.clan`).

    Defaults: CLAN's released GTA5 -> Cityscapes script (``Lambda_adv``, ``Lambda_weight`` x its
    factor 2, ``Lambda_local``, ``Epsilon``, ``PREHEAT_STEPS`` = 1/20 of the run, the linear damping).
    """

    #: Weight of the category-level adversarial loss (CLAN: 0.001).
    clan_lambda_adv: float = 0.001
    #: Weight of the weight-discrepancy loss (CLAN's code: 0.01, doubled in its loss: 0.02).
    clan_lambda_weight: float = 0.02
    #: ``lambda_local``: how much the discrepancy map scales the adversarial loss (CLAN: 40).
    clan_lambda_local: float = 40.0
    #: ``epsilon``: the adversarial weight where the two classifiers agree (CLAN: 0.4).
    clan_epsilon: float = 0.4
    #: Fraction of the poly horizon trained with the unweighted adversarial loss first (CLAN: 1/20).
    clan_preheat: float = 0.05
    #: Multiply both CLAN terms by ``1 - iteration / horizon`` (CLAN's ``damping``).
    clan_damping: bool = True
    #: The size D's source-half output is upsampled to before its mean (:data:`D_SOURCE_SIZES`;
    #: CLAN's code: ``"source"``). The two agree when source and target images have one size.
    clan_d_source_size: str = "source"
    #: ``gamma`` of the focal cross-entropy on both classifiers (CLAN's code, ``CrossEntropy2d``:
    #: 2); 0 = the engine's plain cross-entropy (our default at both scales, so Table 1's rows
    #: differ only by their adaptation terms: ``docs/baselines.md``).
    clan_focal_gamma: float = 0.0

    def loss_weights(self) -> dict[str, float]:
        """The weights of CLAN's terms in Eq. (6)'s sum (``TrainConfig.effective_weights``)."""
        return {"clan_adv": self.clan_lambda_adv, "clan_discrepancy": self.clan_lambda_weight}

    @classmethod
    def cpu(cls) -> "CLANConfig":
        """The ``cpu`` preset's values (chosen on seed 0; ``docs/tuning.md``, "Table 1 baselines")."""
        return cls(clan_lambda_adv=0.01)

    @staticmethod
    def paper_overrides() -> dict[str, Any]:
        """What the ``paper`` preset changes for ``--method clan``: CLAN's own recipe
        (RoyalVane/CLAN, ``CLAN_train.py`` and ``model/CLAN_G.py``; ``docs/baselines.md``).

        ``NUM_STEPS = NUM_STEPS_STOP = 100000`` with the poly rate over the same 100k (so the
        preheat ends at 5,000 and the damping ``1 - i/100000`` reaches 0) after a linear warm-up of
        both learning rates over the preheat (``lr_warmup``, ``warmup_fraction`` 1/20); the two classifiers
        ``layer5``, ``layer6`` both on ``layer4`` and no auxiliary head on ``layer3``; each
        ``Classifier_Module`` summing all four ASPP branches; the loaders' random mirroring
        (``mirror=True``) and rescaling (``scale=True``: ``__scale__`` in ``dataset/gta5_dataset.py``
        and ``dataset/cityscapes_dataset.py`` draws ``r = random.random()`` and resizes the image to
        ``int(size * 1.1)`` if ``r > 0.7``, ``int(size * 0.8)`` if ``r < 0.3``, else ``size``: 30 / 40 /
        30 %, the factors repeated here in that proportion; the GTA5 label stays at ``crop_size``
        and ``interp_source`` / ``interp_target`` upsample the predictions to the fixed sizes). The
        SGD / Adam settings, sizes and batch are AdaptSegNet's, as the ``paper`` preset already has them.
        """
        return {"iterations": 100_000, "schedule_iterations": None, "warmup_fraction": 0.05, "multi_level": False,
                "aspp_branches": 4, "hflip": True, "image_scales": CLAN_IMAGE_SCALES}

    def validate(self, check_paths: bool = True) -> None:
        """Reject bad values (checked whatever the method: a config file stays valid)."""
        check_weights(self, "clan_lambda_adv", "clan_lambda_weight", "clan_lambda_local", "clan_epsilon",
                      "clan_focal_gamma")
        if not (0 <= self.clan_preheat <= 1):
            raise ValueError(f"clan_preheat must be a fraction of the run in [0, 1], got {self.clan_preheat}")
        if self.clan_d_source_size not in D_SOURCE_SIZES:
            raise ValueError(f"clan_d_source_size must be one of {D_SOURCE_SIZES}, got {self.clan_d_source_size!r}")


def discrepancy_map(p1: Tensor, p2: Tensor, eps: float = 1e-12) -> Tensor:
    """CLAN's local alignment score map: ``M = 1 - (p1 . p2) / (|p1| |p2|)`` per pixel, over the class dimension.

    Args:
        p1, p2: B x K x H x W softmax outputs of the two classifiers.

    Returns:
        B x 1 x H x W in [0, 1] for probabilities: 0 where the two agree up to scale.
    """
    if p1.shape != p2.shape or p1.dim() != 4:
        raise ValueError(f"p1, p2: expected two B x K x H x W maps of one shape, got {tuple(p1.shape)} and {tuple(p2.shape)}")
    dot = (p1 * p2).sum(dim=1, keepdim=True)
    norms = p1.norm(dim=1, keepdim=True) * p2.norm(dim=1, keepdim=True)
    return 1.0 - dot / norms.clamp_min(eps)


def map_statistics(weight_map: Tensor, epsilon: float, lambda_local: float) -> dict[str, Tensor]:
    """The discrepancy map's statistics (:data:`MAP_STATS`), device scalars read back only when logged.

    Args:
        weight_map: B x 1 x H x W discrepancy map (:func:`discrepancy_map`).
        epsilon, lambda_local: CLAN's ``Epsilon`` and ``Lambda_local``.

    Returns:
        ``clan_map_mean``: mean of ``M``; ``clan_map_p95``: its 95th percentile over all pixels of
        the batch (the nearest-rank value: the ``ceil(0.95 n)``-th smallest); ``clan_map_weighted``:
        the share of pixels whose weight ``lambda_local * M + epsilon`` exceeds
        ``WEIGHTED_MARGIN * epsilon``.
    """
    m = weight_map.detach().float().reshape(-1)
    k = max(1, math.ceil(0.95 * m.numel()))
    p95 = m.kthvalue(k).values
    weighted = ((lambda_local * m + epsilon) > WEIGHTED_MARGIN * epsilon).float().mean()
    return dict(zip(MAP_STATS, (m.mean(), p95, weighted)))


def weight_discrepancy_loss(head1: nn.Module, head2: nn.Module) -> Tensor:
    """CLAN's weight discrepancy loss: cosine similarity of the two classifiers' flattened trainable weights.

    ``w_k`` concatenates every parameter of classifier ``k`` that is trained (frozen ASPP branches
    never reach the prediction and are left out), in the same order for both.

    Args:
        head1, head2: two classifiers of the same structure.

    Returns:
        Scalar in [-1, 1]: 1 for identical classifiers, 0 for orthogonal weights.
    """
    p1 = [p for p in head1.parameters() if p.requires_grad]
    p2 = [p for p in head2.parameters() if p.requires_grad]
    if len(p1) != len(p2) or any(a.shape != b.shape for a, b in zip(p1, p2)) or not p1:
        raise ValueError("weight_discrepancy_loss: the two classifiers must have the same trainable parameters")
    w1 = torch.cat([p.reshape(-1) for p in p1]).float()
    w2 = torch.cat([p.reshape(-1) for p in p2]).float()
    return torch.dot(w1, w2) / (w1.norm() * w2.norm()).clamp_min(1e-12)


def weighted_adversarial_loss(d_out: Tensor, value: float, weight_map: Tensor, epsilon: float,
                              lambda_local: float, kind: str = "bce") -> Tensor:
    """CLAN's category-level adversarial loss: the adversarial loss per pixel weighted by ``lambda_local * M + epsilon``.

    Args:
        d_out: discriminator outputs B x 1 x h' x w'; upsampled bilinearly to ``weight_map``'s
            size first (as CLAN's code does).
        value: the domain label (0 = source: the fooling side; 1 = target: D's target half).
        weight_map: B x 1 x H x W discrepancy map :func:`discrepancy_map`.
        epsilon, lambda_local: CLAN's ``Epsilon`` and ``Lambda_local``.
        kind: ``"bce"`` or ``"lsgan"``.

    Returns:
        Scalar: the mean over pixels of ``(epsilon + lambda_local * M) * l(D(x), value)``.
    """
    if d_out.shape[-2:] != weight_map.shape[-2:]:
        d_out = F.interpolate(d_out, size=weight_map.shape[-2:], mode="bilinear", align_corners=True)
    per = per_element_adversarial(d_out, value, kind)
    return ((epsilon + lambda_local * weight_map.float()) * per).mean()


def clan_discriminator_loss(d_src: Tensor, d_tgt: Tensor, weight_map: Tensor, epsilon: float,
                            lambda_local: float, weighted: bool, kind: str = "bce",
                            source_size: Optional[tuple[int, int]] = None) -> Tensor:
    """CLAN's discriminator update: plain loss on source (label 0) + weighted loss on target (1).

    Args:
        d_src, d_tgt: D's outputs on the detached source / target softmax (B x 1 x h' x w').
        weight_map: the detached target discrepancy map, B x 1 x H x W.
        weighted: after the preheat (before it, both halves are plain, as in CLAN's code).
        source_size: ``(H_s, W_s)`` D's source output is upsampled to before its mean (CLAN's
            code: the source image size); None = the weight map's (target) size.

    Returns:
        Scalar: the sum of the two halves (CLAN back-propagates each; no 0.5 factor).
    """
    size = weight_map.shape[-2:] if source_size is None else tuple(source_size)
    d_src = F.interpolate(d_src, size=size, mode="bilinear", align_corners=True) if d_src.shape[-2:] != size else d_src
    src = per_element_adversarial(d_src, 0.0, kind).mean()
    if weighted:
        tgt = weighted_adversarial_loss(d_tgt, 1.0, weight_map, epsilon, lambda_local, kind)
    else:
        tgt = weighted_adversarial_loss(d_tgt, 1.0, torch.zeros_like(weight_map), 1.0, 0.0, kind)
    return src + tgt


def focal_segmentation_loss(logits: Tensor, labels: Tensor, gamma: float, ignore_index: int = IGNORE_INDEX,
                            clamp: float = 1e-9) -> Tensor:
    """CLAN's segmentation loss (its ``utils/loss.py``, ``CrossEntropy2d``): the focal cross-entropy.

    ``mean over labelled pixels of -(1 - p_y)^gamma log p_y``, ``p_y`` the softmax of the true
    class clamped to ``[clamp, 1 - clamp]``; ``gamma = 0`` is the plain cross-entropy (up to the clamp).

    Args:
        logits: B x K x H x W scores (at the label size).
        labels: B x H x W class ids; ``ignore_index`` pixels do not count.

    Returns:
        Scalar (0 when no pixel is labelled).
    """
    p = F.softmax(logits.float(), dim=1).clamp(clamp, 1.0 - clamp)
    labels = labels.long()
    valid = labels != ignore_index
    p_y = p.gather(1, torch.where(valid, labels, torch.zeros_like(labels)).unsqueeze(1)).squeeze(1)[valid]
    if p_y.numel() == 0:
        return logits.sum() * 0.0
    return (-(1.0 - p_y) ** gamma * p_y.log()).mean()


def clan_factors(iteration: int, horizon: int, preheat: float, damping: bool) -> tuple[bool, float]:
    """CLAN's schedule: ``(weighted, damping factor)`` for 0-based ``iteration`` of ``horizon``.

    The adaptive weighting starts after ``preheat * horizon`` iterations (CLAN: ``i > NUM_STEPS/20``);
    the damping factor is ``1 - iteration / horizon`` (1 without damping).
    """
    weighted = iteration > preheat * horizon
    factor = 1.0 - min(iteration, horizon) / horizon if damping else 1.0
    return weighted, factor


class CLAN(Baseline):
    """``--method clan``: the terms ``seg`` (replaced), ``clan_adv``, ``clan_discrepancy``.

    Uses the output-space discriminator ``"main"`` (AdaptSegNet's :class:`FCDiscriminator`).
    Needs a :class:`pfrlib.models.TwoClassifierNet`.
    """

    summary_logs = MAP_STATS

    def __init__(self, model: nn.Module, cfg) -> None:
        super().__init__()
        if not hasattr(model, "classifiers"):
            raise ValueError("classifiers: method 'clan' needs the two-classifier network (classifiers=2)")
        self.c = cfg.clan
        self.num_classes = cfg.model.num_classes
        self.ndf = cfg.model.ndf
        self._heads = model.classifiers  # a bound method: not a submodule (the model owns the heads)

    def build_discriminators(self) -> dict[str, nn.Module]:
        return {"main": FCDiscriminator(self.num_classes, ndf=self.ndf)}

    def network_terms(self, inp: BaselineInputs) -> BaselineTerms:
        c = self.c
        weighted, damping = clan_factors(inp.iteration, inp.horizon, c.clan_preheat, c.clan_damping)
        # the sizes the step upsampled to: the labels' (CLAN's interp_source / interp_target sizes)
        size_s, size_t = inp.logits_s.shape[-2:], inp.logits_t.shape[-2:]
        up = partial(F.interpolate, mode="bilinear", align_corners=True)
        s1, s2 = (up(t, size=size_s) for t in inp.out_s.head_logits)
        if c.clan_focal_gamma > 0:
            seg = (focal_segmentation_loss(s1, inp.ys, c.clan_focal_gamma)
                   + focal_segmentation_loss(s2, inp.ys, c.clan_focal_gamma))
        else:
            seg = segmentation_loss(s1, inp.ys, check=False) + segmentation_loss(s2, inp.ys, check=False)
        t1, t2 = (up(t, size=size_t) for t in inp.out_t.head_logits)
        wmap = discrepancy_map(F.softmax(t1.float(), dim=1), F.softmax(t2.float(), dim=1))
        d_out = inp.discriminators["main"](F.softmax(inp.logits_t, dim=1))
        if weighted:
            adv = weighted_adversarial_loss(d_out, 0.0, wmap, c.clan_epsilon, c.clan_lambda_local, inp.gan)
        else:
            adv = weighted_adversarial_loss(d_out, 0.0, torch.zeros_like(wmap), 1.0, 0.0, inp.gan)
        h1, h2 = self._heads()
        terms = {"seg": seg, "clan_adv": damping * adv, "clan_discrepancy": damping * weight_discrepancy_loss(h1, h2)}
        d_loss = partial(clan_discriminator_loss, weight_map=wmap.detach(), epsilon=c.clan_epsilon,
                         lambda_local=c.clan_lambda_local, weighted=weighted, kind=inp.gan,
                         source_size=tuple(size_s) if c.clan_d_source_size == "source" else None)
        outputs = {"main": DiscriminatorInputs(inp.logits_s, inp.logits_t, softmax=True, loss=d_loss)}
        return BaselineTerms(terms, outputs, map_statistics(wmap, c.clan_epsilon, c.clan_lambda_local))
