"""pfrlib: Progressive Feature Refinement (PFR) for adaptive semantic segmentation.

A readable, runnable reproduction of Zhang, Zhao and Zhang, "Towards Adaptive Semantic
Segmentation by Progressive Feature Refinement". The tree is the architecture, one folder per
layer, lowest first (``pyproject.toml``'s ``[[tool.pfrlib.layers]]``; a module imports only from
its own layer and the layers below, checked by ``tests/test_layout.py``):

==============  ===============================================================
``data``        SynthStreets (the embedded two-domain benchmark), GTA5, Cityscapes,
                folders; label ids, transforms, seeded training streams
``models``      DeepLab-v2 (AdaptSegNet's layout), dilated ResNets, the small CPU
                model, the output-space discriminator
``paper``       the paper's Eq. (1)-(7): ``losses``, one adaptation ``step``,
                ``metrics``; its ``optim``\\ isation
``methods``     the registry of every ``--method``; the Table-1 ``baselines``;
                the input-space methods' ``translation`` networks and losses;
                ``beyond`` Table 1 (MinEnt, AdvEnt, FDA, histogram matching)
``config``      one dataclass per concern, the ``cpu`` / ``paper`` presets, the
                command line
``engine``      training a run: the loop, its folder, checkpoints, the record,
                scoring, the two-stage methods
``evaluation``  a checkpoint's IoU, the paper's Table 1 beside ours, the
                committed results files
``viz``         colourised labels and the notebooks' figures
``launch``      one launcher (here, N at a time, or on Slurm); sweeps
``teaching``    the notebooks' helpers, self-checks, student copies, the series
==============  ===============================================================

The command-line entry points stand at the top: ``python -m pfrlib.train | evaluate | sweep |
reproduce``. Each name is imported from the module that defines it; the few names below
(:data:`PUBLIC`) are the only ones also available as ``pfrlib.<name>``, loaded on first use so
that ``import pfrlib`` stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

#: The names the README promises at the top of the package -> the module that defines each.
PUBLIC: dict[str, str] = {
    "TrainConfig": "pfrlib.config.train_config",
    "load_model": "pfrlib.engine.checkpoint",
    "SynthStreets": "pfrlib.data.synthstreets.dataset",
}

__all__ = list(PUBLIC)


def __getattr__(name: str) -> Any:
    if name in PUBLIC:
        return getattr(importlib.import_module(PUBLIC[name]), name)
    raise AttributeError(f"module 'pfrlib' has no attribute {name!r}")
