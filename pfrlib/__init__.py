"""pfrlib: Progressive Feature Refinement (PFR) for adaptive semantic segmentation.

A readable, runnable reproduction of Zhang, Zhao and Zhang, "Towards Adaptive Semantic
Segmentation by Progressive Feature Refinement". One module per idea:

================  =============================================================
``data``          SynthStreets (embedded two-domain benchmark), GTA5, Cityscapes,
                  folders (their label ids, partial-download checks); transforms
``models``        DeepLab-v2 (AdaptSegNet layout), dilated ResNets, the small CPU
                  model, the output-space discriminator; uniform feature taps
``losses``        Eq. (1)-(5): segmentation, Gram/style, content, PFR, adversarial
``metrics``       confusion matrix, IoU (Eq. 7), mIoU, Table-1 formatting
``methods``       the registry: every ``--method``, what it trains and reads
``baselines``     the Table-1 baselines that change only the losses: CLAN, FCNs in
                  the Wild, ROAD, Curriculum DA (``--method clan`` ...)
``config``        one dataclass per concern, ``cpu`` and ``paper`` presets
``optim``         SGD as AdaptSegNet lists it (``RepeatedSGD``), the poly schedule
``step``          one adaptation iteration (network and discriminator steps)
``watchdog``      the NaN watchdog: non-finite loss terms and weights, named
``run_setup``     what a run is built from: device options, datasets, networks
``rundir``        a run's folder: one writer, checkpoints, resume, --overwrite
``record``        ``final.json``, the record of a finished run
``train``         the training loop of Eq. (6) (``python -m pfrlib.train``)
``tensorboard``   a run's TensorBoard events
``translation``   the image-translation rows: CyCADA, DLOW, TGCF-DA (two stages)
``scoring``       a model on a dataset -> confusion matrix, per-class IoU
``evaluate``      checkpoint -> per-class IoU (``python -m pfrlib.evaluate``)
``launch``        one launcher: runs and notebooks, N at a time or on Slurm
``sweep``         parameter sweeps (``python -m pfrlib.sweep SPEC``)
``nbtools``       what the notebooks call: parameters, tables, load-or-train
``viz``           colourised labels and the figures the notebooks draw
================  =============================================================

The layers (lowest first, each module importing only from its own and lower layers) are listed in
``pyproject.toml`` (``[[tool.pfrlib.layers]]``) and checked by ``tests/test_layering.py``.

Submodules are imported on use (``from pfrlib import losses``), so ``import pfrlib`` is cheap.
"""

__version__ = "0.1.0"
