"""Tables of results: the paper's Table 1 beside our numbers, the ablation ladder, class shares.

* **Table-1 rows.** ``pfrlib/reference/table1.csv`` holds the paper's rows (per-class IoU and
  mIoU in %, backbone). :func:`format_table_row` / :func:`format_table` make Markdown rows and a
  table of them; :func:`table_record` / :func:`table_frame` the same rows as dicts and a pandas
  DataFrame for notebooks. :func:`reference_records` / :func:`reference_rows` read the paper's
  rows, and :func:`results_table` prints them above a row of ours from an ``eval.json`` report,
  each row labelled with what it was run on.
* **The ablation ladder.** :func:`ladder`: mean ± std over seeds per method and the share of the
  source-only-to-oracle gap each one closes; :func:`gap_closed_percent`, the one rule by which
  every table shows that share, and :func:`seed_set_cells`, a method's cells in a table of
  several seed sets: "mean ± std" (the default, for the 3-seed files) or, with
  ``spread="interval"``, "mean [low, high]", the method's own 95% interval (:func:`method_interval`:
  the percentile bootstrap of its per-seed values) where it has :data:`INTERVAL_MIN_SEEDS` seeds.
* **Reading Table 1 by class frequency.** :func:`class_pixel_share`: each class's share of the
  labelled pixels.

The numbers themselves (Eq. 7: confusion matrix, IoU, mIoU) are :mod:`pfrlib.paper.metrics`.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import torch
from torch import Tensor

from pfrlib import methods
from pfrlib.evaluation.statistics import CONFIDENCE, RESAMPLES, SEED, bootstrap_interval
from pfrlib.io import format_number
from pfrlib.paper.metrics import CITYSCAPES_CLASSES

__all__ = ["PAPER_LABEL", "format_table_row", "format_table", "table_record", "table_frame",
           "default_reference_path", "reference_records", "reference_rows", "results_table", "ladder",
           "GAP_CLOSED", "gap_closed_percent", "SPREADS", "INTERVAL_MIN_SEEDS", "method_interval", "mean_cell",
           "seed_set_cells", "table1_rows", "class_pixel_share"]

#: How the paper's rows are labelled in a side-by-side table.
PAPER_LABEL = "paper Table 1; GTA5 -> Cityscapes val"


# --------------------------------------------------------------------------- Table-1 rows
def _row_values(per_class, names: Sequence[str], miou_value) -> tuple[list[float], float]:
    """Per-class fractions in ``names`` order (missing or None -> NaN) and the mIoU (given, or
    the mean of the finite values)."""
    if isinstance(per_class, Mapping):
        values = [per_class.get(n) for n in names]
        values = [float("nan") if v is None else float(v) for v in values]
    else:
        values = [float(v) for v in per_class]
        if len(values) != len(names):
            raise ValueError(f"expected {len(names)} per-class values, got {len(values)}")
    if miou_value is None:
        finite = [v for v in values if not math.isnan(v)]
        miou_value = sum(finite) / len(finite) if finite else float("nan")
    return values, miou_value


def format_table_row(
    name: str,
    per_class: Mapping[str, float] | Sequence[float] | Tensor,
    miou_value: float | None = None,
    backbone: str = "",
    names: Sequence[str] = CITYSCAPES_CLASSES,
) -> str:
    """One Table-1-style markdown row: method, backbone, 19 per-class IoUs and mIoU, in percent.

    ``per_class`` holds fractions (0..1) keyed by class name, or in ``names`` order. A missing or
    NaN class prints as ``-``. ``miou_value`` defaults to the nanmean of the given values.
    """
    values, miou_value = _row_values(per_class, names, miou_value)
    percent = [None if v is None else 100 * v for v in [*values, miou_value]]
    return "| " + " | ".join([name, backbone, *(format_number(v) for v in percent)]) + " |"


def format_table(rows: Iterable[str], names: Sequence[str] = CITYSCAPES_CLASSES) -> str:
    """Header plus the given :func:`format_table_row` rows as one markdown table."""
    header = "| method | backbone | " + " | ".join(names) + " | mIoU |"
    rule = "|" + "---|" * (len(names) + 3)
    return "\n".join([header, rule, *rows])


def table_record(
    name: str,
    per_class: Mapping[str, float | None] | Sequence[float] | Tensor,
    miou_value: float | None = None,
    backbone: str = "",
    names: Sequence[str] = CITYSCAPES_CLASSES,
) -> dict:
    """One Table-1 row as a dict (``method``, ``backbone``, each class, ``mIoU``), in percent.

    Takes the same arguments as :func:`format_table_row` (fractions 0..1; ``None`` or NaN for a
    class a benchmark does not have, kept as NaN); :func:`table_frame` turns a list of these
    into a table that renders as a table.
    """
    values, miou_value = _row_values(per_class, names, miou_value)
    return {"method": name, "backbone": backbone, **{n: 100 * v for n, v in zip(names, values)},
            "mIoU": 100 * float(miou_value)}


def table_frame(records: Iterable[Mapping], digits: int = 1, missing: str = "-"):
    """A pandas DataFrame of Table-1 rows (from :func:`table_record`, or
    :func:`reference_records`), numbers as text with ``digits`` decimals and ``missing`` for NaN,
    indexed by method: displayed in a notebook it renders as a table."""
    # pandas is optional (not a pfrlib dependency): only this notebook table needs it
    import pandas as pd  # noqa: PLC0415

    frame = pd.DataFrame(list(records)).set_index("method")
    return frame.map(lambda v: v if isinstance(v, str) else format_number(v, digits, missing))


# --------------------------------------------------------------------------- the paper's Table 1
def default_reference_path() -> Path:
    """The paper's Table 1 as shipped with the package: ``pfrlib/reference/table1.csv``."""
    return Path(__file__).resolve().parents[1] / "reference" / "table1.csv"


