"""The paper's Table 1 beside our numbers: the shipped reference rows and the side-by-side table.

``pfrlib/reference/table1.csv`` holds the paper's rows (per-class IoU and mIoU in %, backbone);
:func:`results_table` prints them (or a CSV of your own) above a row of ours from an
``eval.json`` report, each row labelled with what it was run on.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from pfrlib.paper.metrics import CITYSCAPES_CLASSES, format_table, format_table_row

__all__ = ["PAPER_LABEL", "default_reference_path", "reference_records", "reference_rows", "results_table"]

#: How the paper's rows are labelled in a side-by-side table.
PAPER_LABEL = "paper Table 1; GTA5 -> Cityscapes val"


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
    """The paper's Table 1 as :func:`pfrlib.paper.metrics.format_table_row` rows (markdown).

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
