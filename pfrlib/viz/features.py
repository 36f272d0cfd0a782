"""Figures of features: the mean source and target Gram matrices of one stage and their
difference (what the style loss of Eq. 2 compares), the shuffle experiment (style forgets layout),
the style gap per stage, and the stage outputs of a network as pictures.
"""

from __future__ import annotations

from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.ticker import MaxNLocator

from pfrlib.viz.figure import image_grid
from pfrlib.viz.results import NOTEBOOK_WIDTH_IN

__all__ = ["gram_pair", "shuffle_invariance", "style_gap", "stage_maps"]


def gram_pair(gram_source, gram_target, title: str = "", labels: Sequence[str] = ("source", "target")):
    """Two mean Gram matrices on one colour scale and their difference (a diverging map).

    Args:
        gram_source, gram_target: (C, C) Gram matrices (e.g. a stage's mean over images).
        title: the figure title (say which stage, normalisation and images).
        labels: the names of the two domains.
    """
    a = np.asarray(torch.as_tensor(gram_source).detach().cpu())
    b = np.asarray(torch.as_tensor(gram_target).detach().cpu())
    vmax = float(max(np.abs(a).max(), np.abs(b).max())) or 1.0
    diff = a - b
    lim = float(np.abs(diff).max()) or 1.0
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.6), layout="constrained")
    for ax, m, name in ((axes[0], a, labels[0]), (axes[1], b, labels[1])):
        im = ax.imshow(m, cmap="viridis", vmin=min(0.0, float(min(a.min(), b.min()))), vmax=vmax)
        ax.set_title(f"mean Gram matrix, {name}", fontsize=9)
    fig.colorbar(im, ax=axes[:2], shrink=0.8)
    im = axes[2].imshow(diff, cmap="coolwarm", vmin=-lim, vmax=lim)
    axes[2].set_title(f"{labels[0]} - {labels[1]}", fontsize=9)
    fig.colorbar(im, ax=axes[2], shrink=0.8)
    for ax in axes:
        ax.set_xlabel("channel")
        ax.set_ylabel("channel")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def _as_picture(image) -> np.ndarray:
    """An H x W x 3 picture (uint8, or floats in [0, 1]) from a tensor or array, channels last."""
    arr = np.asarray(torch.as_tensor(image).detach().cpu())
    if arr.ndim == 3 and arr.shape[0] == 3 and arr.shape[-1] != 3:
        arr = arr.transpose(1, 2, 0)
    return arr


def shuffle_invariance(image, shuffled, gram, gram_shuffled, image_title: str = "image",
                       channels: Sequence[str] = ("R", "G", "B")):
    """An image, the same image with its pixels shuffled, and the Gram matrix of each on one colour
    scale with its colour bar: the two Gram matrices are the same (style forgets layout).

    Args:
        image, shuffled: the two pictures (3 x H x W or H x W x 3).
        gram, gram_shuffled: their (C, C) Gram matrices.
        image_title: what the first picture is (split, index, seed).
        channels: the names of the C channels (tick labels of the Gram matrices).
    """
    g1 = np.asarray(torch.as_tensor(gram).detach().cpu())
    g2 = np.asarray(torch.as_tensor(gram_shuffled).detach().cpu())
    lo, hi = float(min(g1.min(), g2.min())), float(max(g1.max(), g2.max()))
    fig, axes = plt.subplots(1, 4, figsize=(NOTEBOOK_WIDTH_IN, 2.7), layout="constrained",
                             gridspec_kw={"width_ratios": [2, 2, 1, 1]})
    for ax, picture, title in ((axes[0], image, image_title), (axes[1], shuffled, "pixels shuffled")):
        ax.imshow(_as_picture(picture), interpolation="nearest")
        ax.set_title(title, fontsize=9)
        ax.set_axis_off()
    for ax, g, title in ((axes[2], g1, "Gram matrix, image"), (axes[3], g2, "Gram matrix, shuffled")):
        im = ax.imshow(g, cmap="viridis", vmin=lo, vmax=hi)
        ax.set_title(title, fontsize=9)
        ax.set_xticks(range(len(channels)), list(channels))
        ax.set_yticks(range(len(channels)), list(channels))
    fig.colorbar(im, ax=axes[2:], shrink=0.9, label="Gram entry")
    return fig


