"""Figures of features: the mean source and target Gram matrices of one stage and their
difference (what the style loss of Eq. 2 compares).
"""

from __future__ import annotations

from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.ticker import MaxNLocator

__all__ = ["gram_pair"]


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
