"""No overlapping text in the figures of pfrlib.viz, measured with matplotlib's own renderer.

A browser cannot see inside a PNG, so the layout of every figure function is checked here: each is
drawn with small synthetic inputs shaped like the notebooks' (their titles, labels in words, as many
runs, classes and methods), and `layout_problems` lists

- two pieces of text whose boxes overlap: titles, the suptitle, axis labels, tick labels, legends,
  text and annotations, colour-bar labels (each legend counts as one box);
- a legend over a curve (a point of a line of its axes inside the legend's box);
- a value label (axes text) over an error bar or a scattered point of its axes;
- text cut off by the figure's edge.
"""

from __future__ import annotations

import json
from itertools import combinations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.collections import LineCollection, PathCollection  # noqa: E402

from pfrlib.data.labels import CLASS_NAMES  # noqa: E402
from pfrlib.data.synthstreets.shift import SynthShift, SynthShift19  # noqa: E402
from pfrlib.evaluation.components import FULL_COLUMN, GAP, Cell, ComponentGrid  # noqa: E402
from pfrlib.models import build_model  # noqa: E402
from pfrlib.methods.beyond.fda import log_amplitude, swapped_window  # noqa: E402
from pfrlib.viz.beyond import entropy_grid, fda_grid, style_three_ways  # noqa: E402
from pfrlib.viz.components import plot_component_maps  # noqa: E402
from pfrlib.viz.features import gram_pair, shuffle_invariance, stage_maps, style_gap  # noqa: E402
from pfrlib.viz.results import (plot_iou_heatmap, plot_ladder, plot_per_class_iou,  # noqa: E402
                                plot_share_vs_difference, plot_training_curves)
from pfrlib.viz.scenes import prediction_grid, shift_components, shift_prediction, synthstreets_samples  # noqa: E402

TOLERANCE_PX = 1.0          # boxes touching by a pixel (anti-aliasing) are not an overlap
LADDER = {"source_only": "Non-adapted (source only)", "adaptsegnet": "AdaptSegNet",
          "pfr": "PFR only (Eq. 4)", "pfr_adv": "PFR (the paper's method)", "oracle": "Oracle (target labels)"}
TABLE1_ROWS = [*LADDER.values(), "CLAN", "FCNs in the Wild", "ROAD", "Curriculum DA", "CyCADA", "DLOW", "TGCF-DA"]


# --- the helper ---------------------------------------------------------------------------------

def _visible_text(t) -> bool:
    return t.get_visible() and bool(t.get_text().strip())


def _describe(t) -> str:
    return repr(t.get_text().strip()[:50])


def _drawn_tick_labels(axis) -> list:
    """The tick labels an axis really draws: those of ticks inside its view interval."""
    lo, hi = sorted(axis.get_view_interval())
    span = (hi - lo) or 1.0
    labels = []
    for tick in axis.get_major_ticks() + axis.get_minor_ticks():
        loc = tick.get_loc()
        if loc is not None and lo - 1e-9 * span <= loc <= hi + 1e-9 * span:
            labels += [lab for lab in (tick.label1, tick.label2) if lab.get_visible()]
    return labels


def _corners(artist, renderer) -> np.ndarray:
    """The 4 corners of what an artist draws in display space: a rotated text is a rotated
    rectangle (its axis-aligned window extent would report overlaps between slanted tick labels)."""
    box = artist.get_window_extent(renderer)
    angle = artist.get_rotation() % 180 if hasattr(artist, "get_rotation") and hasattr(artist, "get_text") else 0
    if angle == 0:
        return np.array([[box.x0, box.y0], [box.x1, box.y0], [box.x1, box.y1], [box.x0, box.y1]])
    artist.set_rotation(0)
    flat = artist.get_window_extent(renderer)
    artist.set_rotation(angle)
    # The window extent of a rotated rectangle is centred on it (either rotation mode).
    c = np.array([(box.x0 + box.x1) / 2, (box.y0 + box.y1) / 2])
    w, h = flat.width / 2, flat.height / 2
    a = np.deg2rad(angle)
    rot = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    return c + np.array([[-w, -h], [w, -h], [w, h], [-w, h]]) @ rot.T


