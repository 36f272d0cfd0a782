"""Methods that came after the paper's Table 1, on the same loop and network.

==================  =================================================  ===================
``--method``        paper (public code)                                module
==================  =================================================  ===================
``minent``          Vu et al., CVPR 2019, ADVENT's MinEnt               :mod:`.minent`
                    (valeoai/ADVENT)
``advent``          Vu et al., CVPR 2019, ADVENT's AdvEnt               :mod:`.advent`
                    (valeoai/ADVENT)
``fda``             Yang & Soatto, CVPR 2020, FDA with one beta         :mod:`.fda`
                    (YanchaoYang/FDA)
``hist_match``      per-channel histogram matching to a target image,   :mod:`.hist_match`
                    the zero-parameter sanity row (no paper)
``self_training``,  self-training with class-wise thresholds: CBST      :mod:`.self_training`
``pfr_adv_st``,     (Zou et al., ECCV 2018), BDL's code (Li et al.,
``adaptsegnet_st``  CVPR 2019; liyunsheng13/BDL)
==================  =================================================  ===================

They plug into the step like the Table-1 baselines (:class:`pfrlib.paper.step.Baseline`): MinEnt
and FDA add an entropy term on the step's target forward; AdvEnt trains AdaptSegNet's
discriminator on weighted self-information maps through
:class:`~pfrlib.paper.step.DiscriminatorInputs`; FDA also restyles each source batch before the
source forward (:meth:`pfrlib.paper.step.Baseline.source_images`, the FFT amplitude swap of
:func:`.fda.fda_source_to_target`; histogram matching: :func:`.hist_match.match_histograms`, with
no term and no target forward). The entropy maps they share are :mod:`.entropy`. Self-training's term labels each target batch
with a frozen adapted model (:class:`.self_training.SelfTraining`); its rounds are
:mod:`pfrlib.engine.two_stage.self_training`. Each module
holds its configuration section (``MinEntConfig``, ...: the public code's values as defaults, the
``cpu`` preset's untuned values, the ``paper`` preset's recipe). What each keeps and approximates:
docs/baselines.md ("Beyond Table 1") and docs/choices.md.
"""
