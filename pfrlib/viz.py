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
* :func:`prediction_grid` - image, predictions of several models, ground truth (the paper's Fig. 3).
* :func:`add_class_legend` - the class colours under a figure of colourised labels (every figure
  here that shows labels carries one).
* :func:`gram_pair` - mean source and target Gram matrices of one stage and their difference.
* :func:`shift_prediction` - one target scene under a chosen :class:`~pfrlib.data.SynthShift`:
  image, label and a model's prediction (the interactive view of notebook 03).

Every function returns a ``matplotlib.figure.Figure`` made through pyplot, so ``plt.show()``
displays it in a notebook (headless scripts use the Agg backend; close figures you do not show
with ``plt.close(fig)``); :func:`save_figure` writes one atomically.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping, Optional, Sequence

import numpy as np
import torch
from matplotlib.figure import Figure

from .data.labels import CLASS_NAMES, IGNORE_INDEX, PALETTE

__all__ = [
    "colorize", "sample_grid", "synthstreets_samples", "shift_components", "save_figure", "to_rgb",
    "plot_training_curves", "plot_per_class_iou", "prediction_grid", "plot_ladder", "add_class_legend",
    "present_classes", "gram_pair", "shift_prediction", "plot_iou_heatmap", "plot_share_vs_difference",
]

_LUT = np.zeros((256, 3), np.uint8)
_LUT[: len(PALETTE)] = PALETTE  # ids 19..255 (incl. 255 = ignore) stay black


def colorize(label: np.ndarray | torch.Tensor) -> np.ndarray:
    """Colourise trainIds with the Cityscapes palette.

    Args:
        label: H x W or B x H x W integer array / tensor of trainIds (0..18; 255 = ignore and
            any other value are drawn black).

    Returns:
        uint8 numpy array, H x W x 3 (or B x H x W x 3).
    """
    if isinstance(label, torch.Tensor):
        label = label.detach().cpu().numpy()
    label = np.asarray(label)
    if label.ndim not in (2, 3):
        raise ValueError(f"colorize expects an H x W or B x H x W label, got shape {label.shape}")
    if label.dtype.kind not in "iub":
        raise TypeError(f"colorize expects integer trainIds, got dtype {label.dtype}")
    ids = label.astype(np.int64)
    ids = np.where((ids < 0) | (ids > 255), IGNORE_INDEX, ids)
    return _LUT[ids]


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
        ncol: legend columns (default: all entries on one or two rows).
    """
    from matplotlib.patches import Patch  # noqa: PLC0415

    handles = [Patch(facecolor=PALETTE[c] / 255, edgecolor="0.3", linewidth=0.5, label=CLASS_NAMES[c])
               for c in class_ids]
    if ignore:
        handles.append(Patch(facecolor="black", edgecolor="0.3", linewidth=0.5, label="ignore"))
    if not handles:
        return
    ncol = ncol or (len(handles) if len(handles) <= 8 else (len(handles) + 1) // 2)
    fig.legend(handles=handles, loc="outside lower center" if fig.get_layout_engine() is not None and
               type(fig.get_layout_engine()).__name__ == "ConstrainedLayoutEngine" else "lower center",
               ncol=ncol, fontsize=8, frameon=False, handlelength=1.2, columnspacing=1.0)


def _grid(rows: list[list[np.ndarray]], col_titles: Sequence[str], row_titles: Optional[Sequence[str]] = None,
          cell_width: float = 2.2, title: Optional[str] = None, legend: Optional[Sequence[int]] = None) -> Figure:
    import matplotlib.pyplot as plt  # noqa: PLC0415

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
                ax.set_ylabel(row_titles[r], fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    if legend is not None:
        add_class_legend(fig, legend)
    return fig


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
    return _grid(rows, cols, [f"#{i}" for i in indices], title=title,
                 legend=sorted(ids) if ids else present_classes(*labels))


def synthstreets_samples(n: int = 4, seed: int = 0, size: tuple[int, int] = (64, 128), split: str = "val") -> Figure:
    """The SynthStreets grid: source and target scenes, each beside its colourised label."""
    from .data.synthstreets import SynthStreets  # noqa: PLC0415

    sets = {d: SynthStreets(d, split, size=size, seed=seed, length=max(n, 1)) for d in ("source", "target")}
    return sample_grid(sets, n=n, title=f"SynthStreets ({split} split, seed {seed}, {size[0]}x{size[1]})")


def shift_components(n: int = 3, seed: int = 0, size: tuple[int, int] = (64, 128), strength: float = 1.0,
                     split: str = "val") -> Figure:
    """Target scenes rendered with no shift, each shift component alone, and the full shift.

    Columns: ``none`` (the target scene in source style), one per :class:`SynthShift`
    component at ``strength`` (``layout`` changes the scene itself, the others only its
    look), ``full``, and the label. Rows: items 0..n-1 of the target split.
    """
    from .data.synthstreets import SynthShift, SynthStreets  # noqa: PLC0415

    shifts = {"none": SynthShift.none()}
    for name in SynthShift.components():
        shifts[name] = SynthShift.only(name, strength=strength)
    shifts["full"] = SynthShift.full().scaled(strength)
    sets = {k: SynthStreets("target", split, size=size, seed=seed, length=max(n, 1), shift=s) for k, s in shifts.items()}
    rows = []
    for i in range(n):
        row = [sets[k].render(i)[0] for k in shifts]
        row.append(colorize(sets["full"].render(i)[1]))
        rows.append(row)
    return _grid(rows, [*shifts, "label"], [f"#{i}" for i in range(n)], cell_width=1.6,
                 title=f"SynthStreets target ({split} split, seed {seed}): each shift component alone "
                       f"(strength {strength:g})",
                 legend=sets["full"].class_ids)


def save_figure(fig: Figure, path: str | os.PathLike, dpi: int = 150) -> Path:
    """Write ``fig`` to ``path`` (format from the suffix) atomically; returns the path."""
    from .io import atomic_write  # noqa: PLC0415

    path = Path(path)
    fmt = path.suffix.lstrip(".") or "png"
    return atomic_write(path, lambda f: fig.savefig(f, format=fmt, dpi=dpi, bbox_inches="tight"))


# --------------------------------------------------------------------------- results figures
def _read_jsonl(path) -> list[dict]:
    """Records of a ``metrics.jsonl`` (lines cut by a kill are skipped)."""
    import json
    from pathlib import Path

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
    import json

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


_KEY_TITLES = {
    "seg": "segmentation loss (source, Eq. 1)",
    "val_target_miou": "target val mIoU (%)",
    "val_source_miou": "source val mIoU (%)",
    "adv": "fooling loss (Eq. 5)",
    "d": "discriminator loss",
    "pfr": "PFR loss (Eq. 4)",
}


def plot_training_curves(runs, keys=("seg", "val_target_miou"), smooth: int = 5, title: Optional[str] = None):
    """One panel per logged key, one line per run, from each run's ``metrics.jsonl``.

    Args:
        runs: ``{label: path to metrics.jsonl}``.
        keys: record keys to plot (loss terms such as ``seg``, ``adv``, ``pfr_style_2``, ``d``,
            ``d_acc_source``, or the periodic ``val_source_miou`` / ``val_target_miou``).
        smooth: moving-average window for loss terms (validation curves are not smoothed).
        title: a title over the panels (say which runs and seed).

    Returns:
        The matplotlib figure. A key a run never logged is skipped for that run. Validation
        curves end with the run's final validation (``final.json`` beside ``metrics.jsonl``, at
        the last iteration), the number a results table reports, so curve and table agree.
    """
    import matplotlib.pyplot as plt

    keys = tuple(keys)
    fig, axes = plt.subplots(1, len(keys), figsize=(4.2 * len(keys), 3.2), squeeze=False)
    for ax, key in zip(axes[0], keys):
        for label, path in runs.items():
            recs = [r for r in _read_jsonl(path) if r.get(key) is not None]
            x = [r["iter"] for r in recs]
            y = [r[key] for r in recs]
            is_val = key.startswith("val_")
            if is_val:
                x, y = _with_final(path, key, x, y)
                y = [100 * v for v in y]
            if not x:
                continue
            ax.plot(x, y if is_val else _smooth(y, smooth), label=label, marker="o" if is_val else None, ms=3)
        ax.set_title(_KEY_TITLES.get(key, key) + (f", moving average of {smooth}" if smooth > 1 and not
                                                   key.startswith("val_") else ""), fontsize=9)
        ax.set_xlabel("iteration")
        if key.startswith("d_acc"):
            ax.set_ylim(-0.02, 1.02)
        if ax.lines:
            ax.legend(fontsize=7)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def plot_per_class_iou(results, title: str = "Per-class IoU", names=None):
    """Grouped bars of per-class IoU (in %) for several results.

    Args:
        results: ``{label: {class name: IoU fraction or None}}`` (as in ``final.json``).
        names: the classes to show (default: those with a value in any result).
    """
    import matplotlib.pyplot as plt

    if names is None:
        names = [n for n in CLASS_NAMES if any((r.get(n) is not None and r.get(n) == r.get(n)) for r in results.values())]
    x = np.arange(len(names))
    width = 0.8 / max(1, len(results))
    fig, ax = plt.subplots(figsize=(max(6, 0.75 * len(names) + 2), 3.4))
    for j, (label, per_class) in enumerate(results.items()):
        values = [100 * (per_class.get(n) if per_class.get(n) is not None else float("nan")) for n in names]
        ax.bar(x + (j - (len(results) - 1) / 2) * width, values, width, label=label)
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
    import matplotlib.pyplot as plt

    if names is None:
        names = [n for n in CLASS_NAMES if any(r.get(n) is not None for r in rows.values())]
    labels = list(rows)
    grid = np.array([[np.nan if rows[m].get(n) is None else float(rows[m][n]) for n in names] for m in labels])
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
    import matplotlib.pyplot as plt

    names = [n for n in share if n in difference]
    fig, ax = plt.subplots(figsize=(6.2, 3.6))
    for k, n in enumerate(sorted(names, key=lambda c: share[c])):
        color = "C0" if share[n] > split else "C1"
        ax.scatter(share[n], difference[n], color=color, s=30, zorder=3)
        # neighbours along x alternate above and below their point, so close classes stay readable
        ax.annotate(n, (share[n], difference[n]), textcoords="offset points", xytext=(4, 4 if k % 2 == 0 else -11),
                    fontsize=8)
    ax.axhline(0, color="0.5", lw=0.8)
    ax.axvline(split, color="0.5", lw=0.8, ls="--")
    ax.text(split, 0.02, " frequent ->", va="bottom", fontsize=8, color="C0", transform=ax.get_xaxis_transform())
    ax.text(split, 0.02, "<- rare ", va="bottom", ha="right", fontsize=8, color="C1", transform=ax.get_xaxis_transform())
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig


def prediction_grid(images, predictions, labels=None, titles=None, title: Optional[str] = None,
                    class_ids: Optional[Sequence[int]] = None):
    """Rows of (image, one prediction per model, ground truth), as the paper's Figure 3, with a
    legend of the class colours.

    Args:
        images: uint8 (N, 3, H, W) RGB images.
        predictions: ``{column label: (N, H, W) trainId predictions}``.
        labels: optional (N, H, W) ground truth (255 = ignore, shown black).
        titles: optional column titles overriding ``["image", *labels, "ground truth"]``.
        title: a title over the grid (say which split, images and runs it shows).
        class_ids: the classes in the legend (default: those in the labels and predictions).
    """
    import matplotlib.pyplot as plt

    n = len(images)
    cols = ["image", *predictions] + (["ground truth"] if labels is not None else [])
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


def plot_ladder(table, title: str = "Target mIoU", order=None):
    """Bars of mean ± std target mIoU per method (the ablation ladder).

    Args:
        table: ``{method: {"mean": %, "std": %, "runs": [%...]}}``.
        order: methods to show, in order (default: the table's order).
    """
    import matplotlib.pyplot as plt

    order = list(order or table)
    means = [table[m]["mean"] for m in order]
    stds = [table[m].get("std", 0.0) for m in order]
    colors = ["0.6" if m in ("source_only", "oracle") else "C0" if m != "pfr_adv" else "C3" for m in order]
    fig, ax = plt.subplots(figsize=(1.3 * len(order) + 2, 3.3))
    ax.bar(range(len(order)), means, yerr=stds, capsize=4, color=colors)
    for i, m in enumerate(order):
        runs = table[m].get("runs", [])
        ax.scatter([i] * len(runs), runs, color="k", s=10, zorder=3)
        ax.text(i, means[i] + stds[i] + 1, f"{means[i]:.1f}", ha="center", fontsize=8)
    ax.set_xticks(range(len(order)), order, rotation=15)
    ax.set_ylabel("target mIoU (%)")
    ax.set_title(title, fontsize=10)
    fig.tight_layout()
    return fig


def gram_pair(gram_source, gram_target, title: str = "", labels: Sequence[str] = ("source", "target")):
    """Two mean Gram matrices on one colour scale and their difference (a diverging map).

    Args:
        gram_source, gram_target: (C, C) Gram matrices (e.g. a stage's mean over images).
        title: the figure title (say which stage, normalisation and images).
        labels: the names of the two domains.
    """
    import matplotlib.pyplot as plt

    a = np.asarray(torch.as_tensor(gram_source).detach().cpu())
    b = np.asarray(torch.as_tensor(gram_target).detach().cpu())
    vmax = float(max(np.abs(a).max(), np.abs(b).max())) or 1.0
    diff = a - b
    lim = float(np.abs(diff).max()) or 1.0
    from matplotlib.ticker import MaxNLocator  # noqa: PLC0415

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


def shift_prediction(model, shift, index: int = 0, size: tuple[int, int] = (64, 128), split: str = "val",
                     seed: int = 0, model_name: str = "model"):
    """A SynthStreets target scene rendered with ``shift``: image, label and ``model``'s prediction.

    Args:
        model: a segmentation model (``pfrlib.models``) in eval mode, with a ``normalization``.
        shift: the :class:`~pfrlib.data.SynthShift` to render with.
        index: which item of the split.
        size, split, seed: the SynthStreets target set the scene comes from.
        model_name: how the prediction panel is titled.

    The title gives the pixel accuracy of the prediction on this image and the active components.
    """
    import matplotlib.pyplot as plt

    from .data.synthstreets import SynthStreets  # noqa: PLC0415
    from .data.transforms import normalize  # noqa: PLC0415
    from .evaluate import predict  # noqa: PLC0415

    ds = SynthStreets("target", split, size=size, seed=seed, length=index + 1, shift=shift)
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