def text_boxes(fig) -> list[tuple[str, np.ndarray, object]]:
    """(what, corners in display space, owner) of every piece of text the figure draws; a legend
    is one box."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    boxes = []

    def add(kind, artist, owner):
        if _visible_text(artist):
            boxes.append((f"{kind} {_describe(artist)}", _corners(artist, renderer), owner))

    if fig._suptitle is not None:
        add("suptitle", fig._suptitle, fig)
    for t in fig.texts:
        if t is not fig._suptitle:
            add("figure text", t, fig)
    for leg in fig.legends:
        if leg.get_visible():
            boxes.append(("figure legend", _corners(leg, renderer), leg))
    for i, ax in enumerate(fig.axes):
        if not ax.get_visible():
            continue
        where = f"axes {i}"
        for title in (ax.title, ax._left_title, ax._right_title):
            add(f"{where} title", title, ax)
        if ax.axison:
            add(f"{where} x label", ax.xaxis.label, ax)
            add(f"{where} y label", ax.yaxis.label, ax)
            for tick in _drawn_tick_labels(ax.xaxis):
                add(f"{where} x tick", tick, ax)
            for tick in _drawn_tick_labels(ax.yaxis):
                add(f"{where} y tick", tick, ax)
            for offset in (ax.xaxis.get_offset_text(), ax.yaxis.get_offset_text()):
                add(f"{where} offset", offset, ax)
        for t in ax.texts:
            add(f"{where} text", t, ax)
        leg = ax.get_legend()
        if leg is not None and leg.get_visible():
            boxes.append((f"{where} legend", _corners(leg, renderer), leg))
    return boxes


def _overlap(a: np.ndarray, b: np.ndarray) -> bool:
    """Two convex quadrilaterals overlap by more than TOLERANCE_PX (separating axis theorem)."""
    for poly in (a, b):
        for k in range(4):
            edge = poly[(k + 1) % 4] - poly[k]
            normal = np.array([-edge[1], edge[0]])
            norm = np.hypot(*normal)
            if norm == 0:
                continue
            normal = normal / norm
            pa, pb = a @ normal, b @ normal
            if min(pa.max(), pb.max()) - max(pa.min(), pb.min()) <= TOLERANCE_PX:
                return False
    return True


def _box_corners(b) -> np.ndarray:
    return np.array([[b.x0, b.y0], [b.x1, b.y0], [b.x1, b.y1], [b.x0, b.y1]])


def _within(inner, outer) -> bool:
    return (inner.x0 >= outer.x0 - TOLERANCE_PX and inner.x1 <= outer.x1 + TOLERANCE_PX
            and inner.y0 >= outer.y0 - TOLERANCE_PX and inner.y1 <= outer.y1 + TOLERANCE_PX)


def _inside(points: np.ndarray, box) -> bool:
    if len(points) == 0:
        return False
    pad = TOLERANCE_PX
    m = ((points[:, 0] > box.x0 + pad) & (points[:, 0] < box.x1 - pad)
         & (points[:, 1] > box.y0 + pad) & (points[:, 1] < box.y1 - pad))
    return bool(m.any())


def _line_points(line) -> np.ndarray:
    """A line's vertices in display space, with points between them (a segment crossing a box counts)."""
    xy = line.get_transform().transform(np.column_stack([line.get_xdata(), line.get_ydata()]).astype(float))
    xy = xy[np.isfinite(xy).all(axis=1)]
    if len(xy) < 2 or line.get_linestyle() in ("None", "", " "):
        return xy
    t = np.linspace(0, 1, 9)[:, None, None]
    return (xy[:-1][None] * (1 - t) + xy[1:][None] * t).reshape(-1, 2)


def _segment_points(coll: LineCollection) -> np.ndarray:
    pts = []
    for seg in coll.get_segments():
        seg = coll.get_transform().transform(np.asarray(seg, dtype=float))
        for a, b in zip(seg[:-1], seg[1:]):
            pts.append(a[None] * (1 - np.linspace(0, 1, 9))[:, None] + b[None] * np.linspace(0, 1, 9)[:, None])
    return np.concatenate(pts) if pts else np.zeros((0, 2))


