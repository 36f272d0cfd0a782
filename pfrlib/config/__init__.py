"""Configuration of a training run: one dataclass per concern, composed by :class:`TrainConfig`.

* :class:`DataConfig`  - which datasets (source, target, their val sets), sizes, batch, loaders
* :class:`ModelConfig` - segmentation network, its initialisation, the multi-level option
* :class:`OptimConfig` - optimisers and the poly learning-rate schedule, iteration budget
* :class:`LossConfig`  - the method and the loss weights of Eq. (6), PFR options of Eq. (2)-(4)
* :class:`RunConfig`   - seed, output directory, device, logging, checkpoints
* :class:`CLANConfig`, :class:`FCNWildConfig`, :class:`ROADConfig`, :class:`CurriculumConfig` -
  the four Table-1 baselines that change only the losses (:mod:`pfrlib.methods.baselines`), one section
  each, defined in the baseline's own module: defaults are the original papers' (or, where a paper
  gives none we could verify, our choice, said so in the field's comment); the ``cpu`` preset's
  values are each section's ``cpu()`` (why: ``docs/tuning.md``)
* :class:`MinEntConfig`, :class:`AdvEntConfig`, :class:`FDAConfig` - the methods beyond Table 1
  (:mod:`pfrlib.methods.beyond`), one section each beside its method: defaults are the public
  code's, the ``cpu()`` values untuned (``docs/baselines.md``, "Beyond Table 1")

Two presets (:meth:`TrainConfig.preset`):

``paper``
    GTA5 1280x720 -> Cityscapes 1024x512, DeepLab-v2 ResNet-101, SGD 2.5e-4 (10x on the heads),
    poly 0.9 over 250k iterations stopped at 150k (AdaptSegNet's schedule), discriminator Adam
    1e-4 (0.9, 0.99), lambda_adv = 0.002, lambda_pfr = 0.004 (Section 3.4), batch 1. A Table-1
    baseline adds its own recipe (its section's ``paper_overrides()``: CLAN's 100k schedule, two
    four-branch classifiers and no auxiliary head, ...; ``docs/baselines.md``).
``cpu``
    SynthStreets source -> target with the small CPU model, tuned so a run takes a few minutes on
    two cores (``docs/tuning.md`` records what was tried and why).

The method (:mod:`pfrlib.methods`; :data:`METHODS` is the ladder) is a preset of the loss weights
of Eq. (6); the lambdas stored in a config are the user's values and
:meth:`LossConfig.effective_weights` zeroes the ones a method switches off (``source_only``: both; ``adaptsegnet``: PFR; ``pfr``: adversarial; ``oracle``:
both, and it trains on the labelled *target* set). The baselines (:data:`BASELINE_METHODS`) switch
both off and add their own terms (:meth:`TrainConfig.effective_weights`).

Every field can be overridden by its flat name (field names are unique across the sections)::

    cfg = TrainConfig.preset("cpu", method="pfr_adv", iterations=2000, lambda_pfr=0.3)
    cfg = cfg.replace(seed=1, out="runs/seed1")

from the command line as ``--iterations 2000 --lambda-pfr 0.3`` (:mod:`pfrlib.config.command_line` maps every
field to an option), and from notebook parameters (a papermill cell of plain variables passed as
``**overrides``).

The package, one module per idea:

=====================  ==========================================================================
``fields``             field metadata (choices, bookkeeping/execution roles) and type coercion
``sections``           the five sections of the paper's method (data, model, optim, loss, run)
``presets``            the ``cpu`` and ``paper`` presets
``validation``         the checks of :meth:`TrainConfig.validate`
``train_config``       :class:`TrainConfig`, which composes the sections (and the baselines')
``command_line``       every field as a ``--option`` (public as :mod:`pfrlib.config.command_line`)
=====================  ==========================================================================
"""

from __future__ import annotations

from pfrlib import methods as _methods

__all__ = ["METHODS", "BASELINE_METHODS", "ALL_METHODS", "TRANSLATION_METHODS"]

#: The ablation ladder: training methods that are each a preset of the loss weights of Eq. (6).
METHODS: tuple[str, ...] = _methods.names("ladder")
#: The Table-1 baselines that change only the losses on the same network (:mod:`pfrlib.methods.baselines`).
BASELINE_METHODS: tuple[str, ...] = _methods.names("baseline")
#: The image-translation rows of Table 1 (:mod:`pfrlib.methods.translation`: a translator, then this loop).
TRANSLATION_METHODS: tuple[str, ...] = _methods.names("translation")
#: The methods one run of the loop of Eq. (6) trains: the ladder, then the baselines (what notebook
#: 07 and the Table-1 sweeps train today). Every ``--method`` is :func:`pfrlib.methods.names`.
ALL_METHODS: tuple[str, ...] = METHODS + BASELINE_METHODS
