"""pfrlib: Progressive Feature Refinement (PFR) for adaptive semantic segmentation.

A readable, runnable reproduction of Zhang, Zhao and Zhang, "Towards Adaptive Semantic
Segmentation by Progressive Feature Refinement". One module per idea:

================  =============================================================
``models``        DeepLab-v2 (AdaptSegNet layout), dilated ResNets, the small CPU
                  model, the output-space discriminator; uniform feature taps
``losses``        Eq. (1)-(5): segmentation, Gram/style, content, PFR, adversarial
``metrics``       confusion matrix, IoU (Eq. 7), mIoU, Table-1 formatting
``data``          SynthStreets (embedded two-domain benchmark), GTA5, Cityscapes,
                  folders; transforms
``config``        dataclass configurations with ``cpu`` and ``paper`` presets
``step``          one adaptation iteration (network and discriminator steps)
``baselines``     the Table-1 baselines that change only the losses: CLAN, FCNs in
                  the Wild, ROAD, Curriculum DA (``--method clan`` ...)
``watchdog``      the NaN watchdog: non-finite loss terms and weights, named
``run_setup``     what a run is built from: device options, datasets, networks
``rundir``        a run's folder: one writer, checkpoints, resume, --overwrite
``train``         the training loop of Eq. (6) (``python -m pfrlib.train``)
``evaluate``      checkpoint -> per-class IoU (``python -m pfrlib.evaluate``)
``viz``           colourised labels and the figures the notebooks draw
================  =============================================================

Submodules are imported on use (``from pfrlib import losses``), so ``import pfrlib`` is cheap.
"""

__version__ = "0.1.0"
