"""Which shift each family closes, drawn: the per-component grid as two heat maps.

:func:`plot_component_maps` draws a :class:`pfrlib.evaluation.components.ComponentGrid`: a method
per row, a shift component per column, one panel per kind of cell
(:data:`pfrlib.evaluation.components.KINDS`):

* top, **C alone**: the gap closed (%) on the target with only that component changed (first
  column: the full shift); 0 is source only, 100 the oracle;
* bottom, **full minus C**: the share (%) of the method's full-shift deficit to the oracle that
  disappears when the component is set back to the source's.

The colour is the value (blue above 0, red below, clipped at +-:data:`COLOUR_LIMIT`); each cell
writes the value and its interval, in bold where the interval excludes 0; a cell whose runs have
not all finished is grey and says how many have.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import TwoSlopeNorm
from matplotlib.figure import Figure

from pfrlib.evaluation.components import KINDS, ComponentGrid
from pfrlib.methods import label

__all__ = ["COLOUR_LIMIT", "PANEL_TITLES", "plot_component_maps"]

#: Values beyond +-this (%) get the end colours (their text still says the value).
COLOUR_LIMIT = 100.0
#: Each panel's title and colour-bar label.
PANEL_TITLES: dict[str, tuple[str, str]] = {
    "alone": ("Only this component changed: gap closed (% of oracle - source only)", "gap closed (%)"),
    "minus": ("Full shift without this component: share of the method's deficit to the oracle removed (%)",
              "deficit removed (%)"),
}


def plot_component_maps(grid: ComponentGrid, title: str = "") -> Figure:
    """The grid's two heat maps (module docstring), one above the other.

    Args:
        grid: :func:`pfrlib.evaluation.components.component_grid`'s result (or read back from its JSON).
        title: the figure's title (default: the runs finished and the seeds).
    """
    if not grid.components:
        raise ValueError("grid: expected at least one component")
    width = 0.95 * (len(grid.components) + 1) + 3.2
    heights = [0.5 * len(grid.rows(kind)) + 1.3 for kind in KINDS]
    fig, axes = plt.subplots(len(KINDS), 1, figsize=(width, sum(heights) + 0.6),
                             gridspec_kw={"height_ratios": heights})
    cmap = plt.get_cmap("RdBu").with_extremes(bad="0.88")
    norm = TwoSlopeNorm(vmin=-COLOUR_LIMIT, vcenter=0.0, vmax=COLOUR_LIMIT)
    for ax, kind in zip(np.atleast_1d(axes), KINDS):
        rows, columns = grid.rows(kind), grid.columns(kind)
        cells = [[grid.get(kind, m, c) for c in columns] for m in rows]
        values = np.array([[np.nan if not c.done else np.clip(c.value, -COLOUR_LIMIT, COLOUR_LIMIT) for c in row]
                           for row in cells])
        im = ax.imshow(values, cmap=cmap, norm=norm, aspect="auto")
        for i, row in enumerate(cells):
            for j, c in enumerate(row):
                if not c.done:
                    text, colour, weight = f"{c.finished} of {c.expected}\nruns", "0.35", "normal"
                else:
                    interval = "" if c.low is None or not np.isfinite(c.low) else f"\n[{c.low:.0f}, {c.high:.0f}]"
                    text = f"{c.value:.0f}{interval}"
                    colour = "white" if abs(values[i, j]) > 0.6 * COLOUR_LIMIT else "black"
                    weight = "normal" if c.includes_zero else "bold"
                ax.text(j, i, text, ha="center", va="center", fontsize=6.5, color=colour, fontweight=weight,
                        linespacing=1.1)
        ax.set_xticks(range(len(columns)), [c.replace("_", " ") for c in columns], rotation=30, ha="right",
                      fontsize=8)
        ax.set_yticks(range(len(rows)), [label(m) for m in rows], fontsize=8)
        panel_title, bar_label = PANEL_TITLES[kind]
        ax.set_title(panel_title, fontsize=9)
        fig.colorbar(im, ax=ax, fraction=0.025, pad=0.01).set_label(bar_label, fontsize=8)
    fig.suptitle(title or f"Which shift each method closes: {grid.finished_runs} of {grid.expected_runs} runs "
                          f"finished, seeds {', '.join(map(str, grid.seeds))}; bold: the "
                          f"{100 * grid.confidence:g}% interval excludes 0", fontsize=10)
    fig.tight_layout()
    return fig