def layout_problems(fig) -> list[str]:
    """Everything that makes the figure hard to read: overlapping text, a legend over a curve, a
    value label over an error bar or point, text outside the figure. Empty when the layout is clean."""
    boxes = text_boxes(fig)
    problems = [f"{a} overlaps {b}" for (a, box_a, _), (b, box_b, _) in combinations(boxes, 2)
                if _overlap(box_a, box_b)]
    fig_box = fig.bbox
    for what, corners, _ in boxes:
        if corners[:, 0].min() < fig_box.x0 - TOLERANCE_PX or corners[:, 0].max() > fig_box.x1 + TOLERANCE_PX or \
                corners[:, 1].min() < fig_box.y0 - TOLERANCE_PX or corners[:, 1].max() > fig_box.y1 + TOLERANCE_PX:
            problems.append(f"{what} is cut off by the figure's edge")
    renderer = fig.canvas.get_renderer()
    for i, ax in enumerate(fig.axes):
        leg = ax.get_legend()
        legends = [leg] if leg is not None and leg.get_visible() else []
        legends += [lg for lg in fig.legends if lg.get_visible()]
        for lg in legends:
            box = lg.get_window_extent(renderer)
            for line in ax.lines:
                if line.get_visible() and line.get_label() and not line.get_label().startswith("_") \
                        and _inside(_line_points(line), box):
                    problems.append(f"a legend covers the curve {line.get_label()!r} of axes {i}")
        # error bars (segments), and scattered points with their marker's radius in pixels
        marks = [(_segment_points(c), 0.0) for c in ax.collections if isinstance(c, LineCollection)]
        marks += [(c.get_offset_transform().transform(c.get_offsets()),
                   float(np.sqrt(np.max(c.get_sizes())) / 2 * fig.dpi / 72) if len(c.get_sizes()) else 0.0)
                  for c in ax.collections if isinstance(c, PathCollection) and len(c.get_offsets())]
        lines = [_line_points(line) for line in ax.lines if line.get_visible()]
        frame = ax.get_window_extent(renderer)
        for t in ax.texts:
            if not _visible_text(t):
                continue
            box = t.get_window_extent(renderer)
            if any(_inside(m, box.padded(pad)) for m, pad in marks):
                problems.append(f"axes {i} text {_describe(t)} sits on an error bar or a point")
            if any(_inside(pts, box) for pts in lines):
                problems.append(f"axes {i} text {_describe(t)} sits on a line")
            if _overlap(_corners(t, renderer), _box_corners(frame)) and not _within(box, frame):
                problems.append(f"axes {i} text {_describe(t)} crosses the axes' frame")
    return problems


# --- the helper catches what it should -----------------------------------------------------------

def test_helper_finds_overlapping_titles_and_a_covered_curve():
    fig, axes = plt.subplots(1, 2, figsize=(4, 2))
    for ax in axes:
        ax.set_title("a title much too long for half of a four-inch figure")
    axes[0].plot([0, 1], [0.5, 0.5], label="curve")
    axes[0].legend(loc="center")
    problems = layout_problems(fig)
    plt.close(fig)
    assert any("title" in p and "overlaps" in p for p in problems), problems
    assert any("legend covers the curve 'curve'" in p for p in problems), problems


def test_helper_finds_a_label_on_an_error_bar_and_passes_a_clean_figure():
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.bar([0], [50], yerr=[10])
    ax.text(0, 55, "50.0", ha="center", va="center")       # on the error bar
    assert any("sits on an error bar" in p for p in layout_problems(fig))
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.plot([0, 1], [0, 1], label="line")
    ax.set_title("short")
    ax.set_xlabel("x")
    ax.legend(loc="lower right")
    fig.tight_layout()
    assert layout_problems(fig) == []
    plt.close(fig)


# --- every figure function of pfrlib.viz ----------------------------------------------------------

def _metrics(path, keys, iters=200, every=50, seed=0):
    rng = np.random.default_rng(seed)
    lines = []
    for it in range(1, iters + 1):
        rec = {"iter": it}
        for k in keys:
            if k.startswith("val_"):
                continue
            rec[k] = float(rng.uniform(0.4, 1.0) if k.startswith("d_acc") else 2.0 / it ** 0.3 + rng.normal(0, 0.05))
        if it % every == 0 and any(k.startswith("val_") for k in keys):
            rec["val_target_miou"] = 0.2 + 0.5 * it / iters * (0.5 + 0.1 * seed)
        lines.append(json.dumps(rec))
    path.write_text("\n".join(lines))
    return path


def _curves(tmp_path, labels, keys, **kw):
    runs = {label: _metrics(tmp_path / f"{j}.jsonl", keys, seed=j) for j, label in enumerate(labels)}
    return plot_training_curves(runs, keys=keys, **kw)


def _classes(values_of):
    return {n: values_of(k) for k, n in enumerate(CLASS_NAMES[:16])}


# Per-seed target mIoU like the committed ladder's (a seed above mean + std, one tight method).
LADDER_RUNS = {"source_only": [20.6, 19.8, 23.9], "adaptsegnet": [35.2, 30.4, 34.3], "pfr": [30.1, 30.8, 30.6],
               "pfr_adv": [42.5, 36.5, 40.1], "oracle": [73.0, 74.6, 73.8]}
