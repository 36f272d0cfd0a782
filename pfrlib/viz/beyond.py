"""Figures of the methods beyond the paper's Table 1 (:mod:`pfrlib.methods.beyond`), notebook 09:
style three ways (a Gram matrix, an amplitude spectrum, an entropy map), FDA's swap at several
betas with its window drawn, and entropy maps of several models side by side.
"""

from __future__ import annotations

from typing import Mapping, Optional, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from pfrlib.methods.beyond.fda import log_amplitude

__all__ = ["style_three_ways", "fda_grid", "entropy_grid"]

#: The colour map of the entropy maps (0: confident, 1: uniform over the classes).
ENTROPY_CMAP = "magma"
#: The colour map of the amplitude spectra.
SPECTRUM_CMAP = "viridis"


def _numpy(x) -> np.ndarray:
    return np.asarray(torch.as_tensor(x).detach().cpu().float())


def _picture(image) -> np.ndarray:
    """An image on the 0..255 scale (uint8 or float, channels first or last) as floats in [0, 1]."""
    arr = _numpy(image)
    if arr.ndim == 3 and arr.shape[0] == 3 and arr.shape[-1] != 3:
        arr = arr.transpose(1, 2, 0)
    return np.clip(arr / 255.0, 0.0, 1.0)


def _bare(ax) -> None:
    ax.set_xticks([])
    ax.set_yticks([])


def style_three_ways(images: Sequence, grams: Sequence, spectra: Sequence, entropies: Sequence,
                     row_titles: Sequence[str], title: str = "") -> Figure:
    """One row per image: the image, the Gram matrix of a feature map of it, its amplitude
    spectrum and the entropy map of a model's prediction on it, each kind on one colour scale.

    Args:
        images: uint8 3 x H x W images (e.g. a source and a target image).
        grams: C x C Gram matrices (:func:`pfrlib.paper.losses.gram_matrix` of one stage's features).
        spectra: H x W log-amplitude spectra (:func:`pfrlib.methods.beyond.fda.log_amplitude`).
        entropies: H x W entropy maps in [0, 1] (:func:`pfrlib.methods.beyond.entropy.entropy_map`).
        row_titles: each row's name (``"source"``, ``"target"``).
        title: the figure's title (say the model, the stage and the images).
    """
    n = len(images)
    if not (len(grams) == len(spectra) == len(entropies) == len(row_titles) == n):
        raise ValueError(f"style_three_ways: expected {n} of each of grams, spectra, entropies and row_titles")
    grams, spectra, entropies = ([_numpy(x) for x in xs] for xs in (grams, spectra, entropies))
    fig, axes = plt.subplots(n, 4, figsize=(12, 1.6 * n + 0.7), layout="constrained", squeeze=False,
                             gridspec_kw={"width_ratios": [2, 1, 2, 2]})
    g_max = max(float(np.abs(g).max()) for g in grams) or 1.0
    s_lo, s_hi = min(float(s.min()) for s in spectra), max(float(s.max()) for s in spectra)
    columns = ("image", "Gram matrix (Eq. 2)", "log amplitude spectrum", "entropy of the prediction")
    for r in range(n):
        axes[r, 0].imshow(_picture(images[r]), interpolation="nearest")
        g_im = axes[r, 1].imshow(grams[r], cmap="viridis", vmin=min(0.0, float(min(g.min() for g in grams))),
                                 vmax=g_max)
        s_im = axes[r, 2].imshow(spectra[r], cmap=SPECTRUM_CMAP, vmin=s_lo, vmax=s_hi)
        e_im = axes[r, 3].imshow(entropies[r], cmap=ENTROPY_CMAP, vmin=0.0, vmax=1.0, interpolation="nearest")
        for c, ax in enumerate(axes[r]):
            _bare(ax)
            if r == 0:
                ax.set_title(columns[c], fontsize=9)
        axes[r, 0].set_ylabel(row_titles[r], fontsize=9)
    fig.colorbar(g_im, ax=axes[:, 1], shrink=0.8)
    fig.colorbar(s_im, ax=axes[:, 2], shrink=0.8)
    fig.colorbar(e_im, ax=axes[:, 3], shrink=0.8)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def _box(mask: np.ndarray) -> Optional[tuple[int, int, int, int]]:
    """``(row0, col0, height, width)`` of the rectangle a boolean mask fills; None when empty."""
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if not len(rows):
        return None
    return int(rows[0]), int(cols[0]), int(rows[-1] - rows[0] + 1), int(cols[-1] - cols[0] + 1)


