"""MinEnt: direct entropy minimisation (Vu et al., CVPR 2019, ADVENT), ``--method minent``.

ADVENT's first method, from its paper and its code (valeoai/ADVENT,
``advent/domain_adaptation/train_UDA.py``, ``train_minent``), on this engine:

* the source half is the engine's Eq. (1) (and ``seg_aux``, weight 0.1, with the auxiliary head:
  ADVENT's ``LAMBDA_SEG_AUX``);
* on the step's target forward, the logits upsampled to the target size (``logits_t``; ADVENT's
  ``interp_target``) give the softmax whose normalised entropy is minimised
  (:func:`pfrlib.methods.beyond.entropy.entropy_loss`), term ``minent`` (weight
  ``LAMBDA_ENT_MAIN`` = 0.001) and, with AdaptSegNet's auxiliary head, ``minent_aux`` on its
  prediction (``LAMBDA_ENT_AUX`` = 0.0002);
* no discriminator.

The ``paper`` preset trains ADVENT's schedule (:meth:`MinEntConfig.paper_overrides`). ADVENT's
class-ratio prior and its MinEnt + AdvEnt ensemble (the 45.5 row) are not built.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch.nn.functional as F
from torch import nn

from pfrlib.methods.baselines.common import check_weights
from pfrlib.methods.beyond.entropy import REDUCTIONS, entropy_loss
from pfrlib.paper.step import Baseline, BaselineInputs, BaselineTerms, upsample

__all__ = ["MinEntConfig", "MinEnt", "ADVENT_PAPER_OVERRIDES"]

#: ADVENT's schedule and network (``advent/domain_adaptation/config.py``: ``MAX_ITERS`` 250000,
#: ``EARLY_STOP`` 120000; ``advent/model/deeplabv2.py``: ``ClassifierModule`` sums all four ASPP
#: branches; ``MULTI_LEVEL: True`` in ``minent.yml`` / ``advent.yml``). The rest (SGD 2.5e-4, 10x
#: heads, AdaptSegNet's parameter listing, Adam 1e-4 (0.9, 0.99) for D, the sizes, batch 1) is
#: what the ``paper`` preset already has.
ADVENT_PAPER_OVERRIDES: dict[str, Any] = {"iterations": 120_000, "schedule_iterations": 250_000,
                                          "multi_level": True, "aspp_branches": 4}


@dataclass
class MinEntConfig:
    """``--method minent`` (ADVENT's MinEnt; :mod:`pfrlib.methods.beyond.minent`).

    Defaults: ADVENT's ``minent.yml`` (``LAMBDA_ENT_MAIN``, ``LAMBDA_ENT_AUX``).
    """

    #: Weight of the entropy of the main prediction on target (ADVENT: 0.001).
    minent_lambda: float = 0.001
    #: Weight of the entropy of the auxiliary head's prediction (ADVENT: 0.0002; multi-level only).
    minent_lambda_aux: float = 0.0002
    #: ``"mean"`` over the pixels (ADVENT's code) or ``"sum"`` over them (its paper): docs/choices.md.
    minent_reduction: str = "mean"

    def loss_weights(self) -> dict[str, float]:
        """The weights of MinEnt's terms in Eq. (6)'s sum."""
        return {"minent": self.minent_lambda, "minent_aux": self.minent_lambda_aux}

    @classmethod
    def cpu(cls) -> "MinEntConfig":
        """The ``cpu`` preset's values: ADVENT's weight times the ladder's ``cpu`` / ``paper`` ratio
        of ``lambda_adv`` (0.004 / 0.002 = 2). Untuned: the claims issue's protocol tunes them."""
        return cls(minent_lambda=0.002)

    @staticmethod
    def paper_overrides() -> dict[str, Any]:
        """What the ``paper`` preset changes for ``--method minent``: ADVENT's recipe."""
        return dict(ADVENT_PAPER_OVERRIDES)

    def validate(self, check_paths: bool = True) -> None:
        """Reject bad values (checked whatever the method)."""
        check_weights(self, "minent_lambda", "minent_lambda_aux")
        if self.minent_reduction not in REDUCTIONS:
            raise ValueError(f"minent_reduction must be one of {REDUCTIONS}, got {self.minent_reduction!r}")


class MinEnt(Baseline):
    """``--method minent``: the terms ``minent`` (and ``minent_aux`` with the auxiliary head)."""

    def __init__(self, model: nn.Module, cfg) -> None:
        super().__init__()
        self.reduction = cfg.minent.minent_reduction

    def network_terms(self, inp: BaselineInputs) -> BaselineTerms:
        terms = {"minent": entropy_loss(F.softmax(inp.logits_t.float(), dim=1), self.reduction)}
        if inp.out_t.aux_logits is not None:
            aux_t = upsample(inp.out_t.aux_logits, inp.logits_t.shape[-2:])
            terms["minent_aux"] = entropy_loss(F.softmax(aux_t.float(), dim=1), self.reduction)
        return BaselineTerms(terms)
