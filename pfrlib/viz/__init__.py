"""Pictures: colourised labels and the figures the notebooks draw.

* :func:`colorize` - trainId label -> RGB with the Cityscapes palette (255 = ignore in black).
* :func:`sample_grid` - a few items of one or more datasets, image beside its colourised label.
* :func:`synthstreets_samples` - the SynthStreets source / target grid (``figures/synthstreets_samples.png``).
* :func:`shift_components` - the same target scenes with each :class:`~pfrlib.data.SynthShift`
  component switched on alone: what each part of the domain shift does to an image.
* :func:`plot_training_curves`, :func:`plot_per_class_iou`, :func:`plot_ladder` - results of runs
  (``metrics.jsonl``, ``final.json``, mean ± std tables).
* :func:`plot_iou_heatmap` - methods x classes IoU as a coloured, annotated grid (Table 1 at a glance).
* :func:`plot_share_vs_difference` - per class, its pixel share against one method's IoU minus
  another's (the paper's "frequent vs rare classes" reading of Table 1).
* :func:`plot_class_differences` - claim (b): per class, the reference minus another method with
  its interval, against the class's pixel share and its mean instance size, the paper's classes marked.
* :func:`prediction_grid` - image, predictions of several models, ground truth (the paper's Fig. 3).
* :func:`add_class_legend` - the class colours under a figure of colourised labels (every figure
  here that shows labels carries one).
* :func:`gram_pair` - mean source and target Gram matrices of one stage and their difference.
* :func:`shift_prediction` - one target scene under a chosen :class:`~pfrlib.data.SynthShift`:
  image, label and a model's prediction (the interactive view of notebook 03).

Every function returns a ``matplotlib.figure.Figure`` made through pyplot, so ``plt.show()``
displays it in a notebook (headless scripts use the Agg backend; close figures you do not show
with ``plt.close(fig)``); :func:`save_figure` writes one atomically.

The package, one module per kind of figure (every name is importable from ``pfrlib.viz``):

* :mod:`pfrlib.data.palette` - :func:`colorize` (numpy only, so the evaluation shares it).
* :mod:`.figure` - :func:`to_rgb`, :func:`present_classes`, :func:`add_class_legend`,
  :func:`save_figure` and the picture grid the others use.
* :mod:`.scenes` - dataset samples, the SynthStreets shift, predictions (Figure 3).
* :mod:`.results` - training curves, per-class IoU, the heat map, frequent vs rare, the ladder.
* :mod:`.claims` - :func:`plot_class_differences`.
* :mod:`.features` - :func:`gram_pair`.
* :mod:`.beyond` - notebook 09's figures of the methods beyond Table 1: :func:`style_three_ways`
  (Gram matrix, amplitude spectrum, entropy), :func:`fda_grid`, :func:`entropy_grid`.
* :mod:`.components` - :func:`plot_component_maps`: which shift component each method closes, the
  per-component grid's two heat maps (``figures/components_heatmap.png``).
"""

from __future__ import annotations


__all__ = []
