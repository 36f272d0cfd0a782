"""What every figure of :mod:`pfrlib.viz` shares: images as RGB arrays, the class legend, a grid
of pictures, and writing a figure to a file atomically.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from pfrlib.data.labels import CLASS_NAMES, PALETTE
from pfrlib.io import atomic_write

__all__ = ["to_rgb", "present_classes", "add_class_legend", "image_grid", "save_figure"]


def to_rgb(image: np.ndarray | torch.Tensor) -> np.ndarray:
    """A dataset image (uint8 3 x H x W tensor, or H x W x 3 array) as uint8 H x W x 3 numpy."""
    if isinstance(image, torch.Tensor):
        image = image.detach().cpu().numpy()
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[0] == 3 and image.shape[-1] != 3:
        image = image.transpose(1, 2, 0)
    if image.dtype != np.uint8:
        raise TypeError(f"to_rgb expects a uint8 image as stored by a dataset (no transform), got {image.dtype}")
    return image


def present_classes(*labels: np.ndarray | torch.Tensor) -> list[int]:
    """The trainIds (0..18) that occur in any of the given label or prediction arrays, sorted."""
    found: set[int] = set()
    for lab in labels:
        arr = lab.detach().cpu().numpy() if isinstance(lab, torch.Tensor) else np.asarray(lab)
        found |= {int(v) for v in np.unique(arr) if 0 <= int(v) < len(PALETTE)}
    return sorted(found)


def add_class_legend(fig: Figure, class_ids: Sequence[int], ignore: bool = True, ncol: Optional[int] = None) -> None:
    """Put a legend of the class colours (Cityscapes palette) under ``fig``.

    Args:
        fig: a figure showing colourised labels.
        class_ids: the trainIds to list (e.g. a dataset's ``class_ids``).
        ignore: also list black as "ignore / not drawn".
        ncol: legend columns (default: as many as the figure's width holds, the rows balanced:
            SynthStreets-19's twenty entries take several rows under a narrow figure).
    """
    handles = [Patch(facecolor=PALETTE[c] / 255, edgecolor="0.3", linewidth=0.5, label=CLASS_NAMES[c])
               for c in class_ids]
    if ignore:
        handles.append(Patch(facecolor="black", edgecolor="0.3", linewidth=0.5, label="ignore"))
    if not handles:
        return
    if ncol is None:  # an entry at fontsize 9: the patch and gaps (~0.45 in) and ~0.075 in a character
        per_row = max(1, int(fig.get_size_inches()[0] // (0.45 + 0.075 * max(len(h.get_label()) for h in handles))))
        ncol = -(-len(handles) // -(-len(handles) // per_row))  # the fewest rows, filled evenly
    fig.legend(handles=handles, loc="outside lower center" if fig.get_layout_engine() is not None and
               type(fig.get_layout_engine()).__name__ == "ConstrainedLayoutEngine" else "lower center",
               ncol=ncol, fontsize=9, frameon=False, handlelength=1.2, columnspacing=1.0)


def image_grid(rows: list[list[np.ndarray]], col_titles: Sequence[str], row_titles: Optional[Sequence[str]] = None,
          cell_width: float = 2.2, title: Optional[str] = None, legend: Optional[Sequence[int]] = None) -> Figure:
    n_rows, n_cols = len(rows), len(rows[0])
    h, w = rows[0][0].shape[:2]
    # through pyplot, like the other figures here, so that plt.show() displays it in a notebook
    fig = plt.figure(figsize=(cell_width * n_cols, cell_width * h / w * n_rows + 0.5 + (0.3 if title else 0)),
                     layout="constrained")
    axes = fig.subplots(n_rows, n_cols, squeeze=False)
    for r, row in enumerate(rows):
        for c, img in enumerate(row):
            ax = axes[r][c]
            ax.imshow(img, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(col_titles[c], fontsize=9)
            if c == 0 and row_titles is not None:
                ax.set_ylabel(row_titles[r], fontsize=9)
    if title:
        fig.suptitle(title, fontsize=10)
    if legend is not None:
        add_class_legend(fig, legend)
    return fig


def save_figure(fig: Figure, path: str | os.PathLike, dpi: int = 150) -> Path:
    """Write ``fig`` to ``path`` (format from the suffix) atomically; returns the path."""
    path = Path(path)
    fmt = path.suffix.lstrip(".") or "png"
    return atomic_write(path, lambda f: fig.savefig(f, format=fmt, dpi=dpi, bbox_inches="tight"))
