"""AdvEnt: adversarial entropy minimisation (Vu et al., CVPR 2019, ADVENT), ``--method advent``.

ADVENT's second method, from its paper and its code (valeoai/ADVENT,
``advent/domain_adaptation/train_UDA.py``, ``train_advent``), on this engine:

* AdaptSegNet's output-space discriminator (:class:`pfrlib.models.discriminator.FCDiscriminator`,
  the same five convolutions as ADVENT's ``get_fc_discriminator``) judges the **weighted
  self-information maps** ``I = -p log2 p / log2 C`` of the softmax
  (:func:`pfrlib.methods.beyond.entropy.self_information`, ADVENT's ``prob_2_entropy``) instead of
  the softmax itself: ``D_main`` on the main prediction and, with AdaptSegNet's auxiliary head,
  ``D_aux`` on the auxiliary one (multi-level, as ADVENT's ``MULTI_LEVEL: True``);
* the network is trained to fool them on target (term ``advent_adv``, weight ``LAMBDA_ADV_MAIN``
  = 0.001; ``advent_adv_aux``, ``LAMBDA_ADV_AUX`` = 0.0002); each discriminator learns source 0 /
  target 1 with the two halves halved (the engine's Eq. 5, as ADVENT's ``loss_d / 2``), through
  :class:`~pfrlib.paper.step.DiscriminatorInputs` with the maps as its own inputs
  (``softmax=False``);
* the segmentation terms are the engine's (``seg``, ``seg_aux`` at 0.1).

The ``paper`` preset trains ADVENT's schedule (:data:`pfrlib.methods.beyond.minent.ADVENT_PAPER_OVERRIDES`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from pfrlib.methods.baselines.common import check_weights
from pfrlib.methods.beyond.entropy import self_information
from pfrlib.methods.beyond.minent import ADVENT_PAPER_OVERRIDES
from pfrlib.models.discriminator import FCDiscriminator
from pfrlib.paper.losses import generator_loss
from pfrlib.paper.step import Baseline, BaselineInputs, BaselineTerms, DiscriminatorInputs, upsample

__all__ = ["AdvEntConfig", "AdvEnt", "information_maps"]


@dataclass
class AdvEntConfig:
    """``--method advent`` (ADVENT's AdvEnt; :mod:`pfrlib.methods.beyond.advent`).

    Defaults: ADVENT's ``advent.yml`` (``LAMBDA_ADV_MAIN``, ``LAMBDA_ADV_AUX``).
    """

    #: Weight of the fooling term of the main discriminator (ADVENT: 0.001).
    advent_lambda_adv: float = 0.001
    #: Weight of the fooling term of the auxiliary discriminator (ADVENT: 0.0002; multi-level only).
    advent_lambda_adv_aux: float = 0.0002
    #: The maps as ADVENT's code makes them, ``-p log2 p / log2 C`` (True), or the paper's
    #: ``-p log p`` (False): docs/choices.md.
    advent_normalize: bool = True

    def loss_weights(self) -> dict[str, float]:
        """The weights of AdvEnt's terms in Eq. (6)'s sum."""
        return {"advent_adv": self.advent_lambda_adv, "advent_adv_aux": self.advent_lambda_adv_aux}

    @classmethod
    def cpu(cls) -> "AdvEntConfig":
        """The ``cpu`` preset's values: ADVENT's weight times the ladder's ``cpu`` / ``paper`` ratio
        of ``lambda_adv`` (0.004 / 0.002 = 2). Untuned: the claims issue's protocol tunes them."""
        return cls(advent_lambda_adv=0.002)

    @staticmethod
    def paper_overrides() -> dict[str, Any]:
        """What the ``paper`` preset changes for ``--method advent``: ADVENT's recipe."""
        return dict(ADVENT_PAPER_OVERRIDES)

    def validate(self, check_paths: bool = True) -> None:
        """Reject bad values (checked whatever the method)."""
        check_weights(self, "advent_lambda_adv", "advent_lambda_adv_aux")


def information_maps(logits: Tensor, normalize: bool = True) -> Tensor:
    """What ADVENT's discriminators see: the self-information maps of ``softmax(logits)``
    (B x C x H x W float32; ADVENT's ``prob_2_entropy(F.softmax(pred))``)."""
    return self_information(F.softmax(logits.float(), dim=1), normalize)


class AdvEnt(Baseline):
    """``--method advent``: the terms ``advent_adv`` (and ``advent_adv_aux``); discriminators
    ``"main"`` (and ``"aux"`` with the multi-level model) on self-information maps."""

    def __init__(self, model: nn.Module, cfg) -> None:
        super().__init__()
        self.num_classes, self.ndf = cfg.model.num_classes, cfg.model.ndf
        self.multi_level = bool(cfg.model.multi_level)
        self.normalize = cfg.advent.advent_normalize

    def build_discriminators(self) -> dict[str, nn.Module]:
        keys = ("main", "aux") if self.multi_level else ("main",)
        return {k: FCDiscriminator(self.num_classes, ndf=self.ndf) for k in keys}

    def network_terms(self, inp: BaselineInputs) -> BaselineTerms:
        levels = {"main": (inp.logits_s, inp.logits_t)}
        if inp.out_t.aux_logits is not None and "aux" in inp.discriminators:
            levels["aux"] = (upsample(inp.out_s.aux_logits, inp.logits_s.shape[-2:]),
                             upsample(inp.out_t.aux_logits, inp.logits_t.shape[-2:]))
        terms: dict[str, Tensor] = {}
        outputs: dict[str, DiscriminatorInputs] = {}
        for key, (ls, lt) in levels.items():
            info_t = information_maps(lt, self.normalize)
            with torch.no_grad():  # the discriminator step detaches them anyway
                info_s = information_maps(ls, self.normalize)
            name = "advent_adv" if key == "main" else "advent_adv_aux"
            terms[name] = generator_loss(inp.discriminators[key](info_t), inp.gan)
            outputs[key] = DiscriminatorInputs(info_s, info_t, softmax=False)
        logs = {"advent_entropy_t": outputs["main"].target.detach().sum(dim=1).mean()}
        return BaselineTerms(terms, outputs, logs)
