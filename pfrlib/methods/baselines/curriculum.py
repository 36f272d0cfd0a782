"""Curriculum domain adaptation (Zhang, David, Gong, ICCV 2017), ``--method curriculum``.

The curriculum's "easy task" first infers properties of the target domain that a source-trained
model can estimate well, then makes the segmentation network's target predictions agree with
them. We keep its global one, the label distribution (equation numbers are not cited: we could
not check them against the paper text here):

* the **image-level label distribution** ``p_t(c)`` of a target image (the share of its pixels
  of class ``c``) is estimated by a model trained on *source* images and their label
  distributions (:func:`~pfrlib.methods.baselines.common.label_distribution`). The paper trains such
  estimators (logistic regression among others) on source features before adaptation. We use a
  multinomial logistic regression on the globally pooled stage-5 features of the network itself
  (:class:`LabelDistributionEstimator`), trained on source labels in the same run
  (:func:`estimator_loss`, its gradient stopped at the features so it never moves the network),
  so no separate source-only model has to exist first; the target estimate is read from it without
  a gradient;
* the network's **predicted** distribution (its softmax averaged over the pixels,
  :func:`~pfrlib.methods.baselines.common.predicted_distribution`) is pulled to the estimate by the
  paper's KL term (:func:`label_distribution_kl`; the paper writes the cross-entropy
  ``-sum_c p_t(c) log p^_t(c)``, which differs from the KL only by the estimate's entropy, a
  constant for the network), from iteration ``curriculum_start`` on, once the estimator has had
  source labels to learn from.

Not done: the superpixel landmark part of the curriculum (optional in this project's issue).
The weight and the start are ours (:class:`pfrlib.config.CurriculumConfig`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from pfrlib.paper.step import Baseline, BaselineInputs, BaselineTerms
from pfrlib.methods.baselines.common import check_weights, label_distribution, predicted_distribution
from pfrlib.methods.baselines.fcn_wild import feature_channels

__all__ = ["CurriculumConfig", "Curriculum", "LabelDistributionEstimator", "estimator_loss", "label_distribution_kl",
           "PREDICTIONS", "sharpened_distribution"]

#: How the network's predicted image-level distribution is read from its softmax: ``"mean"`` (the
#: softmax averaged over the pixels, the paper's text) or ``"sharpened"`` (the authors' code,
#: ``train_val_FCN_DA.py``, ``layout_loss_hard``: :func:`sharpened_distribution`).
PREDICTIONS: tuple[str, ...] = ("mean", "sharpened")


@dataclass
class CurriculumConfig:
    """``--method curriculum`` (Zhang, David, Gong, ICCV 2017; :mod:`pfrlib.methods.baselines.curriculum`).

    The label-distribution estimator is a multinomial logistic regression on the pooled
    last-stage features, trained on source labels in the same run (the paper trains its
    estimators on source before adaptation); the weight and start are our choice.
    """

    #: Weight of the KL term between the estimated and the predicted target label distribution.
    curriculum_lambda: float = 0.1
    #: Iterations before the KL term starts (the estimator first learns from source labels).
    curriculum_start: int = 5000
    #: The predicted distribution the term pulls (:data:`PREDICTIONS`): ``"mean"`` softmax, or the
    #: authors' code's ``"sharpened"`` one (the ``paper`` preset's, :meth:`paper_overrides`).
    curriculum_prediction: str = "mean"

    def loss_weights(self) -> dict[str, float]:
        """The weights of the KL term and of the estimator's own loss (its gradient reaches only
        the estimator) in Eq. (6)'s sum."""
        return {"curriculum_kl": self.curriculum_lambda, "curriculum_estimator": 1.0}

    @classmethod
    def cpu(cls) -> "CurriculumConfig":
        """The ``cpu`` preset's values (chosen on seed 0; ``docs/tuning.md``, "Table 1 baselines")."""
        return cls(curriculum_lambda=1.0, curriculum_start=300)

    @staticmethod
    def paper_overrides() -> dict[str, Any]:
        """What the ``paper`` preset changes for ``--method curriculum`` (``docs/baselines.md``).

        The authors' released code (YangZhang4065/AdaptationSeg, ``train_val_FCN_DA.py``) is for
        SYNTHIA -> Cityscapes with a Keras VGG-16 FCN, not this network or GTA5; from it we take
        the label-distribution term as it computes it (``layout_loss_hard``: the sharpened
        prediction, weight 0.1 = our default ``curriculum_lambda``) and its single classifier (no
        auxiliary head). The schedule stays the engine's (its SGD at 1e-5 belongs to its FCN).
        """
        return {"multi_level": False, "curriculum_prediction": "sharpened"}

    def validate(self, check_paths: bool = True) -> None:
        """Reject bad values (checked whatever the method: a config file stays valid)."""
        check_weights(self, "curriculum_lambda")
        if self.curriculum_start < 0:
            raise ValueError(f"curriculum_start must be >= 0, got {self.curriculum_start}")
        if self.curriculum_prediction not in PREDICTIONS:
            raise ValueError(f"curriculum_prediction must be one of {PREDICTIONS}, got {self.curriculum_prediction!r}")


