"""Segmentation metrics: confusion matrix, per-class IoU (Eq. 7) and mIoU.

Everything is computed from one K x K confusion matrix (rows = ground truth, columns =
prediction), accumulated over a whole validation set and only then turned into IoU: averaging
per-image IoUs would give a different (and non-standard) number.
"""

from __future__ import annotations

import math
from typing import Iterable, Mapping, Sequence

import torch
from torch import Tensor

from pfrlib.data.labels import CLASS_NAMES

__all__ = [
    "CITYSCAPES_CLASSES",
    "ladder",
    "confusion_matrix",
    "iou",
    "miou",
    "per_class_iou",
    "class_pixel_share",
    "format_table_row",
    "format_table",
    "table_record",
    "table_frame",
]

#: The 19 Cityscapes evaluation classes in trainId order (0..18), as in the paper's Table 1: the
#: names of :mod:`pfrlib.data.labels` (one table, from cityscapesScripts), not a typed copy.
CITYSCAPES_CLASSES: tuple[str, ...] = CLASS_NAMES


def confusion_matrix(pred: Tensor, target: Tensor, num_classes: int, ignore_index: int = 255) -> Tensor:
    """Confusion matrix of one batch (or image).

    Args:
        pred: predicted class ids, any shape (e.g. (B, H, W)), integer dtype.
        target: ground-truth class ids, same shape; ``ignore_index`` pixels are skipped.
        num_classes: K.
        ignore_index: label value that does not count.

    Returns:
        (K, K) int64 tensor on the inputs' device; entry ``[g, p]`` counts pixels of ground
        truth ``g`` predicted as ``p``. Computed with one ``torch.bincount``.
    """
    if pred.shape != target.shape:
        raise ValueError(f"pred and target must have the same shape, got {tuple(pred.shape)} and {tuple(target.shape)}")
    if num_classes < 1:
        raise ValueError(f"num_classes must be >= 1, got {num_classes}")
    if pred.is_floating_point() or target.is_floating_point():
        raise TypeError("pred and target must hold integer class ids (take argmax of the logits first)")
    pred = pred.reshape(-1).long()
    target = target.reshape(-1).long()
    keep = target != ignore_index
    pred, target = pred[keep], target[keep]
    if target.numel():
        if int(target.min()) < 0 or int(target.max()) >= num_classes:
            raise ValueError(
                f"target holds ids outside 0..{num_classes - 1} (ignore_index={ignore_index}): "
                f"min {int(target.min())}, max {int(target.max())}"
            )
        if int(pred.min()) < 0 or int(pred.max()) >= num_classes:
            raise ValueError(f"pred holds ids outside 0..{num_classes - 1}: min {int(pred.min())}, max {int(pred.max())}")
    idx = target * num_classes + pred
    return torch.bincount(idx, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def iou(cm: Tensor) -> Tensor:
    """Per-class IoU, Eq. (7): ``TP / (TP + FP + FN)``.

    Args:
        cm: (K, K) confusion matrix, rows = ground truth, columns = prediction.

    Returns:
        (K,) float64 tensor; NaN for a class absent from both ground truth and prediction.
    """
    if cm.dim() != 2 or cm.shape[0] != cm.shape[1]:
        raise ValueError(f"cm must be a square (K, K) confusion matrix, got {tuple(cm.shape)}")
    cm = cm.double()
    tp = cm.diagonal()
    denom = cm.sum(0) + cm.sum(1) - tp  # TP + FP + FN
    out = tp / denom
    return torch.where(denom > 0, out, torch.full_like(out, float("nan")))


def miou(cm: Tensor, classes: Sequence[int] | None = None) -> float:
    """Mean IoU (a fraction in 0..1): the NaN-ignoring mean of :func:`iou`.

    Args:
        cm: (K, K) confusion matrix.
        classes: if given, average only over these class ids (e.g. the classes a benchmark
            contains); otherwise over all K classes present in ground truth or prediction.

    Returns:
        Python float; NaN if no selected class appears at all.
    """
    values = iou(cm)
    if classes is not None:
        classes = list(classes)
        bad = [c for c in classes if not 0 <= c < values.numel()]
        if bad:
            raise ValueError(f"classes {bad} are outside 0..{values.numel() - 1}")
        values = values[classes]
    return float(values.nanmean()) if not bool(values.isnan().all()) else float("nan")


def per_class_iou(cm: Tensor, names: Sequence[str] = CITYSCAPES_CLASSES) -> dict[str, float]:
    """``{class name: IoU}`` (fractions, NaN for absent classes) for JSON reports."""
    values = iou(cm)
    if len(names) != values.numel():
        raise ValueError(f"got {len(names)} class names for a {values.numel()}-class confusion matrix")
    return {n: float(v) for n, v in zip(names, values)}


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


def _fmt(v: float) -> str:
    return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{100 * v:.1f}"


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
    cells = [name, backbone] + [_fmt(v) for v in values] + [_fmt(miou_value)]
    return "| " + " | ".join(cells) + " |"


def format_table(rows: Iterable[str], names: Sequence[str] = CITYSCAPES_CLASSES) -> str:
    """Header plus the given :func:`format_table_row` rows as one markdown table."""
    header = "| method | backbone | " + " | ".join(names) + " | mIoU |"
    rule = "|" + "---|" * (len(names) + 3)
    return "\n".join([header, rule, *rows])


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
    :func:`pfrlib.evaluation.evaluate.reference_records`), numbers as text with ``digits`` decimals and
    ``missing`` for NaN, indexed by method: displayed in a notebook it renders as a table."""
    # pandas is optional (not a pfrlib dependency): only this notebook table needs it
    import pandas as pd  # noqa: PLC0415

    frame = pd.DataFrame(list(records)).set_index("method")

    def fmt(v):
        if isinstance(v, str):
            return v
        return missing if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.{digits}f}"

    return frame.map(fmt)
