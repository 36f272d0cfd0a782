"""Scoring a model on a dataset: argmax predictions at the label's size, one confusion matrix, IoU.

The paper's protocol (AdaptSegNet's evaluation script, which PFR follows): the input resized
(Cityscapes val: 1024x512), the logits upsampled bilinearly to the label's full size (2048x1024)
with ``align_corners=True`` (``align_corners=False`` is an option), argmax, one confusion matrix
over the whole set, IoU per class (Eq. 7, :func:`pfrlib.paper.metrics.iou`), mIoU over the classes the
dataset holds (``class_ids``: the 19 Cityscapes classes, fewer for SynthStreets).

* :func:`predict` - (B, 3, h, w) images -> (B, H, W) trainIds; refuses NaN / inf logits.
* :func:`evaluate_model` - a dataset -> :class:`EvalResult` (the training loop's validation and
  ``python -m pfrlib.evaluate`` both call it); ``on_prediction`` receives each item's
  prediction (e.g. to write it in the Cityscapes benchmark's format); ``per_image`` keeps each
  image's confusion matrix.
* :func:`score_every_image` - the same over the processes of a ``torchrun`` run, each image's
  matrix put back in the dataset's order; :func:`score_on_test` - a run's last model and its
  checkpoint chosen on val on the target test set, as ``final.json`` and
  :data:`pfrlib.engine.record.TEST_CONFUSION` keep them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset, Subset
from tqdm.auto import tqdm

from pfrlib.data.labels import COLOR_LUT
from pfrlib.data.spec import parse_spec
from pfrlib.data.transforms import normalize
from pfrlib.engine.record import PerImageConfusion
from pfrlib.io import atomic_write
from pfrlib.paper.metrics import CITYSCAPES_CLASSES, confusion_matrices, confusion_matrix, iou, miou

__all__ = ["EvalResult", "predict", "evaluate_model", "score_every_image", "score_on_test", "NonFiniteLogitsError"]


@dataclass
class EvalResult:
    """Accumulated evaluation of one model on one dataset.

    ``confusion`` is (K, K) int64 (rows = ground truth, cols = prediction); ``class_ids`` are the
    classes the mean runs over. With ``per_image`` scoring, ``per_image`` is (n, K, K) int64, one
    matrix per image scored (their sum is ``confusion``) and ``indices`` their items' indices in
    the dataset; otherwise None and ``()``.
    """

    confusion: Tensor
    class_ids: tuple[int, ...]
    num_images: int = 0
    seconds: float = 0.0
    megapixels: float = 0.0
    names: Sequence[str] = field(default=CITYSCAPES_CLASSES)
    per_image: Optional[Tensor] = None
    indices: tuple[int, ...] = ()

    @property
    def iou(self) -> Tensor:
        """(K,) per-class IoU, NaN for classes absent from ground truth and prediction."""
        return iou(self.confusion)

    @property
    def miou(self) -> float:
        """mIoU over ``class_ids`` (fraction 0..1)."""
        return miou(self.confusion, list(self.class_ids) or None)

    @property
    def megapixels_per_s(self) -> float:
        """Input megapixels processed per second (model + upsampling + confusion)."""
        return self.megapixels / self.seconds if self.seconds > 0 else float("nan")

    def per_class_iou(self) -> dict[str, Optional[float]]:
        """``{class name: IoU}``; classes outside ``class_ids`` (or absent) are ``None``."""
        values = self.iou.tolist()
        names = list(self.names) if len(self.names) == len(values) else [str(i) for i in range(len(values))]
        keep = set(self.class_ids) if self.class_ids else set(range(len(values)))
        return {n: (v if i in keep and v == v else None) for i, (n, v) in enumerate(zip(names, values))}

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary (mIoU and IoUs as fractions)."""
        return {
            "miou": self.miou,
            "per_class_iou": self.per_class_iou(),
            "class_ids": list(self.class_ids),
            "num_images": self.num_images,
            "megapixels_per_s": self.megapixels_per_s,
        }


@torch.no_grad()
def predict(model: nn.Module, images: Tensor, out_size: Sequence[int] | None = None,
            align_corners: bool = True, bf16: bool = False) -> Tensor:
    """Argmax prediction (B, H, W) for normalised images (B, 3, h, w) (uint8 images are normalised
    here with ``model.normalization``).

    The logits are upsampled bilinearly to ``out_size`` (the label size; default: the input
    size) before the argmax, ``align_corners=True`` as AdaptSegNet's evaluation.

    Raises:
        NonFiniteLogitsError: a logit is NaN or infinite (a diverged model), instead of letting
            the argmax turn NaN into class 0 and score it.
    """
    if not images.is_floating_point():
        images = normalize(images, model.normalization)
    ctx = torch.autocast(device_type=images.device.type, dtype=torch.bfloat16) if bf16 else _null()
    with ctx:
        logits = model(images).logits
    logits = logits.float()
    finite = torch.isfinite(logits)
    if not bool(finite.all()):  # argmax would score NaN as class 0: refuse instead
        raise NonFiniteLogitsError(
            f"the model produced non-finite logits ({int((~finite).sum())} of {logits.numel()} values NaN or inf)")
    size = tuple(out_size) if out_size is not None else tuple(images.shape[-2:])
    if tuple(logits.shape[-2:]) != size:
        logits = F.interpolate(logits, size=size, mode="bilinear", align_corners=align_corners)
    return logits.argmax(1)


