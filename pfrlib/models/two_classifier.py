"""CLAN's segmentation network: one backbone, two classifiers on the last stage, prediction = their sum.

Luo et al., "Taking a Closer Look at Domain Shift: Category-level Adversaries for
Semantics Consistent Domain Adaptation" (CLAN, CVPR 2019): the generator is a backbone
``E`` followed by two classifiers ``C1`` and ``C2`` whose weights are kept different by the
weight-discrepancy loss; the prediction is ``p = p^(1) + p^(2)``.

:class:`TwoClassifierNet` wraps any segmentation network of :mod:`pfrlib.models`: its main head
(``classifier`` for ``small`` / ``dilated_*``, ``layer6`` for DeepLab-v2) stays ``C1``, and
``classifier2`` is a second copy of that head, re-initialised with its own N(0, 0.01) draw
(identical copies would stay identical: the weight-discrepancy gradient vanishes there).
``forward`` returns :class:`TwoClassifierOutput`, whose ``logits`` are the sum (so evaluation,
checkpoints and :func:`pfrlib.evaluation.evaluate.load_model` see one ordinary segmentation network) and whose
``head_logits`` keep the two classifiers apart for the CLAN losses (:mod:`pfrlib.methods.baselines.clan`).
Built by :func:`pfrlib.models.build_from_config` when ``ModelConfig.classifiers == 2``.
"""

from __future__ import annotations

import copy
from typing import NamedTuple, Optional

import torch.nn as nn
from torch import Tensor

from pfrlib.models.common import split_param_groups

__all__ = ["TwoClassifierNet", "TwoClassifierOutput", "main_head"]


class TwoClassifierOutput(NamedTuple):
    """:class:`~pfrlib.models.SegmentationOutput`'s three fields plus the two classifiers' logits.

    Attributes:
        logits: B x K x h x w, ``C1(f) + C2(f)`` (CLAN's prediction).
        aux_logits: the auxiliary head's B x K x h x w scores, or ``None``.
        features: the stage 2..5 features (stage 5 feeds both classifiers).
        head_logits: ``(C1(f), C2(f))``, each B x K x h x w.
    """

    logits: Tensor
    aux_logits: Optional[Tensor]
    features: tuple[Tensor, Tensor, Tensor, Tensor]
    head_logits: tuple[Tensor, Tensor]


def main_head(model: nn.Module) -> nn.Module:
    """The classifier on stage 5 of a :mod:`pfrlib.models` network (``layer6`` or ``classifier``)."""
    for name in ("layer6", "classifier"):
        head = getattr(model, name, None)
        if isinstance(head, nn.Module):
            return head
    raise ValueError(f"arch: {type(model).__name__} has no main classifier ('layer6' or 'classifier') to copy")


class TwoClassifierNet(nn.Module):
    """``base`` with a second classifier on its stage-5 features (CLAN's ``C1``, ``C2``).

    ``forward(x)``: B x 3 x H x W -> :class:`TwoClassifierOutput` (``logits`` = the sum). The
    backbone and ``base``'s heads keep their learning-rate groups; ``classifier2`` joins the heads.
    State-dict keys: ``base.*`` and ``classifier2.*``.
    """

    def __init__(self, base: nn.Module) -> None:
        super().__init__()
        self.base = base
        self.classifier2 = copy.deepcopy(main_head(base))
        for m in self.classifier2.modules():
            if isinstance(m, nn.Conv2d):
                m.reset_parameters()  # a fresh bias draw
                nn.init.normal_(m.weight, 0.0, 0.01)  # the heads' init, another draw

    @property
    def num_classes(self) -> int:
        return self.base.num_classes

    @property
    def normalization(self) -> str:
        return self.base.normalization

    @property
    def multi_level(self) -> bool:
        return bool(getattr(self.base, "multi_level", False))

    def forward(self, x: Tensor) -> TwoClassifierOutput:
        """B x 3 x H x W -> logits ``C1 + C2`` (B x K x h x w), aux logits, features, ``(C1, C2)``."""
        out = self.base(x)
        second = self.classifier2(out.features[-1])
        return TwoClassifierOutput(out.logits + second, out.aux_logits, out.features, (out.logits, second))

    def classifiers(self) -> tuple[nn.Module, nn.Module]:
        """``(C1, C2)``: the base network's main head and the second copy."""
        return main_head(self.base), self.classifier2

    def backbone_modules(self) -> list[nn.Module]:
        return self.base.backbone_modules()

    def head_modules(self) -> list[nn.Module]:
        return [*self.base.head_modules(), self.classifier2]

    def param_groups(self, lr: float, head_lr_mult: float = 10.0) -> list[dict]:
        """Backbone at ``lr``; every head, ``classifier2`` included, at ``head_lr_mult * lr``."""
        return split_param_groups(self.backbone_modules(), self.head_modules(), lr, head_lr_mult)
