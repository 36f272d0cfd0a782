"""The input-space family of Table 1: translate the source images, then adapt (CyCADA, DLOW, TGCF-DA).

One module per idea, read next to the papers:

* :mod:`.networks`   - ResNet generator (instance / conditional / adaptive instance norm; resize-convolution
  or transposed upsampling), PatchGAN
* :mod:`.losses`     - least-squares GAN, cycle, identity, semantic consistency, DLOW's z weighting,
  the mean teacher's EMA and consistency
* :mod:`.pool`       - the pool of past fakes
* :mod:`.flow`       - DLOW's domain flow measured: a translated set's colour and Gram distances to the
  source and the target, and whether they move monotonically with z
* :mod:`.config`     - :class:`TranslationConfig` and its ``cpu`` / ``paper`` presets
* :mod:`.translator` - the networks of each method and one update (stage 1's step)
* :mod:`.stage1`     - stage 1's loop and the translated source set it writes
* :mod:`.mean_teacher` - TGCF-DA's stage 2 (self-ensembling)
* :mod:`.run`        - both stages as one run (``python -m pfrlib.train --method cycada|dlow|tgcf_da``)
"""


__all__ = []