# Class pixel shares and IoU differences like notebook 07's frequent-vs-rare figure (near neighbours).
SHARES = {"road": 14.9, "sidewalk": 10.8, "building": 23.3, "pole": 8.6, "traffic sign": 5.0,
          "vegetation": 8.4, "sky": 6.5, "person": 6.6, "car": 16.1}
DIFFERENCES = {"road": 6.5, "sidewalk": 10.4, "building": 12.4, "pole": 9.6, "traffic sign": 7.5,
               "vegetation": 9.7, "sky": 31.2, "person": 6.2, "car": 12.1}


_PAIR = torch.randint(0, 255, (2, 3, 64, 128), dtype=torch.uint8)  # a source and a target image


def _ladder_table():
    return {m: {"mean": float(np.mean(r)), "std": float(np.std(r, ddof=1)), "runs": r} for m, r in LADDER_RUNS.items()}


def _component_grid() -> ComponentGrid:
    """The grid's shape (twelve components, nine methods) with the widest texts a cell can hold:
    three-digit negative ends, and unfinished cells."""
    methods = ("source_only", "adaptsegnet", "pfr", "pfr_adv", "dlow", "hist_match", "oracle", "minent", "fda")
    comps = SynthShift19.components()
    rng = np.random.default_rng(0)
    cells = []
    for kind, columns in (("alone", (FULL_COLUMN, *comps)), ("minus", comps)):
        for m in methods + ((GAP,) if kind == "alone" else ()):
            for j, c in enumerate(columns):
                if j % 5 == 4:
                    cells.append(Cell(kind, m, c, 4, 12))
                else:
                    v = float(rng.uniform(-150, 150))
                    cells.append(Cell(kind, m, c, 12, 12, v, v - 110.0, v + 95.0))
    return ComponentGrid(methods, comps, (0, 1, 2), cells, 500, 702)