class LabelDistributionEstimator(nn.Module):
    """Multinomial logistic regression: pooled features -> an image-level label distribution.

    B x C x h x w features -> global average pool -> linear C -> K -> log-softmax: B x K
    log-probabilities.
    """

    def __init__(self, in_channels: int, num_classes: int) -> None:
        super().__init__()
        self.linear = nn.Linear(int(in_channels), int(num_classes))

    def forward(self, f: Tensor) -> Tensor:
        """B x C x h x w -> B x K log-probabilities (``exp`` gives the estimated distribution)."""
        if f.dim() != 4:
            raise ValueError(f"f: expected B x C x h x w features, got shape {tuple(f.shape)}")
        return F.log_softmax(self.linear(f.float().mean(dim=(2, 3))), dim=1)


def estimator_loss(log_q: Tensor, p: Tensor) -> Tensor:
    """The estimator's training loss on source: ``KL(p || q)`` averaged over the batch.

    Args:
        log_q: B x K estimated log-distributions.
        p: B x K true label distributions of the same (source) images.

    Returns:
        Scalar >= 0 (0 when ``q = p``); terms with ``p_c = 0`` contribute 0.
    """
    if log_q.shape != p.shape:
        raise ValueError(f"log_q, p: expected two B x K tensors, got {tuple(log_q.shape)} and {tuple(p.shape)}")
    return F.kl_div(log_q.float(), p.float(), reduction="batchmean")


def label_distribution_kl(p_est: Tensor, p_pred: Tensor, eps: float = 1e-8) -> Tensor:
    """Zhang, David, Gong's label-distribution term: ``KL(p_est || p_pred) = sum_c p_est_c log(p_est_c / p_pred_c)``.

    Args:
        p_est: B x K estimated target label distributions (no gradient).
        p_pred: B x K the network's predicted distributions on the same target images.

    Returns:
        Scalar >= 0, batch mean; 0 when the prediction matches the estimate.
    """
    if p_est.shape != p_pred.shape:
        raise ValueError(f"p_est, p_pred: expected two B x K tensors, got {tuple(p_est.shape)} and {tuple(p_pred.shape)}")
    p_est = p_est.float()
    return F.kl_div(p_pred.float().clamp_min(eps).log(), p_est, reduction="batchmean")


def sharpened_distribution(logits: Tensor, power: float = 5.0, eps: float = 1e-7) -> Tensor:
    """The authors' code's predicted label distribution (``train_val_FCN_DA.py``, ``layout_loss_hard``).

    Per pixel the softmax is divided by its maximum and raised to ``power`` (5 in the code: close
    to a one-hot of the argmax, yet differentiable), averaged over the pixels and renormalised:
    ``q_c = m_c / (sum_k m_k + eps)``, ``m_c = mean_i (p_ic / max_k p_ik) ** power``. (The code
    also clips the logits to [-30, 30] first, which changes nothing short of overflow.)

    Args:
        logits: B x K x H x W scores.

    Returns:
        B x K float32, rows summing to 1 (up to ``eps``).
    """
    if logits.dim() != 4:
        raise ValueError(f"logits: expected B x K x H x W, got shape {tuple(logits.shape)}")
    p = F.softmax(logits.float(), dim=1)
    m = ((p / p.amax(dim=1, keepdim=True)) ** power).mean(dim=(2, 3))
    return m / (m.sum(dim=1, keepdim=True) + eps)


class Curriculum(Baseline):
    """``--method curriculum``: ``curriculum_kl`` on target, ``curriculum_estimator`` on source.

    Submodule ``estimator``: :class:`LabelDistributionEstimator`, trained with the network's
    optimiser (:meth:`trainable_modules`) on detached source features.
    """

    def __init__(self, model: nn.Module, cfg) -> None:
        super().__init__()
        self.num_classes = cfg.model.num_classes
        self.start = cfg.curriculum.curriculum_start
        self.prediction = cfg.curriculum.curriculum_prediction
        self.estimator = LabelDistributionEstimator(feature_channels(model), self.num_classes)

    def trainable_modules(self) -> dict[str, nn.Module]:
        return {"estimator": self.estimator}

    def network_terms(self, inp: BaselineInputs) -> BaselineTerms:
        fs, ft = inp.out_s.features[-1].detach(), inp.out_t.features[-1].detach()
        p_src = label_distribution(inp.ys, self.num_classes)
        est = estimator_loss(self.call("estimator", fs), p_src)
        with torch.no_grad():
            p_est = self.estimator(ft).exp()
        p_pred = (sharpened_distribution(inp.logits_t) if self.prediction == "sharpened"
                  else predicted_distribution(inp.logits_t))
        kl = label_distribution_kl(p_est, p_pred)
        on = 1.0 if inp.iteration >= self.start else 0.0
        return BaselineTerms({"curriculum_kl": on * kl, "curriculum_estimator": est})