def style_gap(mean_source, mean_target, distances: Sequence[dict], stage: int,
              labels: Sequence[str] = ("source", "target")):
    """The style gap of a stage and of all stages: the mean source and target Gram matrices of
    ``stage`` on one colour scale, their difference (each map with its colour bar), and per stage
    the mean style distance within each domain and across domains (bars, legend under them).

    Args:
        mean_source, mean_target: (C, C) mean Gram matrices of ``stage``.
        distances: one dict per stage: ``stage``, ``within_source``, ``within_target``, ``across``.
        stage: the stage of the two matrices (for the titles).
        labels: the names of the two domains.
    """
    a = np.asarray(torch.as_tensor(mean_source).detach().cpu())
    b = np.asarray(torch.as_tensor(mean_target).detach().cpu())
    vmax = float(max(np.abs(a).max(), np.abs(b).max())) or 1.0
    lim = float(np.abs(a - b).max()) or 1.0
    fig, axes = plt.subplots(1, 4, figsize=(NOTEBOOK_WIDTH_IN, 3.3), layout="constrained",
                             gridspec_kw={"width_ratios": [1, 1, 1, 1.5]})
    for ax, m, name in ((axes[0], a, labels[0]), (axes[1], b, labels[1])):
        im = ax.imshow(m, cmap="viridis", vmin=min(0.0, float(min(a.min(), b.min()))), vmax=vmax)
        ax.set_title(f"mean Gram, {name}\n(stage {stage})", fontsize=9)
    fig.colorbar(im, ax=axes[:2], shrink=0.8)
    im = axes[2].imshow(a - b, cmap="coolwarm", vmin=-lim, vmax=lim)
    axes[2].set_title(f"{labels[0]} - {labels[1]}\n(stage {stage})", fontsize=9)
    fig.colorbar(im, ax=axes[2], shrink=0.8)
    for ax in axes[:3]:
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_xlabel("channel", fontsize=9)
    stages = np.array([d["stage"] for d in distances])
    w = 0.27
    bars = axes[3]
    for k, (key, name) in enumerate((("within_source", f"within {labels[0]}"), ("within_target", f"within {labels[1]}"),
                                     ("across", "across domains"))):
        bars.bar(stages + (k - 1) * w, [d[key] for d in distances], w, label=name)
    bars.set_xticks(stages, [f"stage {s}" for s in stages], fontsize=9)
    bars.set_ylabel("mean style distance", fontsize=9)
    bars.set_title("style distance per stage", fontsize=9)
    fig.legend(*bars.get_legend_handles_labels(), loc="outside lower center", ncol=3, fontsize=9, frameon=False)
    return fig


def stage_maps(images: Sequence, features: Sequence, names: Sequence[str], title: str = ""):
    """One row per image: the image, then the mean over channels of each stage's output, with
    each stage's (C, H, W) over its column (the shapes are those of every row).

    Args:
        images: the pictures (3 x H x W or H x W x 3), one per row.
        features: the stage outputs, each (N, C, H, W) with one item per row.
        names: what each row is (e.g. ``"source val #0"``).
        title: a title over the grid.
    """
    cmap = plt.get_cmap("magma")
    rows = []
    for i, picture in enumerate(images):
        row = [_as_picture(picture)]
        for f in features:
            m = np.asarray(torch.as_tensor(f[i]).detach().cpu().float().mean(0))
            span = float(m.max() - m.min()) or 1.0
            row.append(cmap((m - m.min()) / span)[..., :3])
        rows.append(row)
    col_titles = ["image"] + [f"stage {s + 2} {tuple(f.shape[1:])}" for s, f in enumerate(features)]
    return image_grid(rows, col_titles, row_titles=list(names), title=title or None)