def reference_records(path: str | Path | None = None) -> list[dict[str, Any]]:
    """The rows of a Table-1 CSV as dicts: ``method``, ``backbone``, one IoU per Cityscapes class
    (keyed by class name, in %) and ``mIoU`` (in %).

    Args:
        path: a CSV with the layout of ``pfrlib/reference/table1.csv``; default: that file.

    Raises:
        FileNotFoundError naming the file if it does not exist; ValueError naming the file and
        the missing columns if it has another layout.
    """
    path = Path(path) if path is not None else default_reference_path()
    if not path.is_file():
        raise FileNotFoundError(f"Table 1 reference file not found: {path}")
    records = []
    with open(path, newline="") as f:
        reader = csv.DictReader(f)
        missing = [c for c in ["method", "backbone", *_csv_columns(), "mIoU"] if c not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(f"{path}: not a Table-1 CSV, missing columns {missing}")
        for rec in reader:
            row: dict[str, Any] = {"method": rec["method"], "backbone": rec["backbone"]}
            row.update({name: float(rec[col]) for name, col in zip(CITYSCAPES_CLASSES, _csv_columns())})
            row["mIoU"] = float(rec["mIoU"])
            records.append(row)
    return records


def reference_rows(path: str | Path | None = None, label: str = PAPER_LABEL) -> list[str]:
    """The paper's Table 1 as :func:`format_table_row` rows (markdown).

    Args:
        path: the CSV to read (default: the shipped ``pfrlib/reference/table1.csv``).
        label: appended to each method name, saying what the row ran on.
    """
    return [
        format_table_row(f"{rec['method']} ({label})", [rec[n] / 100 for n in CITYSCAPES_CLASSES],
                         miou_value=rec["mIoU"] / 100, backbone=rec["backbone"])
        for rec in reference_records(path)
    ]


def _csv_columns() -> list[str]:
    return [n.replace(" ", "_") for n in CITYSCAPES_CLASSES]


def results_table(report: dict[str, Any], reference: str | Path | None = None, include_reference: bool = True) -> str:
    """Markdown Table-1 table: the paper's rows (the shipped CSV, or ``reference``) and ours,
    each labelled with what it ran on."""
    ours = format_table_row(
        f"ours: {report['method']} ({report['trained_on']}; eval {report['data']})",
        {k: (float("nan") if v is None else v) for k, v in report["per_class_iou"].items()},
        miou_value=report["miou"], backbone=report["arch"],
    )
    rows = (reference_rows(reference) if include_reference else []) + [ours]
    return format_table(rows)


# --------------------------------------------------------------------------- the ablation ladder
def ladder(values: Mapping[str, Sequence[float]], low: str = "source_only", high: str = "oracle") -> dict[str, dict]:
    """The ablation ladder: mean ± std over seeds per method, and the share of the gap it closes.

    Args:
        values: ``{method: [score of each seed]}`` (e.g. target mIoU in percent).
        low, high: the methods that bound the gap (source only and the oracle).

    Returns:
        ``{method: {"mean", "std", "runs", "gap_closed"}}`` in the order of ``values``: ``std`` is
        the sample standard deviation (ddof 1; 0.0 for a single run); ``gap_closed`` is
        ``(mean - mean[low]) / (mean[high] - mean[low])`` (0 for ``low``, 1 for ``high``; NaN when
        either bound is missing or they are equal).
    """
    table: dict[str, dict] = {}
    for method, runs in values.items():
        runs = [float(v) for v in runs]
        if not runs:
            raise ValueError(f"ladder: method {method!r} has no runs")
        mean = sum(runs) / len(runs)
        std = math.sqrt(sum((v - mean) ** 2 for v in runs) / (len(runs) - 1)) if len(runs) > 1 else 0.0
        table[method] = {"mean": mean, "std": std, "runs": runs}
    lo, hi = table.get(low, {}).get("mean"), table.get(high, {}).get("mean")
    for t in table.values():
        t["gap_closed"] = (t["mean"] - lo) / (hi - lo) if lo is not None and hi is not None and hi != lo else math.nan
    return table


#: The header of the share of the gap a method closes, in every table of the series.
GAP_CLOSED = "gap closed (%)"


def gap_closed_percent(method: str, row: Mapping[str, Any] | None, low: str = "source_only",
                       high: str = "oracle") -> float | None:
    """The share of the ``low`` -> ``high`` gap that ``method`` closes, in %, as every table shows it.

    ``None`` (a table shows it as ``-``) for the two methods that bound the gap, whose 0% and
    100% are the definition of the scale rather than a result, and where the share is unknown
    (no row, no ``gap_closed``, NaN); otherwise ``100 * row["gap_closed"]``.

    Args:
        method: the row's method.
        row: its :func:`ladder` entry, or its entry of a results file (either holds ``gap_closed``).
        low, high: the methods that bound the gap.
    """
    if method in (low, high) or row is None:
        return None
    value = row.get("gap_closed")
    return None if value is None or math.isnan(value) else 100 * float(value)


#: How a table shows a method's spread over seeds: ``"std"``, "mean ± std" (sample std; the
#: default while the committed files hold 3 seeds), or ``"interval"``, "mean [low, high]" (its own
#: 95% interval, :func:`method_interval`; docs/protocol.md, "What a table shows").
SPREADS: tuple[str, ...] = ("std", "interval")
#: The fewest seeds a method's own interval is shown for: the protocol's seed sets have 5. With 3,
#: a percentile interval of 3 values is little more than their range; such a cell stays "mean ± std".
INTERVAL_MIN_SEEDS = 5


def method_interval(values: Sequence[float], confidence: float = CONFIDENCE, resamples: int = RESAMPLES,
                    seed: int = SEED) -> tuple[float, float, float]:
    """A method's mean over its seeds and its own interval: the percentile bootstrap of the mean of
    its per-seed values (:func:`pfrlib.evaluation.statistics.bootstrap_interval` on the values
    themselves, not on differences).

    Args:
        values: (n,) its per-seed scores (e.g. test mIoU in %), n >= 2.
        confidence, resamples, seed: the bootstrap's (the protocol's defaults).

    Returns:
        ``(mean, low, high)``.
    """
    low, high = bootstrap_interval(values, confidence, resamples, seed)
    return float(sum(values) / len(values)), low, high


def mean_cell(row: Mapping[str, Any], spread: str = SPREADS[0], min_seeds: int = INTERVAL_MIN_SEEDS) -> str:
    """A :func:`ladder` row as one table cell: "mean ± std", or with ``spread="interval"`` and at
    least ``min_seeds`` runs "mean [low, high]" (:func:`method_interval`), one decimal."""
    if spread not in SPREADS:
        raise ValueError(f"spread: expected one of {list(SPREADS)}, got {spread!r}")
    if spread == "interval" and len(row["runs"]) >= max(2, min_seeds):
        mean, low, high = method_interval(row["runs"])
        return f"{mean:.1f} [{low:.1f}, {high:.1f}]"
    return f"{row['mean']:.1f} ± {row['std']:.1f}"


def seed_set_cells(tables: Mapping[str, Mapping[str, Mapping[str, Any]]], method: str, low: str = "source_only",
                   high: str = "oracle", spread: str = SPREADS[0]) -> dict[tuple[str, str], Any]:
    """One method's cells in a table that sets seed sets side by side.

    Args:
        tables: ``{seed set: its ladder}`` (:func:`ladder` tables, e.g. one per results file).
        method: the row's method.
        low, high: the methods that bound the gap (:func:`gap_closed_percent`).
        spread: one of :data:`SPREADS` (:func:`mean_cell`).

    Returns:
        For each seed set, ``(seed set, "mIoU (%)")``: :func:`mean_cell` (None where the set has no
        such row) and ``(seed set, GAP_CLOSED)``: :func:`gap_closed_percent`. The tuple keys make
        :func:`pfrlib.teaching.nbtools.show_table` group the columns under their seed set.
    """
    if spread not in SPREADS:
        raise ValueError(f"spread: expected one of {list(SPREADS)}, got {spread!r}")
    cells: dict[tuple[str, str], Any] = {}
    for name, table in tables.items():
        row = table.get(method)
        cells[(name, "mIoU (%)")] = None if row is None else mean_cell(row, spread)
        cells[(name, GAP_CLOSED)] = gap_closed_percent(method, row, low, high)
    return cells


def table1_rows(tables: Mapping[str, Mapping[str, Mapping[str, Any]]], names: Sequence[str],
                paper: Sequence[Mapping[str, Any]] | None = None, spread: str = SPREADS[0]) -> list[dict[Any, Any]]:
    """Table 1 ours beside the paper's: one row per method of ``names``.

    Args:
        tables: ``{seed set: its ladder}``, as :func:`seed_set_cells` reads them.
        names: the methods, in the table's order (e.g. :func:`pfrlib.methods.table1_names`).
        paper: the paper's rows (:func:`reference_records`; default: ``pfrlib/reference/table1.csv``).
        spread: how ours show their spread over seeds (:data:`SPREADS`, :func:`mean_cell`).

    Returns:
        Dicts with the method's name in words (``"Table 1 row"``, :func:`pfrlib.methods.label`),
        its :func:`seed_set_cells`, and ``("paper", "mIoU (%)")``, ``("paper", "backbone")``:
        the paper's row for the method (:attr:`pfrlib.methods.Method.paper_row`; None where it
        has none).
    """
    by_name = {r["method"]: r for r in (reference_records() if paper is None else paper)}
    rows = []
    for m in names:
        theirs = by_name.get(methods.get(m).paper_row)
        rows.append({"Table 1 row": methods.label(m)} | seed_set_cells(tables, m, spread=spread)
                    | {("paper", "mIoU (%)"): theirs and theirs["mIoU"],
                       ("paper", "backbone"): theirs and theirs["backbone"]})
    return rows


# --------------------------------------------------------------------------- class frequency
def class_pixel_share(labels: Tensor, num_classes: int = len(CITYSCAPES_CLASSES),
                      ignore_index: int = 255) -> Tensor:
    """Each class's share of the labelled pixels: how *frequent* a class is in a dataset.

    The paper reads Table 1 by class frequency ("limited performance gain on some less frequent
    objects ... excellent at the dominant classes such as road, building"); this is the number
    that sorts classes into dominant and rare.

    Args:
        labels: ``(...)`` integer trainIds of any shape (e.g. ``(N, H, W)``, a whole split).
        num_classes: K; values ``>= K`` other than ``ignore_index`` are an error.
        ignore_index: the unlabelled value, left out of the count.

    Returns:
        ``(K,)`` float64 shares that sum to 1 (0 for classes that never occur).
    """
    flat = labels.reshape(-1).long()
    flat = flat[flat != ignore_index]
    if flat.numel() == 0:
        raise ValueError("class_pixel_share: every pixel is ignore_index; nothing to count")
    if int(flat.min()) < 0 or int(flat.max()) >= num_classes:
        raise ValueError(f"class_pixel_share: labels must be trainIds in 0..{num_classes - 1} or {ignore_index}, "
                         f"got values {int(flat.min())}..{int(flat.max())}")
    counts = torch.bincount(flat, minlength=num_classes).double()
    return counts / counts.sum()