FIGURES = {
    # notebook 03: source only and oracle; 07: the whole ladder, labels in words (cell 17)
    "training curves, two runs": lambda p: _curves(p, ["source_only", "oracle"], ("seg", "val_target_miou"),
                                                   title="source only and oracle, seed 0"),
    "training curves, the ladder": lambda p: _curves(p, list(LADDER.values()), ("seg", "val_target_miou"),
                                                     title="seed 0: source segmentation loss and target val mIoU"),
    # notebook 05 cell 22: the adversarial game, four long panel titles
    "training curves, the adversarial game": lambda p: _curves(
        p, ["AdaptSegNet", "PFR (the paper's method)"], ("d_acc_source", "d_acc_target", "adv", "d"),
        title="The adversarial game, seed 0"),
    # notebook 04: per-stage style terms; 06: five keys, one run
    "training curves, stage terms": lambda p: _curves(p, ["pfr"], ("pfr_style_2", "pfr_style_3", "pfr_style_4",
                                                                   "pfr_style_5", "seg")),
    "training curves, five keys": lambda p: _curves(p, ["stand-in"], ("seg", "seg_aux", "adv", "pfr", "d"), smooth=1),
    "per-class IoU, two results": lambda p: plot_per_class_iou(
        {"source only": _classes(lambda k: 0.3 + 0.03 * k), "oracle": _classes(lambda k: 0.9 - 0.02 * k)},
        title="Per-class IoU on the val splits: the domain gap by class (seed 0)"),
    "per-class IoU, five results": lambda p: plot_per_class_iou(
        {label: _classes(lambda k, j=j: 0.2 + 0.04 * j + 0.02 * k) for j, label in enumerate(LADDER.values())},
        title="Per-class IoU"),
    "IoU heat map, Table 1": lambda p: plot_iou_heatmap(
        {row: _classes(lambda k, j=j: (7 * k + 13 * j) % 100) for j, row in enumerate(TABLE1_ROWS)},
        highlight=LADDER["pfr_adv"], title="Table 1, SynthStreets edition: target val IoU (%), mean over seeds 0-2"),
    "frequent vs rare, crowded": lambda p: plot_share_vs_difference(
        _classes(lambda k: 30.0 / (k + 1)), _classes(lambda k: (-1) ** k * (k % 5) * 2.0), split=3.0,
        title="sixteen classes, several of them close together"),
    "frequent vs rare": lambda p: plot_share_vs_difference(
        SHARES, DIFFERENCES, split=11.1,
        ylabel="IoU: PFR + adv - CLAN (points)", title="Is PFR's edge over CLAN on the frequent classes? (seeds 0-2)"),
    # notebooks 05 cell 20 and 07 cell 19: value labels over error bars and the seeds' points
    "ablation ladder": lambda p: plot_ladder(
        _ladder_table(), labels=LADDER,
        title="Target mIoU on SynthStreets, mean ± std, seeds 0, 1, 2"),
    "Gram matrices of a stage": lambda p: gram_pair(
        torch.rand(16, 16), torch.rand(16, 16),
        title="stage 2: 16 channels, mean over 8 train images per domain, seed 0, normalisation 'chw'"),
    # notebook 01: the shuffle experiment and the style gap (both had no colour bar; tiny legend, log ticks)
    "shuffle invariance": lambda p: shuffle_invariance(
        torch.randint(0, 255, (3, 64, 128), dtype=torch.uint8), torch.rand(3, 64, 128), torch.rand(3, 3),
        torch.rand(3, 3), image_title="source image (train #0, seed 0)"),
    "style gap": lambda p: style_gap(
        torch.rand(16, 16), torch.rand(16, 16),
        [{"stage": s, "within_source": 0.17, "within_target": 0.18, "across": 0.27} for s in (2, 3, 4, 5)], stage=2),
    # notebook 02: each stage's output for a source and a target image (row titles overlapped)
    "stage maps": lambda p: stage_maps(
        [torch.randint(0, 255, (3, 64, 128), dtype=torch.uint8)] * 2,
        [torch.rand(2, c, h, 2 * h) for c, h in ((16, 16), (32, 8), (64, 8), (64, 8))],
        ["source val #0", "target val #0"],
        title="mean over channels of each stage's output, source-only network (600 iterations, seed 0)"),
    "Figure 3 grid": lambda p: prediction_grid(
        torch.randint(0, 255, (3, 3, 64, 128), dtype=torch.uint8),
        {"source only": torch.randint(0, 19, (3, 64, 128)), "AdaptSegNet": torch.randint(0, 19, (3, 64, 128)),
         "PFR": torch.randint(0, 19, (3, 64, 128))},
        torch.randint(0, 19, (3, 64, 128)),
        titles=("(a) target image", "(b) non-adapted", "(c) conventional adapt", "(d) ours", "(e) ground truth"),
        title="SynthStreets target val #0-2, models of seed 0"),
    # notebook 09: style three ways, FDA's grid at four betas, entropy before and after adaptation
    "style three ways": lambda p: style_three_ways(
        _PAIR, [torch.rand(32, 32)] * 2, log_amplitude(_PAIR), [torch.rand(64, 128)] * 2,
        ["source train #0", "target train #0"],
        title="Style three ways: stage 3 of the source-only network (seed 0), the image's spectrum, its "
              "prediction's entropy"),
    "FDA grid": lambda p: fda_grid(
        _PAIR[0], _PAIR[1], {b: _PAIR[0].float() for b in (0.01, 0.05, 0.1, 0.2)},
        {b: swapped_window(64, 128, int(64 * b)) for b in (0.01, 0.05, 0.1, 0.2)},
        title="FDA's swap ('corners' window) of source train #0 with target train #0, 64x128"),
    "entropy before and after": lambda p: entropy_grid(
        torch.randint(0, 255, (3, 3, 64, 128), dtype=torch.uint8),
        {"Non-adapted (source only)": torch.rand(3, 64, 128), "AdaptSegNet": torch.rand(3, 64, 128)},
        title="Entropy of the prediction on target val #0-2: before and after adaptation (seed 0)"),
    # benchmarks/components.py: the per-component grid, twelve components and nine methods
    "component maps": lambda p: plot_component_maps(_component_grid()),
    "SynthStreets samples": lambda p: synthstreets_samples(n=2, seed=0, size=(32, 64)),
    "shift components": lambda p: shift_components(n=1, seed=0, size=(32, 64)),
    "shift components, SynthStreets-19": lambda p: shift_components(n=1, seed=0, size=(64, 128), classes=19),
}


@pytest.mark.parametrize("name", list(FIGURES))
def test_viz_figures_have_no_overlapping_text(name, tmp_path):
    fig = FIGURES[name](tmp_path)
    try:
        problems = layout_problems(fig)
    finally:
        plt.close(fig)
    assert not problems, f"{name}:\n" + "\n".join(problems)


def test_shift_prediction_has_no_overlapping_text():
    torch.manual_seed(0)
    model = build_model("small", num_classes=19).eval()
    fig = shift_prediction(model, SynthShift(), index=0, size=(32, 64), model_name="source only (seed 0)")
    try:
        problems = layout_problems(fig)
    finally:
        plt.close(fig)
    assert not problems, "\n".join(problems)
