"""Segmentation metrics, Eq. (7): the confusion matrix, IoU per class and mIoU.

Everything is computed from one K x K confusion matrix (rows = ground truth, columns =
prediction), accumulated over a whole validation set and only then turned into IoU: averaging
per-image IoUs would give a different (and non-standard) number. Tables of these numbers (the
paper's Table 1 beside ours, the ablation ladder) are :mod:`pfrlib.evaluation.tables`.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor

from pfrlib.data.labels import CLASS_NAMES

__all__ = ["CITYSCAPES_CLASSES", "PAPER_GAIN_CLASSES", "confusion_matrix", "confusion_matrices", "iou", "miou",
           "per_class_iou"]

#: The 19 Cityscapes evaluation classes in trainId order (0..18), as in the paper's Table 1: the
#: names of :mod:`pfrlib.data.labels` (one table, from cityscapesScripts), not a typed copy.
CITYSCAPES_CLASSES: tuple[str, ...] = CLASS_NAMES

#: The eight classes the paper says its gain "primarily comes from" (Sec. 4.2, reading Table 1:
#: "road", "building", "wall", "fence", "terrain", "rider", "truck" and "bus"), in trainId order:
#: what claim (b) marks (docs/protocol.md).
PAPER_GAIN_CLASSES: tuple[str, ...] = ("road", "building", "wall", "fence", "terrain", "rider", "truck", "bus")


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
    pred, target, _ = _labelled_pixels(pred, target, num_classes, ignore_index, images=False)
    idx = target * num_classes + pred
    return torch.bincount(idx, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def confusion_matrices(pred: Tensor, target: Tensor, num_classes: int, ignore_index: int = 255) -> Tensor:
    """One confusion matrix per image of a batch: what a bootstrap over test images resamples.

    Args:
        pred, target: (B, ...) class ids of B images (e.g. (B, H, W)), as :func:`confusion_matrix`.
        num_classes: K.
        ignore_index: label value that does not count.

    Returns:
        (B, K, K) int64 tensor; ``[i]`` is :func:`confusion_matrix` of image ``i`` alone, so the sum
        over images is the batch's matrix. Computed with one ``torch.bincount``.
    """
    if pred.dim() < 1:
        raise ValueError("pred and target must have a leading image dimension (B, ...)")
    b, k = pred.shape[0], num_classes
    pred, target, image = _labelled_pixels(pred, target, num_classes, ignore_index, images=True)
    idx = (image * k + target) * k + pred
    return torch.bincount(idx, minlength=b * k * k).reshape(b, k, k)


def _labelled_pixels(pred: Tensor, target: Tensor, num_classes: int, ignore_index: int,
                     images: bool) -> tuple[Tensor, Tensor, Tensor | None]:
    """The labelled pixels' predictions, labels and (``images``) the index along dimension 0 of
    the image each is in, flattened and checked: same shapes, integer ids, ids in ``0..K-1``."""
    if pred.shape != target.shape:
        raise ValueError(f"pred and target must have the same shape, got {tuple(pred.shape)} and {tuple(target.shape)}")
    if num_classes < 1:
        raise ValueError(f"num_classes must be >= 1, got {num_classes}")
    if pred.is_floating_point() or target.is_floating_point():
        raise TypeError("pred and target must hold integer class ids (take argmax of the logits first)")
    image = None
    if images:  # pixel j of the flattened batch is in image j // (pixels per image)
        image = torch.arange(pred.numel(), device=pred.device) // max(pred[0].numel(), 1)
    pred = pred.reshape(-1).long()
    target = target.reshape(-1).long()
    keep = target != ignore_index
    pred, target = pred[keep], target[keep]
    image = image[keep] if image is not None else None
    if target.numel():
        if int(target.min()) < 0 or int(target.max()) >= num_classes:
            raise ValueError(
                f"target holds ids outside 0..{num_classes - 1} (ignore_index={ignore_index}): "
                f"min {int(target.min())}, max {int(target.max())}"
            )
        if int(pred.min()) < 0 or int(pred.max()) >= num_classes:
            raise ValueError(f"pred holds ids outside 0..{num_classes - 1}: min {int(pred.min())}, max {int(pred.max())}")
    return pred, target, image


def iou(cm: Tensor) -> Tensor:
    """Per-class IoU, Eq. (7): ``TP / (TP + FP + FN)``.

    Args:
        cm: (K, K) confusion matrix, rows = ground truth, columns = prediction, or a stack
            (..., K, K) of them (a bootstrap's resampled matrices).

    Returns:
        (K,) (or (..., K)) float64 tensor; NaN for a class absent from both ground truth and prediction.
    """
    if cm.dim() < 2 or cm.shape[-2] != cm.shape[-1]:
        raise ValueError(f"cm must be a square (K, K) confusion matrix or a stack of them, got {tuple(cm.shape)}")
    cm = cm.double()
    tp = cm.diagonal(dim1=-2, dim2=-1)
    denom = cm.sum(-2) + cm.sum(-1) - tp  # TP + FP + FN
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
    if cm.dim() != 2:
        raise ValueError(f"cm must be one (K, K) confusion matrix, got shape {tuple(cm.shape)}")
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
