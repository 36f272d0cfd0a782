"""Claim (b) drawn: the reference minus another method per class, against how frequent and how
large each class is.

:func:`plot_class_differences` draws :func:`pfrlib.evaluation.class_comparisons.compare_classes`'
rows: each class's mean IoU difference with its interval, against its pixel share (log scale) and,
in a second panel, its mean instance size (log scale), both counted on the benchmark
(:func:`pfrlib.data.synthstreets.class_facts.benchmark_class_facts`). The paper's eight classes
(:data:`pfrlib.paper.metrics.PAPER_GAIN_CLASSES`) are marked, each verdict has its colour, and the
zero line is where the two methods are level. The paper's reading predicts wins on the right of
both panels (frequent, large classes) and losses on the left.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from pfrlib.evaluation.class_comparisons import ClassComparison
from pfrlib.evaluation.comparisons import VERDICTS
from pfrlib.methods import label
from pfrlib.paper.metrics import PAPER_GAIN_CLASSES
from pfrlib.viz.results import NOTEBOOK_WIDTH_IN, label_points

__all__ = ["CLASS_AXES", "VERDICT_COLOURS", "plot_class_differences"]

#: The two panels: the fact of :func:`pfrlib.data.synthstreets.class_facts.label_class_facts` on x, and its axis label.
CLASS_AXES: tuple[tuple[str, str], ...] = (
    ("share", "pixel share of the test labels (%, log scale)"),
    ("mean_instance_px", "mean instance size (pixels per connected piece, log scale)"))
#: Each verdict's colour (read as "<reference> beats / ties / loses to <method>").
VERDICT_COLOURS: dict[str, str] = dict(zip(VERDICTS, ("tab:green", "0.45", "tab:red")))


def plot_class_differences(rows: Sequence[ClassComparison], facts: Mapping[str, Mapping[str, Any]],
                           title: str = "") -> Figure:
    """Per class, ``reference - method`` (IoU points, with its interval) against its pixel share and
    its mean instance size.

    Args:
        rows: :func:`pfrlib.evaluation.class_comparisons.compare_classes`' rows (one reference and method).
        facts: ``{class: {"share": %, "mean_instance_px": px}}``
            (:func:`pfrlib.data.synthstreets.class_facts.label_class_facts`); a class with no pixel
            in the counted images (instance size None) cannot be placed and is left out, said so
            under the panels.
        title: the figure's title (default: what is compared, and on which split).

    Returns:
        A two-panel figure; the legend under it names the verdicts (colours) and the paper's
        classes (filled squares).
    """
    if not rows:
        raise ValueError("rows: expected at least one class comparison")
    pairs = {(r.reference, r.method) for r in rows}
    if len(pairs) != 1:
        raise ValueError(f"rows: expected one reference and one method, got {sorted(pairs)}")
    absent = [r.name for r in rows if r.name not in facts]
    if absent:
        raise ValueError(f"facts: no pixel share or instance size for {absent}")
    placed = [r for r in rows if facts[r.name].get("mean_instance_px") is not None and facts[r.name]["share"] > 0]
    if not placed:
        raise ValueError("facts: none of the classes compared has a pixel in the counted images")
    ref, other = label(rows[0].reference), label(rows[0].method)
    fig, axes = plt.subplots(1, 2, figsize=(NOTEBOOK_WIDTH_IN, 4.2), sharey=True)
    y = np.array([r.mean for r in placed])
    err = np.array([[r.mean - r.interval[0] for r in placed], [r.interval[1] - r.mean for r in placed]])
    for ax, (key, xlabel) in zip(axes, CLASS_AXES):
        x = np.array([float(facts[r.name][key]) for r in placed])
        ax.set_xscale("log")
        ax.axhline(0, color="0.3", lw=0.8)
        for v in VERDICTS:
            mine = [i for i, r in enumerate(placed) if r.verdict == v]
            if mine:
                ax.errorbar(x[mine], y[mine], yerr=err[:, mine], fmt="none", ecolor=VERDICT_COLOURS[v],
                            elinewidth=1, capsize=2, zorder=2)
        for paper, marker in ((True, "s"), (False, "o")):
            mine = [i for i, r in enumerate(placed) if (r.name in PAPER_GAIN_CLASSES) == paper]
            ax.scatter(x[mine], y[mine], marker=marker, s=34 if paper else 26, zorder=3,
                       facecolors=[VERDICT_COLOURS[placed[i].verdict] for i in mine] if paper else "white",
                       edgecolors=[VERDICT_COLOURS[placed[i].verdict] for i in mine])
        ax.set_xlabel(xlabel)
        ax.margins(x=0.15, y=0.12)
    axes[0].set_ylabel(f"IoU difference (points):\n{ref} minus {other}")
    split = "target test" if rows[0].split == "test" else "target val"
    fig.suptitle(title or f"{ref} minus {other} per class ({split}, {100 * rows[0].confidence:g}% intervals "
                          f"resampling {rows[0].resampled})", fontsize=10)
    handles = [Line2D([], [], color=VERDICT_COLOURS[v], label=f"{ref} {v} {other}") for v in VERDICTS]
    handles += [Line2D([], [], marker="s", ls="none", color="0.3", label="named by the paper (Sec. 4.2)"),
                Line2D([], [], marker="o", ls="none", markerfacecolor="white", markeredgecolor="0.3",
                       label="other classes")]
    left_out = [r.name for r in rows if r not in placed]
    if left_out:
        handles.append(Line2D([], [], ls="none", label=f"not drawn (no pixel counted): {', '.join(left_out)}"))
    height = fig.get_figheight()
    extra = 0.5 + 0.22 * (len(handles) > 5)
    fig.set_figheight(height + extra)
    fig.tight_layout(rect=(0, extra / (height + extra), 1, 1))
    fig.legend(handles=handles, loc="lower center", ncol=3, fontsize=8, frameon=False)
    for ax, (key, _) in zip(axes, CLASS_AXES):
        label_points(ax, [(r.name, float(facts[r.name][key]), r.mean)
                          for r in sorted(placed, key=lambda r: facts[r.name][key])])
    return fig
