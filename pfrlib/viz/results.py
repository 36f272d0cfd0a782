"""Figures of training results: loss and validation curves (``metrics.jsonl``), per-class IoU
bars and heat map (``final.json``), the frequent-vs-rare reading of Table 1, the ablation ladder.

A run, row or bar labelled by a registered ``--method`` name is shown by the method's name in
words (:func:`pfrlib.methods.in_words`), so a legend or axis never shows a key like ``source_only``.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Mapping, Optional, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from pfrlib.data.labels import CLASS_NAMES
from pfrlib.methods import in_words

__all__ = ["TERM_TITLES", "term_title", "NOTEBOOK_WIDTH_IN", "plot_training_curves", "plot_per_class_iou",
           "plot_iou_heatmap", "plot_share_vs_difference", "label_points",
           "plot_ladder"]


def _read_jsonl(path) -> list[dict]:
    """Records of a ``metrics.jsonl`` (lines cut by a kill are skipped)."""
    records = []
    for line in Path(path).read_text().splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records


def _smooth(values, window: int):
    values = np.asarray(values, dtype=float)
    if window <= 1 or len(values) < window:
        return values
    kernel = np.ones(window) / window
    head = [values[: i + 1].mean() for i in range(window - 1)]
    return np.concatenate([head, np.convolve(values, kernel, mode="valid")])


def _with_final(path, key: str, x: list, y: list) -> tuple[list, list]:
    """Append the final validation of a run (its ``final.json``) to a periodic validation curve."""
    final_path = Path(path).parent / "final.json"
    field = {"val_target_miou": "target_miou", "val_source_miou": "source_miou"}.get(key)
    if field is None or not final_path.is_file():
        return x, y
    try:
        final = json.loads(final_path.read_text())
        it, value = int(final["iterations"]), final[field]
    except (ValueError, KeyError, TypeError):
        return x, y
    if value is None or (x and x[-1] >= it):
        return x, y
    return [*x, it], [*y, value]


#: Titles in words of the keys a run logs in ``metrics.jsonl`` (the one place notebooks and
#: figures read them from; per-stage PFR terms are named by :func:`term_title`).
TERM_TITLES = {
    "seg": "segmentation loss (source, Eq. 1)",
    "seg_aux": "segmentation loss, auxiliary head",
    "val_target_miou": "target val mIoU (%)",
    "val_source_miou": "source val mIoU (%)",
    "adv": "fooling loss (Eq. 5)",
    "adv_aux": "fooling loss, auxiliary head",
    "d": "discriminator loss",
    "d_aux": "discriminator loss, auxiliary head",
    "d_acc_source": "discriminator accuracy on source outputs",
    "d_acc_target": "discriminator accuracy on target outputs",
    "pfr": "PFR loss (Eq. 4)",
    "total": "total loss (Eq. 6)",
}
_STAGE_TERMS = {"pfr_style_": "style", "pfr_content_": "content"}


def term_title(key: str) -> str:
    """A logged key in words: ``"pfr_style_2"`` -> ``"style, stage 2"``, ``"seg"`` -> the
    segmentation loss (:data:`TERM_TITLES`); an unknown key is returned as it is."""
    for prefix, word in _STAGE_TERMS.items():
        if key.startswith(prefix) and key[len(prefix):].isdigit():
            return f"{word}, stage {key[len(prefix):]}"
    return TERM_TITLES.get(key, key)


#: The width a figure may take (inches at 100 dpi) to show unscaled in a 1,200-pixel-wide JupyterLab.
NOTEBOOK_WIDTH_IN = 10.5


def plot_training_curves(runs, keys=("seg", "val_target_miou"), smooth: int = 5, title: Optional[str] = None,
                         max_cols: int = 3):
    """One panel per logged key, one line per run, from each run's ``metrics.jsonl``.

    Args:
        runs: ``{label: path to metrics.jsonl}``.
        keys: record keys to plot (loss terms such as ``seg``, ``adv``, ``pfr_style_2``, ``d``,
            ``d_acc_source``, or the periodic ``val_source_miou`` / ``val_target_miou``).
        smooth: moving-average window for loss terms (validation curves are not smoothed).
        title: a title over the panels (say which runs and seed).
        max_cols: panels per row (more keys wrap onto further rows), so that the figure fits a
            notebook's width (:data:`NOTEBOOK_WIDTH_IN`) and its text is read at full size.

    Returns:
        The matplotlib figure, each panel titled in words (:func:`term_title`). A key a run never logged is skipped for that run. Validation
        curves end with the run's final validation (``final.json`` beside ``metrics.jsonl``, at
        the last iteration), the number a results table reports, so curve and table agree.
    """
    keys = tuple(keys)
    cols = max(1, min(max_cols, len(keys)))
    rows = -(-len(keys) // cols)
    width = min(4.2, NOTEBOOK_WIDTH_IN / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(width * cols, 3.2 * rows), squeeze=False)
    for ax in axes.flat[len(keys):]:
        ax.set_axis_off()
    handles: dict[str, object] = {}
    for ax, key in zip(axes.flat, keys):
        for j, (label, path) in enumerate(runs.items()):
            recs = [r for r in _read_jsonl(path) if r.get(key) is not None]
            x = [r["iter"] for r in recs]
            y = [r[key] for r in recs]
            is_val = key.startswith("val_")
            if is_val:
                x, y = _with_final(path, key, x, y)
                y = [100 * v for v in y]
            if not x:
                continue
            # one colour per run in every panel, even where another run logged nothing
            (line,) = ax.plot(x, y if is_val else _smooth(y, smooth), label=in_words(label), color=f"C{j % 10}",
                              marker="o" if is_val else None, ms=3)
            handles.setdefault(in_words(label), line)
        ax.set_title(_wrap(term_title(key) + (f", moving average of {smooth}" if smooth > 1 and not
                                              key.startswith("val_") else ""), width, 9), fontsize=9)
        ax.set_xlabel("iteration")
        if key.startswith("d_acc"):
            ax.set_ylim(-0.02, 1.02)
    if title:
        fig.suptitle(title, fontsize=10)
    # The runs are the same in every panel: one legend under them, never over a curve.
    _legend_below(fig, list(handles.values()), list(handles), width * cols)
    return fig


def _wrap(text: str, width_in: float, fontsize: float) -> str:
    """``text`` broken at word boundaries into lines that fit ``width_in`` inches at ``fontsize``."""
    chars = max(12, int(width_in * 72 / (0.55 * fontsize)))
    return textwrap.fill(text, chars, break_long_words=False)


def _legend_below(fig: Figure, handles: list, labels: list[str], width_in: float, fontsize: float = 9) -> None:
    """Lay the figure out with room under the axes for one legend of ``handles`` (as many columns
    as fit ``width_in``), and draw it there (nothing when there are no handles)."""
    if not handles:
        fig.tight_layout()
        return
    entry_in = max(len(label) for label in labels) * 0.55 * fontsize / 72 + 0.7
    ncol = max(1, min(len(handles), int(width_in // entry_in)))
    rows = -(-len(handles) // ncol)
    height = fig.get_figheight()
    extra = 0.22 * rows + 0.12
    fig.set_figheight(height + extra)
    fig.tight_layout(rect=(0, extra / (height + extra), 1, 1))
    fig.legend(handles, labels, loc="lower center", ncol=ncol, fontsize=fontsize, frameon=False)


def plot_per_class_iou(results, title: str = "Per-class IoU", names=None):
    """Grouped bars of per-class IoU (in %) for several results.

    Args:
        results: ``{label: {class name: IoU fraction or None}}`` (as in ``final.json``).
        names: the classes to show (default: those with a value in any result).
    """
    if names is None:
        names = [n for n in CLASS_NAMES if any((r.get(n) is not None and r.get(n) == r.get(n)) for r in results.values())]
    x = np.arange(len(names))
    width = 0.8 / max(1, len(results))
    fig, ax = plt.subplots(figsize=(max(6, 0.75 * len(names) + 2), 3.4))
    for j, (label, per_class) in enumerate(results.items()):
        values = [100 * (per_class.get(n) if per_class.get(n) is not None else float("nan")) for n in names]
        ax.bar(x + (j - (len(results) - 1) / 2) * width, values, width, label=in_words(label))
    ax.set_xticks(x, names, rotation=30, ha="right")
    ax.set_ylabel("IoU (%)")
    ax.set_ylim(0, 100)
    ax.set_title(title)
    if len(results) > 4:  # many bars per class: the legend beside the axes, not over the bars
        ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    else:
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def plot_iou_heatmap(rows: Mapping[str, Mapping[str, Optional[float]]], title: str = "Per-class IoU (%)",
                     names: Optional[Sequence[str]] = None, highlight: Optional[str] = None) -> Figure:
    """Table 1 as a picture: one row per method, one column per class, cells coloured by IoU.

    Args:
        rows: ``{method: {class name: IoU in % or None}}`` (e.g. means over seeds).
        names: the classes (columns) to show (default: those with a value in any row, in trainId order).
        highlight: a row label drawn in bold (the paper's method).
    """
    if names is None:
        names = [n for n in CLASS_NAMES if any(r.get(n) is not None for r in rows.values())]
    grid = np.array([[np.nan if rows[m].get(n) is None else float(rows[m][n]) for n in names] for m in rows])
    labels = [in_words(m) for m in rows]
    highlight = None if highlight is None else in_words(highlight)
    fig, ax = plt.subplots(figsize=(0.8 * len(names) + 2.6, 0.42 * len(labels) + 1.4))
    im = ax.imshow(grid, cmap="viridis", vmin=0, vmax=100, aspect="auto")
    for i in range(len(labels)):
        for j in range(len(names)):
            if not np.isnan(grid[i, j]):
                ax.text(j, i, f"{grid[i, j]:.0f}", ha="center", va="center", fontsize=8,
                        color="white" if grid[i, j] < 55 else "black")
    ax.set_xticks(range(len(names)), names, rotation=30, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    for tick in ax.get_yticklabels():
        if tick.get_text() == highlight:
            tick.set_fontweight("bold")
    fig.colorbar(im, ax=ax, label="IoU (%)", fraction=0.03)
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig


def plot_share_vs_difference(share: Mapping[str, float], difference: Mapping[str, float], split: float,
                             xlabel: str = "share of labelled target pixels (%)",
                             ylabel: str = "IoU difference (points)", title: str = "") -> Figure:
    """Each class as a point: how frequent it is (x) against how much one method beats another on
    it (y), with the frequent / rare split drawn as a vertical line.

    Args:
        share: ``{class: pixel share in %}``.
        difference: ``{class: IoU(method A) - IoU(method B)}`` in points, for the same classes.
        split: the share (in %) above which a class counts as frequent.
    """
    names = [n for n in share if n in difference]
    fig, ax = plt.subplots(figsize=(6.2, 3.6))
    for n in names:
        ax.scatter(share[n], difference[n], color="C0" if share[n] > split else "C1", s=30, zorder=3)
    ax.axhline(0, color="0.5", lw=0.8)
    ax.axvline(split, color="0.5", lw=0.8, ls="--")
    # the two groups named at the top of the split line, clear of the zero line
    ax.text(split, 0.98, " frequent ->", va="top", fontsize=8, color="C0", transform=ax.get_xaxis_transform())
    ax.text(split, 0.98, "<- rare ", va="top", ha="right", fontsize=8, color="C1", transform=ax.get_xaxis_transform())
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.margins(x=0.12, y=0.15)                  # room for the names of the outermost points
    fig.tight_layout()
    label_points(ax, [(n, share[n], difference[n]) for n in sorted(names, key=lambda c: share[c])])
    return fig


# Where a point's name may go, in points from the point: right, left, above, below, then the corners.
_LABEL_SPOTS = [((5, -4), "left"), ((-5, -4), "right"), ((0, 5), "center"), ((0, -13), "center"),
                ((5, 4), "left"), ((-5, 4), "right"), ((5, -12), "left"), ((-5, -12), "right")]


def label_points(ax, points) -> None:
    """Name each point beside it, at the first spot (``_LABEL_SPOTS``) where the name covers no
    other name, point or line and stays inside the axes: neighbours never hide each other."""
    fig = ax.figure
    renderer = fig.canvas.get_renderer()
    inside = ax.get_window_extent(renderer)
    taken = [t.get_window_extent(renderer) for t in ax.texts]
    marks = np.concatenate([c.get_offset_transform().transform(c.get_offsets()) for c in ax.collections]
                           + [np.zeros((0, 2))])
    lines = [line.get_transform().transform(np.column_stack([line.get_xdata(), line.get_ydata()]))
             for line in ax.lines]

    def clear(box) -> bool:
        if box.x0 < inside.x0 or box.x1 > inside.x1 or box.y0 < inside.y0 or box.y1 > inside.y1:
            return False
        if any(box.overlaps(other) for other in taken):
            return False
        near = box.padded(1)
        if any(near.contains(x, y) for x, y in marks):
            return False
        for xy in lines:                        # axhline / axvline: a vertical or horizontal segment
            (x0, y0), (x1, y1) = xy[0], xy[-1]
            if x0 == x1 and near.x0 < x0 < near.x1 and min(y0, y1) < near.y1 and max(y0, y1) > near.y0:
                return False
            if y0 == y1 and near.y0 < y0 < near.y1 and min(x0, x1) < near.x1 and max(x0, x1) > near.x0:
                return False
        return True

    for name, x, y in points:
        for offset, ha in _LABEL_SPOTS:
            label = ax.annotate(name, (x, y), textcoords="offset points", xytext=offset, ha=ha, fontsize=8)
            box = label.get_window_extent(renderer)
            if clear(box):
                break
            label.remove()
        else:                                   # nowhere clear: the first spot, as before
            label = ax.annotate(name, (x, y), textcoords="offset points", xytext=_LABEL_SPOTS[0][0],
                                ha=_LABEL_SPOTS[0][1], fontsize=8)
            box = label.get_window_extent(renderer)
        taken.append(box)


def plot_ladder(table, title: str = "Target mIoU", order=None, labels: Optional[Mapping[str, str]] = None):
    """Bars of mean ± std target mIoU per method (the ablation ladder).

    Args:
        table: ``{method: {"mean": %, "std": %, "runs": [%...]}}``.
        order: methods to show, in order (default: the table's order).
        labels: ``{method: name in words}`` for the bars (default: the registry's,
            :func:`pfrlib.methods.in_words`).
    """
    order = list(order or table)
    means = [table[m]["mean"] for m in order]
    stds = [table[m].get("std", 0.0) for m in order]
    colors = ["0.6" if m in ("source_only", "oracle") else "C0" if m != "pfr_adv" else "C3" for m in order]
    fig, ax = plt.subplots(figsize=(1.3 * len(order) + 2, 3.3))
    ax.bar(range(len(order)), means, yerr=stds, capsize=4, color=colors)
    tops = []
    for i, m in enumerate(order):
        runs = table[m].get("runs", [])
        ax.scatter([i] * len(runs), runs, color="k", s=10, zorder=3)
        tops.append(max([means[i] + stds[i], *runs]))
        # above the error bar and every seed's point, a few points clear of them
        ax.annotate(f"{means[i]:.1f}", (i, tops[i]), xytext=(0, 4), textcoords="offset points",
                    ha="center", va="bottom", fontsize=8)
    ax.set_ylim(min(0.0, *means), max(tops) * 1.15 + 1)   # headroom for the labels
    ax.set_xticks(range(len(order)), [(labels or {}).get(m, in_words(m)) for m in order], rotation=15)
    ax.set_ylabel("target mIoU (%)")
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig
