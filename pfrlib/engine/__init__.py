"""The training engine: the run loop and everything a run reads and writes.

================  ==============================================================
``trainer``       the loop of Eq. (6): ``Trainer``, ``train_loop(config)``
``run``           one run of any method: ``train(config)``
``setup``         what a run is built from: device options, datasets, networks
``rundir``        a run's folder: one writer, checkpoints, resume, --overwrite
``dirlock``       the run folder's lock (one writer at a time)
``stage_store``   finished stages shared across run folders (``--stage-store``)
``checkpoint``    atomic checkpoints, RNG states, a finished run's network
``record``        ``final.json``, the record of a finished run; a run's progress record
``calibration``   a few timed iterations: this machine's speed against the reference's
``scoring``       a network on a dataset: confusion matrix, per-class IoU
``watchdog``      non-finite loss terms and weights, named
``tensorboard``   a run's TensorBoard events
``distributed``   torchrun: process groups, sharded streams
``two_stage``     the methods trained in stages: translation, self-training
================  ==============================================================
"""
