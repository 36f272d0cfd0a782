"""The paper's Table 1 beside our numbers: the shipped reference rows and the side-by-side table.

``pfrlib/reference/table1.csv`` holds the paper's rows (per-class IoU and mIoU in %, backbone);
:func:`results_table` prints them (or a CSV of your own) above a row of ours from an
``eval.json`` report, each row labelled with what it was run on. :func:`read_results` reads our
multi-seed rows from a committed results file (``benchmarks/results/table1.json``, written by
``python benchmarks/ablation.py --save``).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any, Iterable, Optional

from .metrics import CITYSCAPES_CLASSES, format_table, format_table_row

__all__ = ["PAPER_LABEL", "RESULT_KEYS", "default_reference_path", "reference_records", "reference_rows", "results_table",
           "read_results", "PAPER_LABELS", "paper_record"]

#: How the paper's rows are labelled in a side-by-side table.
PAPER_LABEL = "paper Table 1; GTA5 -> Cityscapes val"


#: The keys every method's row of a results file holds (``gap_closed``, ``source``, ``wall_s`` and
#: ``per_class_target`` may be there too): target-val mIoU ``[mean, std]`` in %, per seed, the seeds.
RESULT_KEYS: tuple[str, ...] = ("target", "per_seed_target", "seeds")


#: The paper's label (the ``method`` column of ``table1.csv``) of a Table-1 row where it differs
#: from the row's name in the method registry (:attr:`pfrlib.methods.Method.table1_row`).
PAPER_LABELS: dict[str, str] = {"PFR (the paper's method)": "PFR (paper)", "FCNs in the Wild": "FCN Wld",
                                "Curriculum DA": "Curriculum"}


def default_reference_path() -> Path:
    """The paper's Table 1 as shipped with the package: ``pfrlib/reference/table1.csv``."""
    return Path(__file__).resolve().parent / "reference" / "table1.csv"


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


def paper_record(row: str | None, records: list[dict[str, Any]] | None = None) -> dict[str, Any] | None:
    """The paper's Table-1 record (:func:`reference_records`) of the row the registry calls ``row``
    (``methods.get(name).table1_row``); ``None`` for rows the paper does not have (source only,
    PFR only, the oracle) or ``row=None``.

    Args:
        row: a registry row name (``"CyCADA"``, ``"PFR (the paper's method)"``).
        records: the paper's records (default: the shipped CSV).
    """
    if row is None:
        return None
    label = PAPER_LABELS.get(row, row)
    return next((r for r in (reference_records() if records is None else records) if r["method"] == label), None)


def reference_rows(path: str | Path | None = None, label: str = PAPER_LABEL) -> list[str]:
    """The paper's Table 1 as :func:`pfrlib.metrics.format_table_row` rows (markdown).

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


def read_results(path: str | Path, methods: Optional[Iterable[str]] = None) -> dict[str, Optional[dict[str, Any]]]:
    """The multi-seed rows of a committed results file (``benchmarks/results/table1.json``,
    ``table1_heldout.json``): ``{method: row}``, each row holding at least :data:`RESULT_KEYS`.

    Args:
        path: the JSON file (``{method: {"target": [mean, std], "per_seed_target": [...],
            "seeds": [...], ...}}``).
        methods: the methods wanted, in this order; one the file has no row for maps to ``None``
            (not trained into the file yet). Default: every row of the file.

    Raises:
        FileNotFoundError naming the file; ValueError naming the file (and the method) when it is
        not JSON of that layout.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"results file not found: {path}")
    try:
        rows = json.loads(path.read_text())
    except ValueError as err:
        raise ValueError(f"{path}: not JSON ({err})") from None
    if not isinstance(rows, dict):
        raise ValueError(f"{path}: expected an object {{method: row}}, got {type(rows).__name__}")
    for method, row in rows.items():
        missing = [k for k in RESULT_KEYS if not isinstance(row, dict) or k not in row]
        if missing:
            raise ValueError(f"{path}: the row of {method!r} lacks {missing}")
    wanted = list(rows) if methods is None else list(methods)
    return {m: rows.get(m) for m in wanted}
