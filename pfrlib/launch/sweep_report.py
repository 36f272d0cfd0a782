"""A sweep's report: every run's metrics in ``results.csv``, mean +- std per group in
``summary.csv`` / ``summary.md``, and the plots (bars, a heatmap for two ``group_by`` keys,
per-class IoU), copied to the spec's ``figures`` destinations."""

from __future__ import annotations

import csv
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from pfrlib.io import atomic_write, one_line, read_json
from pfrlib.launch.sweep_spec import SweepSpec
from pfrlib.viz.results import plot_per_class_iou
from pfrlib.viz.figure import save_figure

__all__ = ["aggregate", "summary_markdown"]


def _lookup(d: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        if not isinstance(d, dict) or part not in d:
            return None
        d = d[part]
    return d


def _mean_std(values: list[float]) -> tuple[float, float]:
    values = [v for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    if not values:
        return float("nan"), float("nan")
    m = sum(values) / len(values)
    if len(values) < 2:
        return m, 0.0
    return m, math.sqrt(sum((v - m) ** 2 for v in values) / (len(values) - 1))


def aggregate(spec: SweepSpec, root: str | os.PathLike = "runs") -> dict[str, Any]:
    """Collect every run's metrics; write results.csv, summary.csv/.md and the plots.

    Every run of the spec has a row in ``results.csv`` with its ``status`` (``ok``, ``failed``,
    ``not run``); a group's summary counts its finished (``n``), failed and not-run runs, and
    the means run over the finished ones. Metrics that are fractions (mIoU) are reported in
    percent. A metric found in none of the finished runs is reported in ``warnings``.
    Returns ``{"rows" (finished), "all_rows", "summary", "markdown", "dir", "figures", "warnings"}``.
    """
    runs = spec.runs(root)
    out_root = spec.folder(root)
    out_root.mkdir(parents=True, exist_ok=True)
    rows, all_rows = [], []
    for r in runs:
        path = spec.result_path(r)
        row = {**{k: v for k, v in r.params.items()}, "run": r.name, "_result": {}}
        if path.exists():
            try:
                result = read_json(path)
            except (ValueError, OSError) as err:
                raise ValueError(f"{path} cannot be read ({one_line(err)}); rerun {r.name} or remove it") from None
            row["status"] = "ok"
            for m in spec.metrics:
                v = _lookup(result, m)
                row[m] = 100 * v if isinstance(v, (int, float)) and "miou" in m and abs(v) <= 1 else v
            row["_result"] = result
            rows.append(row)
        else:
            row["status"] = "failed" if (r.out / "status.json").exists() else "not run"
        all_rows.append(row)
    warnings = []
    for m in spec.metrics:
        if rows and all(row.get(m) is None for row in rows):
            warnings.append(f"metric {m!r} is in none of the {len(rows)} finished runs' "
                            f"{spec.result_path(runs[0]).name}")
    param_keys = list(dict.fromkeys(k for r in runs for k in r.params))
    with open(out_root / "results.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["run", *param_keys, "status", *spec.metrics])
        for row in all_rows:
            w.writerow([row["run"], *[_cell(row.get(k)) for k in param_keys], row["status"],
                        *[_cell(row.get(m)) for m in spec.metrics]])

    groups: dict[tuple, list[dict]] = {}
    for row in all_rows:
        groups.setdefault(tuple(_cell(row.get(k)) for k in spec.group_by), []).append(row)
    summary = []
    for key, members in groups.items():
        ok = [x for x in members if x["status"] == "ok"]
        entry = dict(zip(spec.group_by, key))
        entry["n"] = len(ok)
        entry["failed"] = sum(x["status"] == "failed" for x in members)
        entry["not_run"] = sum(x["status"] == "not run" for x in members)
        for m in spec.metrics:
            entry[m + "_mean"], entry[m + "_std"] = _mean_std([x.get(m) for x in ok])
        entry["_members"] = ok
        entry["_failed_runs"] = [x["run"] for x in members if x["status"] == "failed"]
        summary.append(entry)
    with open(out_root / "summary.csv", "w", newline="") as f:
        w = csv.writer(f)
        cols = [*spec.group_by, "n", "failed", "not_run", *[c for m in spec.metrics for c in (m + "_mean", m + "_std")]]
        w.writerow(cols)
        for e in summary:
            w.writerow([_cell(e.get(c)) for c in cols])
    md = summary_markdown(spec, summary)
    if warnings:
        md += "".join(f"\nWarning: {w_}\n" for w_ in warnings)
    (out_root / "summary.md").write_text(md)
    _plots(spec, [e for e in summary if e["n"]], rows, out_root)
    copied = _copy_figures(spec, out_root)
    return {"rows": rows, "all_rows": all_rows, "summary": summary, "markdown": md, "dir": out_root,
            "figures": copied, "warnings": warnings}


def _copy_figures(spec: SweepSpec, out_root: Path) -> list[Path]:
    """Copy the plots named in ``spec.figures`` to their destinations (atomically)."""
    base = spec.path.resolve().parent.parent if spec.path is not None else Path.cwd()
    copied = []
    for plot, dest in spec.figures.items():
        src = out_root / plot
        if not src.exists():
            continue
        data = src.read_bytes()
        copied.append(atomic_write(base / dest, lambda f, data=data: f.write(data)))
    return copied


def _cell(v: Any) -> Any:
    if isinstance(v, (list, tuple)):
        return ",".join(str(x) for x in v)
    if isinstance(v, float):
        return round(v, 4)
    return v


def summary_markdown(spec: SweepSpec, summary: list[dict]) -> str:
    """The summary as a markdown table: one row per group, ``mean ± std (n)`` per metric."""
    head = [*spec.group_by, "runs", *spec.metrics]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    failed = []
    for e in summary:
        extra = [f"{e[k]} {label}" for k, label in (("failed", "failed"), ("not_run", "not run")) if e.get(k)]
        runs_cell = str(e["n"]) + (f" ({', '.join(extra)})" if extra else "")
        cells = [str(_cell(e.get(k))) for k in spec.group_by] + [runs_cell]
        for m in spec.metrics:
            mean, std = e[m + "_mean"], e[m + "_std"]
            cells.append(("FAILED" if e.get("failed") and not e["n"] else "-") if math.isnan(mean) else f"{mean:.1f} ± {std:.1f}")
        lines.append("| " + " | ".join(cells) + " |")
        failed += e.get("_failed_runs", [])
    if failed:
        lines.append("")
        lines.append(f"Failed runs ({len(failed)}; their status.json has the error): {', '.join(failed)}")
    return "\n".join(lines) + "\n"


def _plots(spec: SweepSpec, summary: list[dict], rows: list[dict], out_root: Path) -> None:
    """Bar chart of the first metric per group; a heatmap for 2-key groups; per-class IoU bars."""
    if not summary:
        return
    import matplotlib  # noqa: PLC0415  (optional heavy dependency: plots only when there is something to plot)

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt  # noqa: PLC0415  (after choosing the file-only backend above)

    metric = spec.metrics[0]
    labels = [" / ".join(str(_cell(e.get(k))) for k in spec.group_by) or "all" for e in summary]
    fig, ax = plt.subplots(figsize=(max(5, 0.9 * len(summary) + 2), 3.4))
    ax.bar(range(len(summary)), [e[metric + "_mean"] for e in summary], yerr=[e[metric + "_std"] for e in summary], capsize=4)
    for i, e in enumerate(summary):
        vals = [x.get(metric) for x in e["_members"] if isinstance(x.get(metric), (int, float))]
        ax.scatter([i] * len(vals), vals, color="k", s=10, zorder=3)
    ax.set_xticks(range(len(summary)), labels, rotation=20, ha="right")
    ax.set_ylabel(metric + (" (%)" if "miou" in metric else ""))
    ax.set_title(f"{spec.name}: mean ± std over the other parameters")
    fig.tight_layout()
    save_figure(fig, out_root / "bars.png")
    plt.close(fig)

    if len(spec.group_by) == 2:
        a, b = spec.group_by
        xs = sorted({_cell(e[a]) for e in summary}, key=_sort_key)
        ys = sorted({_cell(e[b]) for e in summary}, key=_sort_key)
        grid = np.full((len(ys), len(xs)), np.nan)
        for e in summary:
            grid[ys.index(_cell(e[b])), xs.index(_cell(e[a]))] = e[metric + "_mean"]
        fig, ax = plt.subplots(figsize=(1.1 * len(xs) + 2.5, 0.8 * len(ys) + 1.8))
        im = ax.imshow(grid, cmap="viridis", origin="lower")
        for i in range(len(ys)):
            for j in range(len(xs)):
                if not np.isnan(grid[i, j]):
                    ax.text(j, i, f"{grid[i, j]:.1f}", ha="center", va="center", color="w", fontsize=8)
        ax.set_xticks(range(len(xs)), xs)
        ax.set_yticks(range(len(ys)), ys)
        ax.set_xlabel(a)
        ax.set_ylabel(b)
        fig.colorbar(im, ax=ax, label=metric)
        ax.set_title(f"{spec.name}: {metric} (mean over seeds)")
        fig.tight_layout()
        save_figure(fig, out_root / "heatmap.png")
        plt.close(fig)

    per_class = {}
    for e, label in zip(summary, labels):
        ious = [_lookup(x["_result"], "target_val.per_class_iou") for x in e["_members"]]
        ious = [d for d in ious if isinstance(d, dict)]
        if ious:
            names = ious[0].keys()
            per_class[label] = {n: _mean_std([d.get(n) for d in ious])[0] for n in names}
    if per_class:
        fig = plot_per_class_iou(per_class, title=f"{spec.name}: target per-class IoU (mean over seeds)")
        save_figure(fig, out_root / "per_class_iou.png")
        plt.close(fig)


def _sort_key(v: Any):
    try:
        return (0, float(v))
    except (TypeError, ValueError):
        return (1, str(v))
