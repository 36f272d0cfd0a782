"""The methods trained in two stages.

The input-space methods (CyCADA, DLOW, TGCF-DA): train a translator and translate the source set
(``stage1``), then train the segmentation network on it (``run``), with the mean teacher's
consistency term (``mean_teacher``) or DLOW's domainness weights (``domainness``); the
translator's networks and losses are :mod:`pfrlib.methods.translation`.

Self-training (``self_training``, ``pfr_adv_st``, ``adaptsegnet_st``): an adapted model (given,
or trained by the run loop), then rounds of class-wise pseudo-labels (``self_training``); its
thresholds, pseudo-labels and loss are :mod:`pfrlib.methods.beyond.self_training`. Both reuse a
finished stage with the same configuration (:func:`pfrlib.engine.two_stage.run.reuse_or_train`), in
the run's folder, and with ``--stage-store`` across run folders (:mod:`pfrlib.engine.stage_store`).
"""
