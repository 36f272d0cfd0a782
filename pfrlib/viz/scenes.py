"""Pictures of scenes, labels and predictions: dataset samples, the SynthStreets shift one
component at a time, a model's prediction under a chosen shift, and the paper's Figure 3 grid.
"""

from __future__ import annotations

from typing import Mapping, Optional, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure

from pfrlib.data.labels import IGNORE_INDEX
from pfrlib.data.palette import colorize
from pfrlib.data.synthstreets.dataset import BENCHMARK_NAMES, DEFAULT_CLASSES, SHIFT_TYPES, SynthStreets
from pfrlib.data.transforms import normalize
from pfrlib.engine.scoring import predict
from pfrlib.methods import in_words
from pfrlib.viz.figure import add_class_legend, image_grid, present_classes, to_rgb

__all__ = ["sample_grid", "synthstreets_samples", "shift_components", "shift_prediction", "prediction_grid"]


def sample_grid(datasets: Mapping[str, torch.utils.data.Dataset], n: int = 4,
                indices: Optional[Sequence[int]] = None, title: Optional[str] = None) -> Figure:
    """Items of several datasets side by side: for each dataset an image column and a label column.

    Args:
        datasets: name -> dataset returning untransformed ``(uint8 image, trainId label)`` items.
        n: rows (items 0..n-1 unless ``indices`` is given).
        indices: which items to show.
        title: figure title.
    """
    if not datasets:
        raise ValueError("sample_grid needs at least one dataset")
    indices = list(range(n)) if indices is None else list(indices)
    rows, cols, labels = [], [], []
    for name in datasets:
        cols += [f"{name}: image", f"{name}: label"]
    for i in indices:
        row = []
        for ds in datasets.values():
            image, label = ds[i]
            row += [to_rgb(image), colorize(label)]
            labels.append(label)
        rows.append(row)
    ids: set[int] = set()
    for ds in datasets.values():
        ids |= set(getattr(ds, "class_ids", ()) or ())
    return image_grid(rows, cols, [f"#{i}" for i in indices], title=title,
                 legend=sorted(ids) if ids else present_classes(*labels))


def synthstreets_samples(n: int = 4, seed: int = 0, size: Optional[tuple[int, int]] = None, split: str = "val",
                         classes: int = DEFAULT_CLASSES) -> Figure:
    """The SynthStreets grid: source and target scenes, each beside its colourised label
    (``classes``: 9 or 19, the benchmark; ``size`` None: its default size)."""
    sets = {d: SynthStreets(d, split, size=size, seed=seed, length=max(n, 1), classes=classes)
            for d in ("source", "target")}
    h, w = sets["source"].size
    return sample_grid(sets, n=n, title=f"{BENCHMARK_NAMES[classes]} ({split} split, seed {seed}, {h}x{w})")


def shift_components(n: int = 3, seed: int = 0, size: Optional[tuple[int, int]] = None, strength: float = 1.0,
                     split: str = "val", per_row: int = 6, classes: int = DEFAULT_CLASSES) -> Figure:
    """Target scenes rendered with no shift, each shift component alone, and the full shift.

    Panels of one scene: ``none`` (the target scene in source style), one per component of the
    benchmark's shift (:data:`~pfrlib.data.synthstreets.dataset.SHIFT_TYPES`: for 19 classes also
    ``class_prior``, ``camera`` and ``shape``, which change the scene itself, as ``layout`` does;
    the others change only its look) at ``strength``, ``full``, and the label; ``per_row``
    panels to a row (a scene takes several rows), so the figure stays narrow enough to read at a
    notebook's width. Scenes: items 0..n-1 of the target split (``size`` None: the benchmark's
    default size).
    """
    if classes not in SHIFT_TYPES:
        raise ValueError(f"classes must be one of {tuple(SHIFT_TYPES)}, got {classes!r}")
    shift_type = SHIFT_TYPES[classes]
    shifts = {"none": shift_type.none()}
    for name in shift_type.components():
        shifts[name] = shift_type.only(name, strength=strength)
    shifts["full"] = shift_type.full().scaled(strength)
    sets = {k: SynthStreets("target", split, size=size, seed=seed, length=max(n, 1), shift=s, classes=classes)
            for k, s in shifts.items()}
    names = [*shifts, "label"]
    per_row = max(1, min(per_row, len(names)))
    rows, row_titles, titles = [], [], []
    for i in range(n):
        panels = [sets[k].render(i)[0] for k in shifts] + [colorize(sets["full"].render(i)[1])]
        blank = np.full_like(panels[0], 255)
        for start in range(0, len(panels), per_row):
            chunk = panels[start:start + per_row]
            rows.append(chunk + [blank] * (per_row - len(chunk)))
            titles += names[start:start + per_row] + [""] * (per_row - len(chunk))
            row_titles.append(f"#{i}" if start == 0 else "")
    fig = image_grid(rows, names[:per_row], row_titles, cell_width=1.6,
                     title=f"{BENCHMARK_NAMES[classes]} target ({split} split, seed {seed}): each shift component alone "
                           f"(strength {strength:g})",
                     legend=sets["full"].class_ids)
    for ax, text in zip(fig.axes, titles):  # every row of panels is titled: a scene spans several rows
        ax.set_title(text, fontsize=9)
        if not text:  # a blank panel filling the last row
            ax.set_axis_off()
    return fig