class NonFiniteLogitsError(ValueError):
    """The model's logits hold NaN or inf: its weights have diverged; nothing is scored."""


class _null:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def _collate(batch):
    """Stack images; keep labels stacked when sizes agree (they do within a benchmark)."""
    images = torch.stack([b[0] for b in batch])
    labels = torch.stack([b[1] for b in batch])
    return images, labels


@torch.no_grad()
def evaluate_model(
    model: nn.Module,
    data: Dataset | DataLoader,
    *,
    num_classes: Optional[int] = None,
    class_ids: Optional[Iterable[int]] = None,
    device: str | torch.device | None = None,
    batch_size: int = 1,
    num_workers: int = 0,
    align_corners: bool = True,
    limit: Optional[int] = None,
    bf16: bool = False,
    channels_last: bool = False,
    shard: tuple[int, int] = (0, 1),
    progress: bool = False,
    save_predictions: Optional[str | Path] = None,
    max_predictions: int = 8,
    on_prediction: Optional[Callable[[int, Tensor], None]] = None,
    per_image: bool = False,
) -> EvalResult:
    """Confusion matrix of ``model`` over a dataset of ``(normalised image, label)`` items.

    Args:
        model: a segmentation model returning ``SegmentationOutput``; put in eval mode for the
            call and restored afterwards.
        data: a dataset (batched here) or a ready DataLoader.
        num_classes: K (default: ``model.num_classes``).
        class_ids: the classes mIoU averages over (default: ``data.class_ids`` if present).
        limit: evaluate only the first ``limit`` items (an integer >= 1).
        shard: ``(rank, world)``; this process evaluates items ``rank::world`` (the caller sums
            the confusion matrices).
        save_predictions: directory for colourised prediction PNGs (the first ``max_predictions``).
        on_prediction: called as ``on_prediction(index, pred)`` for every item evaluated, with its
            index in ``data`` and its (H, W) int64 CPU tensor of predicted trainIds at the label's
            size (``data`` must be a dataset, not a DataLoader).
        per_image: also keep each image's confusion matrix (:attr:`EvalResult.per_image`: on the
            CPU, 8 K^2 bytes an image), e.g. to bootstrap over test images.

    Returns:
        :class:`EvalResult`.

    Raises:
        ValueError: ``limit`` < 1, ``on_prediction`` with a DataLoader; NonFiniteLogitsError: NaN /
        inf logits (nothing is scored).
    """
    k = int(num_classes if num_classes is not None else getattr(model, "num_classes"))
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise ValueError(f"limit: must be an integer >= 1 (or None for every image), got {limit!r}")
    if device is None:
        device = next(model.parameters()).device
    device = torch.device(device)
    if class_ids is None:
        class_ids = getattr(data, "class_ids", None) if not isinstance(data, DataLoader) else getattr(data.dataset, "class_ids", None)
    class_ids = tuple(int(c) for c in class_ids) if class_ids else tuple(range(k))
    indices: list[int] = []
    if isinstance(data, DataLoader):
        if on_prediction is not None:
            raise ValueError("on_prediction: needs a dataset (item indices), not a DataLoader")
        loader = data
    else:
        n = len(data) if limit is None else min(limit, len(data))
        rank, world = shard
        indices = list(range(rank, n, world))
        subset = Subset(data, indices)
        loader = DataLoader(subset, batch_size=batch_size, shuffle=False, num_workers=num_workers,
                            collate_fn=_collate)
    was_training = model.training
    model.eval()
    cm = torch.zeros(k, k, dtype=torch.long, device=device)
    matrices: list[Tensor] = []
    n_img, mpix, saved = 0, 0.0, 0
    if save_predictions is not None:
        save_predictions = Path(save_predictions)
        save_predictions.mkdir(parents=True, exist_ok=True)
    if progress:
        loader = tqdm(loader, desc="evaluate", mininterval=1.0)
    start = time.perf_counter()
    try:
        for images, labels in loader:
            images = images.to(device, non_blocking=True)
            if not images.is_floating_point():  # uint8 items: normalised on the device
                images = normalize(images, model.normalization)
            if channels_last:
                images = images.contiguous(memory_format=torch.channels_last)
            labels = labels.to(device, non_blocking=True).long()
            try:
                pred = predict(model, images, labels.shape[-2:], align_corners=align_corners, bf16=bf16)
            except NonFiniteLogitsError as err:
                raise NonFiniteLogitsError(f"{err} on image(s) {n_img}..{n_img + images.shape[0] - 1}") from None
            if per_image:
                each = confusion_matrices(pred, labels, k)
                cm += each.sum(0)
                matrices.append(each.cpu())
            else:
                cm += confusion_matrix(pred, labels, k)
            n_img += images.shape[0]
            mpix += images.shape[0] * images.shape[-2] * images.shape[-1] / 1e6
            if save_predictions is not None and saved < max_predictions:
                saved += _save_pngs(pred, labels, save_predictions, saved, max_predictions)
            if on_prediction is not None:
                for j, p in enumerate(pred.cpu()):
                    on_prediction(indices[n_img - images.shape[0] + j], p)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
    finally:
        model.train(was_training)
    seconds = time.perf_counter() - start
    kept = (torch.cat(matrices) if matrices else torch.zeros(0, k, k, dtype=torch.long)) if per_image else None
    return EvalResult(confusion=cm.cpu(), class_ids=class_ids, num_images=n_img, seconds=seconds,
                      megapixels=mpix, per_image=kept,
                      indices=tuple(indices or range(n_img)) if per_image else ())


