"""The Table-1 baselines that change only the losses on the same segmentation network.

==================  ============================================  ===================================
``--method``        paper                                         module
==================  ============================================  ===================================
``clan``            Luo et al., CVPR 2019 (CLAN)                  :mod:`.clan`
``fcn_wild``        Hoffman et al., 2016 (FCNs in the Wild)       :mod:`.fcn_wild`
``road``            Chen, Li, Van Gool, CVPR 2018 (ROAD)          :mod:`.road`
``curriculum``      Zhang, David, Gong, ICCV 2017 (Curriculum DA) :mod:`.curriculum`
==================  ============================================  ===================================

Each module holds the baseline's configuration section (``CLANConfig``, ...: its options, its
default weights, the ``cpu`` preset's weights, its validation; :class:`pfrlib.config.TrainConfig`
composes them) and a :class:`~.common.Baseline`: extra loss terms on the engine's two forwards (one call
from :func:`pfrlib.paper.step.network_step`), its discriminators (trained by
:func:`pfrlib.paper.step.discriminator_step`) and whatever else it needs, all in its ``state_dict``.
:func:`build_baseline` makes the one a configuration asks for (``None`` for the five methods of
the ablation ladder): the method registry (:mod:`pfrlib.methods`, which sits above this package)
names each method's class. What each keeps and approximates: its module docstring,
docs/baselines.md and the "Table 1 baselines" table of docs/choices.md.
"""

from __future__ import annotations

from typing import Optional

from torch import nn

from pfrlib.paper.step import Baseline

__all__ = ["build_baseline"]


def build_baseline(cfg, model: nn.Module, source_dataset=None) -> Optional[Baseline]:
    """The :class:`Baseline` of ``cfg.loss.method`` for ``model`` (unwrapped, on its device), or None.

    Args:
        cfg: a :class:`pfrlib.config.TrainConfig` (its ``method_info.baseline`` is the class).
        model: the segmentation network (CLAN: a :class:`pfrlib.models.TwoClassifierNet`).
        source_dataset: the labelled source training set (FCNs in the Wild's class-size statistics).
    """
    cls = cfg.method_info.baseline
    if cls is None:
        return None
    if cls.needs_source_labels:
        if source_dataset is None:
            raise ValueError(f"source: {cfg.loss.method} needs the labelled source training set for its "
                             f"class-size bounds")
        baseline = cls(model, cfg, source_dataset)
    else:
        baseline = cls(model, cfg)
    device = next(model.parameters()).device
    return baseline.to(device)