def fda_grid(source, target, swapped: Mapping[float, torch.Tensor], windows: Mapping[float, torch.Tensor],
             title: str = "") -> Figure:
    """FDA's swap at several betas: the images (top row) and their log-amplitude spectra (bottom
    row), the swapped window drawn on each spectrum.

    Args:
        source, target: 3 x H x W images on the 0..255 scale.
        swapped: ``{beta: 3 x H x W}`` the source image with the target's low-frequency amplitude
            (:func:`pfrlib.methods.beyond.fda.fda_source_to_target`; not clipped, shown clipped).
        windows: ``{beta: H x W bool}`` the swapped frequencies, centred
            (:func:`pfrlib.methods.beyond.fda.swapped_window`), one per beta of ``swapped``.
        title: the figure's title (say the window and the images).
    """
    if set(windows) != set(swapped):
        raise ValueError("fda_grid: windows must give one window per beta of swapped")
    columns = [("source", source, None), *((f"beta = {b:g}", swapped[b], windows[b]) for b in swapped),
               ("target", target, None)]
    pictures = [torch.as_tensor(img).float() for _, img, _ in columns]
    spectra = log_amplitude(torch.stack([p if p.shape[0] == 3 else p.permute(2, 0, 1) for p in pictures])).numpy()
    lo, hi = float(spectra.min()), float(spectra.max())
    fig, axes = plt.subplots(2, len(columns), figsize=(2.1 * len(columns) + 0.8, 2.6), layout="constrained",
                             squeeze=False)
    for c, (name, image, window) in enumerate(columns):
        axes[0, c].imshow(_picture(image), interpolation="nearest")
        axes[0, c].set_title(name, fontsize=9)
        im = axes[1, c].imshow(spectra[c], cmap=SPECTRUM_CMAP, vmin=lo, vmax=hi, interpolation="nearest")
        box = None if window is None else _box(_numpy(window) > 0)
        if box is not None:
            r0, c0, h, w = box
            axes[1, c].add_patch(Rectangle((c0 - 0.5, r0 - 0.5), w, h, fill=False, edgecolor="white", linewidth=1.0))
        for ax in axes[:, c]:
            _bare(ax)
    axes[0, 0].set_ylabel("image", fontsize=9)
    axes[1, 0].set_ylabel("log amplitude", fontsize=9)
    fig.colorbar(im, ax=axes[1, :], shrink=0.8)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def entropy_grid(images, maps: Mapping[str, torch.Tensor], title: str = "") -> Figure:
    """One row per image: the image and each model's entropy map on one scale (0: confident, 1:
    uniform over the classes), with each map's mean in its corner.

    Args:
        images: uint8 N x 3 x H x W images.
        maps: ``{column title: N x H x W entropy maps in [0, 1]}`` (e.g. before and after adaptation).
        title: the figure's title (say the models and the images).
    """
    n = len(images)
    if any(len(m) != n for m in maps.values()):
        raise ValueError(f"entropy_grid: every map must hold {n} images")
    cols = 1 + len(maps)
    fig, axes = plt.subplots(n, cols, figsize=(2.4 * cols + 0.8, 1.25 * n + 0.6), layout="constrained",
                             squeeze=False)
    for r in range(n):
        axes[r, 0].imshow(_picture(images[r]), interpolation="nearest")
        for c, (name, m) in enumerate(maps.items(), start=1):
            values = _numpy(m[r])
            im = axes[r, c].imshow(values, cmap=ENTROPY_CMAP, vmin=0.0, vmax=1.0, interpolation="nearest")
            axes[r, c].text(0.02, 0.04, f"mean {values.mean():.2f}", transform=axes[r, c].transAxes, fontsize=7,
                            color="white", va="bottom",
                            bbox=dict(facecolor="black", alpha=0.6, pad=1.0, linewidth=0))
            if r == 0:
                axes[r, c].set_title(name, fontsize=9)
        if r == 0:
            axes[r, 0].set_title("target image", fontsize=9)
        for ax in axes[r]:
            _bare(ax)
    fig.colorbar(im, ax=axes[:, 1:], shrink=0.8, label="entropy (normalised)")
    if title:
        fig.suptitle(title, fontsize=10)
    return fig