def score_every_image(model: nn.Module, data: Dataset, reduce: Optional[Callable[[Tensor], Tensor]] = None,
                      **options: Any) -> EvalResult:
    """:func:`evaluate_model` with each image's confusion matrix, on this process's share of
    ``data`` (``options["shard"]``), then every process's share put together on each of them.

    Args:
        model, data: as :func:`evaluate_model` (a dataset: every item is scored).
        reduce: sums a tensor over the processes in place (under ``torchrun``
            :func:`pfrlib.engine.distributed.all_reduce_sum`; None for one process); the matrices
            travel on the model's device.
        **options: :func:`evaluate_model`'s keyword arguments (``device``, ``shard``, ...).

    Returns:
        :class:`EvalResult` of the whole set: ``per_image`` (N, K, K) in the dataset's order,
        ``confusion`` their sum, ``num_images`` N (time and megapixels: this process's share).
    """
    res = evaluate_model(model, data, per_image=True, **options)
    k = res.confusion.shape[0]
    device = options.get("device") or next(model.parameters()).device
    each = torch.zeros(len(data), k, k, dtype=torch.long, device=device)
    each[list(res.indices)] = res.per_image.to(device)  # this process's images, the others' left 0
    if reduce is not None:
        reduce(each)
    res.per_image = each.cpu()
    res.confusion, res.num_images, res.indices = res.per_image.sum(0), len(data), tuple(range(len(data)))
    return res


def score_on_test(model: nn.Module, chosen: Optional[nn.Module], test: tuple[str, Dataset],
                  reduce: Optional[Callable[[Tensor], Tensor]] = None,
                  **options: Any) -> tuple[dict[str, Any], Optional[dict[str, Any]], PerImageConfusion]:
    """A run's last ``model`` and the checkpoint it ``chosen`` on target val (None without one) on
    every image of its target test set ``test`` = ``(spec, dataset)`` (:func:`score_every_image`,
    ``reduce`` and ``options`` as there).

    Returns:
        ``final.json``'s ``target_test`` record of each (the :meth:`EvalResult.to_dict` keys with
        ``spec`` and ``split``; None for no ``chosen``) and both models' per-image matrices.
    """
    spec, data = test
    records: list[Optional[dict[str, Any]]] = []
    matrices: list[Optional[np.ndarray]] = []
    for m in (model, chosen):
        res = None if m is None else score_every_image(m, data, reduce, **options)
        records.append(None if res is None else {"spec": spec, "split": parse_spec(spec)[2] or "test", **res.to_dict()})
        matrices.append(None if res is None else res.per_image.numpy())
    kept = PerImageConfusion(last=matrices[0], class_ids=tuple(records[0]["class_ids"]), spec=spec,
                             best_on_val=matrices[1])
    return records[0], records[1], kept


def _save_pngs(pred: Tensor, labels: Tensor, folder: Path, start: int, limit: int) -> int:
    """Colourised prediction | ground truth PNGs (``pred_NNNN.png``); returns how many were written."""
    count = 0
    for p, y in zip(pred.cpu().numpy(), labels.cpu().numpy()):
        if start + count >= limit:
            break
        # trainIds 0..18 in their Cityscapes colours; 255 (ignore) and any other value black
        pc, yc = COLOR_LUT[np.clip(p, 0, 255)], COLOR_LUT[np.where((y < 0) | (y > 255), 255, y)]
        img = Image.fromarray(np.concatenate([pc, yc], axis=1))
        atomic_write(folder / f"pred_{start + count:04d}.png", lambda f, img=img: img.save(f, format="PNG"))
        count += 1
    return count
