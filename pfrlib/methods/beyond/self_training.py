"""Self-training with class-wise confident pseudo-labels, ``--method self_training`` (and the
combinations ``pfr_adv_st``, ``adaptsegnet_st``).

An adapted model labels the target training images itself; its confident pixels become labels for
another training run, which repeats for ``st_rounds`` rounds (each round's model labels the
next round's images). This module is the method's mathematics and its configuration section; the
rounds (stage 1, the thresholds pass over the target set, the trainer) are
:mod:`pfrlib.engine.two_stage.self_training`.

* **class-wise thresholds** (:func:`class_thresholds`): CBST (Zou, Yu, Kumar, Wang, ECCV 2018,
  "class-balanced self-training") picks, per class, the most confident portion of the pixels
  predicted as that class, so rare classes keep pseudo-labels where one global threshold would
  leave only the frequent ones. BDL's code (Li, Yuan, Vasconcelos, CVPR 2019; liyunsheng13/BDL,
  ``SSL.py``) writes it as: over the whole target training set, sort the confidences of the
  pixels predicted as class ``c``, take the one at index ``round(n_c * 0.5)`` (the median) as
  ``c``'s threshold, and cap every threshold at 0.9. The confidences are gathered in a histogram
  (:func:`confidence_histogram`: a pass over thousands of images keeps ``K x 65536`` counts, not
  every pixel's confidence);
* **the pseudo-labels** (:func:`pseudo_labels`): each pixel's arg-max class where its confidence
  reaches that class's threshold, else 255 (ignored by the cross-entropy);
* **the loss**: Eq. (1) on source plus ``st_lambda`` times the cross-entropy of the target
  prediction against the pseudo-labels (:func:`pseudo_label_loss`; BDL: weight 1).

BDL's paper selects pixels by one confidence threshold (0.9) for every class; its code by the
class-wise percentile above. The code's is the default, the paper's an option
(``st_thresholds fixed``): docs/choices.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from pfrlib.data.labels import IGNORE_INDEX
from pfrlib.methods.baselines.common import check_weights
from pfrlib.paper.step import Baseline, BaselineInputs, BaselineTerms

__all__ = ["SelfTrainingConfig", "SelfTraining", "ST_THRESHOLDS", "ST_STARTS", "CONFIDENCE_BINS",
           "confidence_histogram", "class_thresholds", "pseudo_labels", "kept_per_class", "pseudo_label_loss"]

#: How a class's threshold is set: ``"class_percentile"`` (BDL's ``SSL.py``, CBST's class-balanced
#: selection) or ``"fixed"`` (BDL's paper: one threshold for every class).
ST_THRESHOLDS: tuple[str, ...] = ("class_percentile", "fixed")
#: Where each round's network starts: ``"adapted"`` (the model that labelled the images, as CBST
#: continues training it) or ``"init"`` (the network's own initialisation, as BDL's README
#: retrains from ``--init-weights``).
ST_STARTS: tuple[str, ...] = ("adapted", "init")
#: Bins of :func:`confidence_histogram` over [0, 1]: thresholds are exact to 1 / 65536.
CONFIDENCE_BINS = 2 ** 16


def confidence_histogram(prob: Tensor, bins: int = CONFIDENCE_BINS) -> Tensor:
    """Count each pixel's confidence under its predicted class: what :func:`class_thresholds` reads.

    Args:
        prob: B x K x H x W class probabilities (a softmax over dim 1).
        bins: equal bins over [0, 1]; a confidence ``q`` falls in bin ``floor(q * bins)`` (1.0 in
            the last).

    Returns:
        K x ``bins`` int64 counts: ``[c, b]`` is the number of pixels whose arg-max class is
        ``c`` and whose confidence ``max_k p_k`` falls in bin ``b``. Counts of several batches add up.
    """
    if prob.dim() != 4:
        raise ValueError(f"prob: expected B x K x H x W probabilities, got shape {tuple(prob.shape)}")
    k = prob.shape[1]
    conf, pred = prob.float().max(dim=1)
    b = (conf.clamp(0.0, 1.0) * bins).long().clamp_(max=bins - 1)
    flat = (pred * bins + b).flatten()
    return torch.bincount(flat, minlength=k * bins).view(k, bins)


def class_thresholds(histogram: Tensor, percentile: float = 0.5, max_threshold: float = 0.9,
                     mode: str = "class_percentile") -> Tensor:
    """Each class's confidence threshold for its pseudo-labels (CBST, Zou et al. 2018; BDL's ``SSL.py``).

    ``"class_percentile"``: the confidences of the ``n_c`` pixels predicted as class ``c``, sorted
    in increasing order, give ``c``'s threshold at index ``round(n_c * percentile)`` (at most
    ``n_c - 1``; ``round`` halves to even, as numpy's ``np.round`` in BDL's code), capped at
    ``max_threshold``; a class no pixel is predicted as gets 0 (BDL). With ``percentile`` 0.5 the
    more confident half of each class's pixels is kept (CBST's portion 0.5). ``"fixed"``:
    ``max_threshold`` for every class (BDL's paper).

    The confidences are read from a :func:`confidence_histogram`, so a threshold is the lower edge
    of the bin holding that rank's confidence: exact where the confidences are multiples of
    ``1 / bins``, otherwise below the exact value by less than ``1 / bins``.

    Args:
        histogram: K x bins counts (:func:`confidence_histogram`, summed over the target set).
        percentile: rank of the threshold among a class's confidences, in [0, 1].
        max_threshold: the cap, in (0, 1] (the one threshold with ``mode="fixed"``).
        mode: :data:`ST_THRESHOLDS`.

    Returns:
        K float32 thresholds in [0, ``max_threshold``].
    """
    if mode not in ST_THRESHOLDS:
        raise ValueError(f"st_thresholds: expected one of {ST_THRESHOLDS}, got {mode!r}")
    _check_fraction("st_percentile", percentile, closed_low=True)
    _check_fraction("st_max_threshold", max_threshold, closed_low=False)
    hist = histogram.to(torch.int64)
    k, bins = hist.shape
    if mode == "fixed":
        return torch.full((k,), float(max_threshold), dtype=torch.float32, device=hist.device)
    n = hist.sum(dim=1)
    rank = torch.minimum(torch.round(n.double() * percentile).long(), (n - 1).clamp(min=0))
    cum = hist.cumsum(dim=1)
    first_bin = (cum <= rank[:, None]).sum(dim=1)  # the bin holding the rank-th smallest confidence
    thr = first_bin.double() / bins
    thr = torch.where(n > 0, thr, torch.zeros_like(thr))
    return thr.clamp(max=max_threshold).float()


def pseudo_labels(prob: Tensor, thresholds: Tensor, ignore_index: int = IGNORE_INDEX) -> Tensor:
    """The pseudo-labels of a batch (BDL's ``SSL.py``): each pixel's arg-max class, or
    ``ignore_index`` where its confidence is below that class's threshold.

    Args:
        prob: B x K x H x W class probabilities of the labelling model.
        thresholds: K thresholds (:func:`class_thresholds`).
        ignore_index: the label of the pixels left out (255, as every label map here).

    Returns:
        B x H x W int64 labels in ``[0, K)`` or ``ignore_index``.
    """
    if prob.dim() != 4 or thresholds.shape != (prob.shape[1],):
        raise ValueError(f"prob, thresholds: expected B x K x H x W and K values, got {tuple(prob.shape)} "
                         f"and {tuple(thresholds.shape)}")
    conf, pred = prob.float().max(dim=1)
    keep = conf >= thresholds.to(conf.device, conf.dtype)[pred]
    return torch.where(keep, pred, torch.full_like(pred, ignore_index))


def kept_per_class(prob: Tensor, thresholds: Tensor) -> tuple[Tensor, Tensor]:
    """How many pixels each class is predicted on, and how many of them keep their pseudo-label
    (:func:`pseudo_labels` with ``thresholds``): what a class gives the next round.

    Args:
        prob: B x K x H x W class probabilities of the labelling model.
        thresholds: K thresholds (:func:`class_thresholds`).

    Returns:
        ``(predicted, kept)``: K int64 counts each; ``kept <= predicted``.
    """
    labels = pseudo_labels(prob, thresholds)
    k = prob.shape[1]
    predicted = torch.bincount(prob.argmax(dim=1).flatten(), minlength=k)
    kept = torch.bincount(labels[labels != IGNORE_INDEX].flatten(), minlength=k)
    return predicted, kept


def pseudo_label_loss(logits: Tensor, labels: Tensor, ignore_index: int = IGNORE_INDEX) -> Tensor:
    """Cross-entropy of the target prediction against its pseudo-labels, averaged over the
    labelled pixels (0, not NaN, when a batch has none: BDL's ``CrossEntropy2d`` does the same).

    Args:
        logits: B x K x H x W scores (at the labels' size).
        labels: B x H x W (:func:`pseudo_labels`).

    Returns:
        Scalar >= 0.
    """
    total = F.cross_entropy(logits.float(), labels, ignore_index=ignore_index, reduction="sum")
    return total / (labels != ignore_index).sum().clamp(min=1)


def _check_fraction(name: str, value: float, *, closed_low: bool) -> None:
    ok = math.isfinite(value) and (0.0 <= value if closed_low else 0.0 < value) and value <= 1.0
    if not ok:
        raise ValueError(f"{name} must be in {'[0' if closed_low else '(0'}, 1], got {value}")


@dataclass
class SelfTrainingConfig:
    """``--method self_training``, ``pfr_adv_st``, ``adaptsegnet_st``
    (:mod:`pfrlib.methods.beyond.self_training`, :mod:`pfrlib.engine.two_stage.self_training`).

    ``--iterations`` is each round's; ``st_stage1_iterations`` stage 1's. Defaults: BDL's code
    (``SSL.py``: the class-wise median capped at 0.9; ``BDL.py``: target weight 1).
    """

    #: A checkpoint of this project (``checkpoint_last.pt``) of the adapted model that labels the
    #: first round's images; none: stage 1 trains it (``st_stage1``) into ``OUT/stage1``.
    st_init: Optional[str] = None
    #: The method stage 1 trains when ``st_init`` is not given (``self_training`` only:
    #: ``pfr_adv_st`` and ``adaptsegnet_st`` name theirs in the method registry).
    st_stage1: str = "adaptsegnet"
    #: Stage 1's iterations; none: ``iterations``.
    st_stage1_iterations: Optional[int] = None
    #: Rounds of pseudo-labelling and training; each round's model labels the next round's images.
    st_rounds: int = 1
    #: :data:`ST_THRESHOLDS` (docs/choices.md).
    st_thresholds: str = "class_percentile"
    #: Rank of a class's threshold among its pixels' confidences (BDL: 0.5, the median).
    st_percentile: float = 0.5
    #: The cap of the class thresholds (BDL: 0.9), or the one threshold with ``st_thresholds fixed``.
    st_max_threshold: float = 0.9
    #: Weight of the target cross-entropy on the pseudo-labels (BDL: 1).
    st_lambda: float = 1.0
    #: :data:`ST_STARTS` (docs/choices.md).
    st_start: str = "adapted"

    def loss_weights(self) -> dict[str, float]:
        """The weight of the pseudo-label term in Eq. (6)'s sum."""
        return {"st": self.st_lambda}

    @classmethod
    def cpu(cls) -> "SelfTrainingConfig":
        """The ``cpu`` preset's values: BDL's thresholds and weight, one round, stage 1 as long as
        a round. Untuned: the claims issue's protocol tunes them (docs/tuning.md)."""
        return cls()

    @staticmethod
    def paper_overrides() -> dict[str, Any]:
        """What the ``paper`` preset changes: BDL's schedule for the self-training run (README:
        ``--num-steps-stop 120000``; ``train_options.py``: ``--num-steps`` 250000 for the poly
        rate; SGD 2.5e-4, batch 1, as the ``paper`` preset already has), stage 1 the paper's
        150,000 iterations. The network is stage 1's (it must load its checkpoint)."""
        return {"iterations": 120_000, "schedule_iterations": 250_000, "st_stage1_iterations": 150_000}

    def validate(self, check_paths: bool = True) -> None:
        """Reject bad values (checked whatever the method; the stage-1 method is checked against
        the registry by :func:`pfrlib.config.validation.validate`)."""
        check_weights(self, "st_lambda")
        _check_fraction("st_percentile", self.st_percentile, closed_low=True)
        _check_fraction("st_max_threshold", self.st_max_threshold, closed_low=False)
        if self.st_rounds < 1:
            raise ValueError(f"st_rounds must be >= 1, got {self.st_rounds}")
        if self.st_stage1_iterations is not None and self.st_stage1_iterations < 1:
            raise ValueError(f"st_stage1_iterations must be >= 1 (or none: iterations), got {self.st_stage1_iterations}")
        if self.st_thresholds not in ST_THRESHOLDS:
            raise ValueError(f"st_thresholds must be one of {ST_THRESHOLDS}, got {self.st_thresholds!r}")
        if self.st_start not in ST_STARTS:
            raise ValueError(f"st_start must be one of {ST_STARTS}, got {self.st_start!r}")
        if check_paths and self.st_init is not None:
            if not Path(self.st_init).is_file():
                raise FileNotFoundError(f"st_init: checkpoint {self.st_init!r} does not exist; expected a "
                                        f"checkpoint_last.pt of an adapted run (or leave st_init out: stage 1 trains one)")


class SelfTraining(Baseline):
    """The term ``st``: the student's target prediction against the labelling model's pseudo-labels.

    The labelling model (``teacher``: the round's starting model, frozen, in eval mode) labels
    each target batch as the step draws it, with the round's class thresholds (a buffer, saved
    with the run). It is held outside the module's state (a checkpoint keeps the student and the
    thresholds; a resumed round reloads the teacher from its checkpoint file).
    """

    def __init__(self, teacher: nn.Module, thresholds: Tensor) -> None:
        super().__init__()
        self._teacher = (teacher.eval().requires_grad_(False),)  # not a submodule: not checkpointed
        self.register_buffer("thresholds", thresholds.float().clone())

    @property
    def teacher(self) -> nn.Module:
        return self._teacher[0]

    def network_terms(self, inp: BaselineInputs) -> BaselineTerms:
        self.teacher.eval()
        with torch.no_grad():
            t_logits = F.interpolate(self.teacher(inp.xt).logits.float(), size=inp.logits_t.shape[-2:],
                                     mode="bilinear", align_corners=True)
            labels = pseudo_labels(F.softmax(t_logits, dim=1), self.thresholds)
        kept = (labels != IGNORE_INDEX).float().mean()
        return BaselineTerms({"st": pseudo_label_loss(inp.logits_t, labels)}, logs={"st_labelled": kept})