def prediction_grid(images, predictions, labels=None, titles=None, title: Optional[str] = None,
                    class_ids: Optional[Sequence[int]] = None):
    """Rows of (image, one prediction per model, ground truth), as the paper's Figure 3, with a
    legend of the class colours.

    Args:
        images: uint8 (N, 3, H, W) RGB images.
        predictions: ``{column label: (N, H, W) trainId predictions}`` (a ``--method`` name is
            titled by the method's name in words, :func:`pfrlib.methods.in_words`).
        labels: optional (N, H, W) ground truth (255 = ignore, shown black).
        titles: optional column titles overriding ``["image", *labels, "ground truth"]``.
        title: a title over the grid (say which split, images and runs it shows).
        class_ids: the classes in the legend (default: those in the labels and predictions).
    """
    n = len(images)
    cols = ["image", *map(in_words, predictions)] + (["ground truth"] if labels is not None else [])
    titles = list(titles) if titles is not None else cols
    if len(titles) != len(cols):
        raise ValueError(f"titles must name {len(cols)} columns, got {len(titles)}")
    h, w = images.shape[-2:]
    fig, axes = plt.subplots(n, len(cols), figsize=(2.2 * len(cols) * w / h / 2 + 0.5, 1.15 * n + 0.4), squeeze=False)
    for i in range(n):
        panels = [np.asarray(images[i].permute(1, 2, 0))]
        panels += [colorize(p[i]) for p in predictions.values()]
        if labels is not None:
            panels.append(colorize(labels[i]))
        for j, panel in enumerate(panels):
            axes[i, j].imshow(panel, interpolation="nearest")
            axes[i, j].axis("off")
            if i == 0:
                axes[i, j].set_title(titles[j], fontsize=9)
    if title:
        fig.suptitle(title, fontsize=10)
    if class_ids is None:
        class_ids = present_classes(*predictions.values(), *([labels] if labels is not None else []))
    legend_rows = 1 if len(class_ids) + 1 <= 8 else 2
    height = fig.get_figheight()
    extra = 0.28 * legend_rows + 0.1  # inches for the legend under the grid
    fig.set_figheight(height + extra)
    fig.tight_layout(rect=(0, extra / (height + extra), 1, 1))
    add_class_legend(fig, class_ids)
    return fig


def shift_prediction(model, shift, index: int = 0, size: tuple[int, int] = (64, 128), split: str = "val",
                     seed: int = 0, model_name: str = "model"):
    """A SynthStreets target scene rendered with ``shift``: image, label and ``model``'s prediction.

    Args:
        model: a segmentation model (``pfrlib.models``) in eval mode, with a ``normalization``.
        shift: the shift to render with; its type picks the benchmark
            (:data:`~pfrlib.data.synthstreets.dataset.SHIFT_TYPES`: a ``SynthShift19`` renders
            SynthStreets-19, a ``SynthShift`` the 9-class SynthStreets).
        index: which item of the split.
        size, split, seed: the SynthStreets target set the scene comes from.
        model_name: how the prediction panel is titled.

    The title gives the pixel accuracy of the prediction on this image and the active components.
    """
    classes = [c for c, kind in SHIFT_TYPES.items() if type(shift) is kind]
    if not classes:
        raise TypeError(f"shift must be one of {[k.__name__ for k in SHIFT_TYPES.values()]}, got {type(shift).__name__}")
    ds = SynthStreets("target", split, size=size, seed=seed, length=index + 1, shift=shift, classes=classes[0])
    image, label = ds[index]
    pred = predict(model, normalize(image, model.normalization)[None])[0]
    valid = label != IGNORE_INDEX
    accuracy = float((pred[valid] == label[valid]).float().mean()) if bool(valid.any()) else float("nan")
    active = [name for name, v in shift.as_dict().items() if v > 0]
    fig, axes = plt.subplots(1, 3, figsize=(11, 2.9))
    panels = ((to_rgb(image), f"target {split} #{index} (seed {seed})"), (colorize(label), "label"),
              (colorize(pred), f"{model_name}: {100 * accuracy:.0f}% pixels right"))
    for ax, (img, title) in zip(axes, panels):
        ax.imshow(img, interpolation="nearest")
        ax.set_title(title, fontsize=9)
        ax.axis("off")
    fig.suptitle("shift: " + (", ".join(active) if active else "none (the scene in source style)"), fontsize=10)
    fig.tight_layout(rect=(0, 0.12, 1, 1))
    add_class_legend(fig, ds.class_ids)
    return fig
