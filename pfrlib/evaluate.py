"""Evaluation: checkpoint + dataset -> confusion matrix, per-class IoU (Eq. 7), mIoU.

The paper's protocol (AdaptSegNet's evaluation script, which PFR follows): Cityscapes val, the
input resized to 1024x512, the logits upsampled bilinearly to the label's full 2048x1024 with
``align_corners=True`` (``align_corners=False`` is an option), argmax, one confusion matrix over
the whole set, IoU per class, mIoU over the 19 classes. For a dataset that contains only some
classes (SynthStreets), the mean runs over the dataset's ``class_ids``.

Command line::

    python -m pfrlib.evaluate --checkpoint runs/x/checkpoint_last.pt --data synth:target
    python -m pfrlib.evaluate --checkpoint ckpt.pt --data cityscapes:/data/cs:val \\
        --eval-size 512 1024 --out runs/x/eval

prints a Table-1-style table (the paper's rows, shipped with the package as
``pfrlib/reference/table1.csv``, beside ours, each labelled with what it was run on) and writes
``eval.json``.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset, Subset

from .data.transforms import normalize
from .device import resolve_device
from .metrics import CITYSCAPES_CLASSES, confusion_matrix, format_table, format_table_row, iou, miou

__all__ = [
    "EvalResult",
    "predict",
    "evaluate_model",
    "load_model",
    "evaluate_checkpoint",
    "NonFiniteLogitsError",
    "reference_rows",
    "reference_records",
    "default_reference_path",
    "results_table",
    "main",
]


@dataclass
class EvalResult:
    """Accumulated evaluation of one model on one dataset.

    ``confusion`` is (K, K) int64 (rows = ground truth, cols = prediction); ``class_ids`` are the
    classes the mean runs over.
    """

    confusion: Tensor
    class_ids: tuple[int, ...]
    num_images: int = 0
    seconds: float = 0.0
    megapixels: float = 0.0
    names: Sequence[str] = field(default=CITYSCAPES_CLASSES)

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

    Returns:
        :class:`EvalResult`.

    Raises:
        ValueError: ``limit`` < 1; NonFiniteLogitsError: NaN / inf logits (nothing is scored).
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
    if isinstance(data, DataLoader):
        loader = data
    else:
        n = len(data) if limit is None else min(limit, len(data))
        rank, world = shard
        subset = Subset(data, list(range(rank, n, world)))
        loader = DataLoader(subset, batch_size=batch_size, shuffle=False, num_workers=num_workers,
                            collate_fn=_collate)
    was_training = model.training
    model.eval()
    cm = torch.zeros(k, k, dtype=torch.long, device=device)
    n_img, mpix, saved = 0, 0.0, 0
    if save_predictions is not None:
        save_predictions = Path(save_predictions)
        save_predictions.mkdir(parents=True, exist_ok=True)
    if progress:
        from tqdm.auto import tqdm  # noqa: PLC0415

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
            cm += confusion_matrix(pred, labels, k)
            n_img += images.shape[0]
            mpix += images.shape[0] * images.shape[-2] * images.shape[-1] / 1e6
            if save_predictions is not None and saved < max_predictions:
                saved += _save_pngs(pred, labels, save_predictions, saved, max_predictions)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
    finally:
        model.train(was_training)
    seconds = time.perf_counter() - start
    return EvalResult(confusion=cm.cpu(), class_ids=class_ids, num_images=n_img, seconds=seconds,
                      megapixels=mpix)


def _save_pngs(pred: Tensor, labels: Tensor, folder: Path, start: int, limit: int) -> int:
    """Colourised prediction | ground truth PNGs; returns how many were written."""
    from PIL import Image  # noqa: PLC0415

    from .io import atomic_write  # noqa: PLC0415
    from .viz import colorize  # noqa: PLC0415

    count = 0
    for p, y in zip(pred.cpu(), labels.cpu()):
        if start + count >= limit:
            break
        pc, yc = _as_numpy(colorize(p)), _as_numpy(colorize(y))
        import numpy as np  # noqa: PLC0415

        img = Image.fromarray(np.concatenate([pc, yc], axis=1))
        atomic_write(folder / f"pred_{start + count:04d}.png", lambda f: img.save(f, format="PNG"))
        count += 1
    return count


def _as_numpy(x):
    return x.numpy() if isinstance(x, Tensor) else x


# --------------------------------------------------------------------------- checkpoints
def load_model(checkpoint: str | Path, device: str | torch.device = "cpu"):
    """Rebuild the segmentation model of a training checkpoint and load its weights.

    Returns ``(model, config)``; the model is in eval mode on ``device``.
    """
    from .checkpoint import load_checkpoint  # noqa: PLC0415
    from .config import TrainConfig  # noqa: PLC0415
    from .models import build_from_config  # noqa: PLC0415

    state = load_checkpoint(checkpoint)
    if "config" not in state:
        raise ValueError(f"checkpoint {checkpoint} holds no training config; was it written by pfrlib.train?")
    try:
        cfg = TrainConfig.from_dict(state["config"])
    except (ValueError, TypeError, KeyError) as err:
        raise ValueError(f"checkpoint {checkpoint}: its saved config is not valid: {_one_line(err)}") from None
    try:
        model = build_from_config(cfg.model, load_init=False)
    except (ValueError, TypeError, KeyError) as err:
        raise ValueError(f"checkpoint {checkpoint}: the model its saved config describes (arch {cfg.model.arch!r}, "
                         f"{cfg.model.num_classes} classes) cannot be built: {_one_line(err)}") from None
    _check_weights_fit(checkpoint, state["model"], model, cfg)
    model.load_state_dict(state["model"])
    return model.to(device).eval(), cfg


def _one_line(err: BaseException) -> str:
    text = str(err.args[0]) if isinstance(err, KeyError) and err.args else str(err)
    return " ".join(text.split()) or type(err).__name__


def _check_weights_fit(checkpoint: str | Path, weights: Any, model: nn.Module, cfg: Any) -> None:
    """One-line ``ValueError`` when a checkpoint's weights do not fit the model its config describes.

    (``load_state_dict`` would raise a ``RuntimeError`` listing every size mismatch on its own
    line.) The message names the checkpoint, the config's arch and class count and, where the
    classifier's shape shows it, the class count the weights were trained for.
    """
    where = (f"checkpoint {checkpoint}: its weights do not fit the model its saved config describes "
             f"(arch {cfg.model.arch!r}, {cfg.model.num_classes} classes)")
    if not isinstance(weights, dict):
        raise ValueError(f"{where}: 'model' holds a {type(weights).__name__}, not a state_dict")
    own = model.state_dict()
    missing = [k for k in own if k not in weights]
    unexpected = [k for k in weights if k not in own]
    mismatched = [(k, tuple(weights[k].shape), tuple(v.shape)) for k, v in own.items()
                  if k in weights and isinstance(weights[k], Tensor) and tuple(weights[k].shape) != tuple(v.shape)]
    not_tensors = [k for k in own if k in weights and not isinstance(weights[k], Tensor)]
    if not (missing or unexpected or mismatched or not_tensors):
        return
    parts = []
    k_cfg = int(cfg.model.num_classes)
    trained_k = sorted({saved[0] for _, saved, want in mismatched
                        if saved and want and want[0] == k_cfg and saved[0] != k_cfg and saved[1:] == want[1:]})
    if trained_k:
        parts.append(f"the weights predict {trained_k[0]} classes")
    if mismatched:
        name, saved, want = mismatched[0]
        parts.append(f"{len(mismatched)} shape mismatch(es), e.g. {name}: {list(saved)} in the checkpoint, "
                     f"{list(want)} in the model")
    if missing:
        parts.append(f"{len(missing)} missing entr{'y' if len(missing) == 1 else 'ies'} (e.g. {missing[0]})")
    if unexpected:
        parts.append(f"{len(unexpected)} unexpected entr{'y' if len(unexpected) == 1 else 'ies'} (e.g. {unexpected[0]})")
    if not_tensors:
        parts.append(f"{len(not_tensors)} non-tensor entr{'y' if len(not_tensors) == 1 else 'ies'} (e.g. {not_tensors[0]})")
    raise ValueError(f"{where}: " + "; ".join(parts))


def evaluate_checkpoint(
    checkpoint: str | Path,
    data: str,
    *,
    out: Optional[str | Path] = None,
    eval_size: Optional[Sequence[int]] = None,
    align_corners: bool = True,
    device: str = "cpu",
    batch_size: int = 1,
    num_workers: int = 0,
    limit: Optional[int] = None,
    bf16: bool = False,
    save_predictions: int = 0,
    progress: bool = False,
) -> tuple[EvalResult, dict[str, Any]]:
    """Evaluate a training checkpoint on the dataset named by ``data`` (a spec).

    ``eval_size`` (H, W) resizes the input (default: the run's ``eval_size``); the logits are
    upsampled to each label's full size. Writes ``out/eval.json`` when ``out`` is given.

    Returns ``(result, report)``; ``report`` is the content of ``eval.json``.

    Raises:
        ValueError (one line naming the checkpoint or the option): a checkpoint that is not a
        readable pfrlib checkpoint, weights that do not fit its saved config, a class count that
        differs from the data's, non-finite logits, ``device`` ``cuda`` without CUDA, ``limit`` < 1.
        FileNotFoundError: a missing checkpoint or dataset.
    """
    from .data.transforms import EvalTransform  # noqa: PLC0415
    from .io import write_json  # noqa: PLC0415
    from .data import build_dataset  # noqa: PLC0415

    device = str(resolve_device(device))
    for name, value, low in (("limit", limit, 1), ("batch_size", batch_size, 1), ("num_workers", num_workers, 0),
                             ("save_predictions", save_predictions, 0)):
        if value is None and name == "limit":
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError(f"{name}: must be an integer >= {low}, got {value!r}")
    if eval_size is not None and (len(eval_size) != 2 or min(int(v) for v in eval_size) < 1):
        raise ValueError(f"eval_size: must be two positive integers H W, got {list(eval_size)}")
    model, cfg = load_model(checkpoint, device)
    size = tuple(eval_size) if eval_size is not None else cfg.data.eval_size
    ds = build_dataset(data, "val", EvalTransform(size=size, normalize=model.normalization), cfg.data, "data")
    k = int(getattr(model, "num_classes", cfg.model.num_classes))
    ds_k = getattr(ds, "num_classes", k)
    ids = tuple(getattr(ds, "class_ids", ()) or ())
    if ds_k != k or (ids and max(ids) >= k):
        raise ValueError(
            f"checkpoint {checkpoint} predicts {k} classes but data {data!r} has {ds_k} "
            f"(class ids up to {max(ids) if ids else ds_k - 1}); evaluate it on data with the classes it was trained on")
    pred_dir = Path(out) / "predictions" if (out is not None and save_predictions > 0) else None
    try:
        result = evaluate_model(
            model, ds, device=device, batch_size=batch_size, num_workers=num_workers,
            align_corners=align_corners, limit=limit, bf16=bf16, progress=progress,
            save_predictions=pred_dir, max_predictions=save_predictions,
        )
    except NonFiniteLogitsError as err:
        raise NonFiniteLogitsError(
            f"checkpoint {checkpoint}: {err} of {data!r}; its weights have diverged, so nothing was scored: "
            f"evaluate an earlier checkpoint") from None
    report = {
        "checkpoint": str(checkpoint),
        "data": data,
        "method": cfg.loss.method,
        "arch": cfg.model.arch,
        "trained_on": f"{cfg.data.source} -> {cfg.data.target}",
        "eval_size": list(size) if size is not None else None,
        "align_corners": align_corners,
        **result.to_dict(),
    }
    if out is not None:
        write_json(Path(out) / "eval.json", report)
    return result, report


# --------------------------------------------------------------------------- Table 1
#: How the paper's rows are labelled in a side-by-side table.
PAPER_LABEL = "paper Table 1; GTA5 -> Cityscapes val"


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


def _existing_file(value: str) -> str:
    """argparse type for ``--reference``: the file must exist."""
    if not Path(value).is_file():
        raise argparse.ArgumentTypeError(f"Table 1 reference file not found: {value}")
    return value


def main(argv: Optional[list[str]] = None) -> int:
    """``python -m pfrlib.evaluate``: see the module docstring."""
    p = argparse.ArgumentParser(prog="python -m pfrlib.evaluate", description=__doc__.split("\n\n")[0])
    p.add_argument("--checkpoint", required=True, help="a checkpoint written by pfrlib.train")
    p.add_argument("--data", required=True, help="dataset spec, e.g. synth:target, folder:/d, cityscapes:/cs:val")
    p.add_argument("--out", default=None, help="directory for eval.json (and predictions)")
    p.add_argument("--eval-size", type=int, nargs=2, metavar=("H", "W"), default=None,
                   help="input resize (paper: 512 1024); default: the run's eval_size")
    p.add_argument("--align-corners", action=argparse.BooleanOptionalAction, default=True,
                   help="upsampling of logits to the label size (AdaptSegNet: True)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--batch-size", type=int, default=1)
    p.add_argument("--num-workers", type=int, default=0)
    p.add_argument("--limit", type=int, default=None, help="evaluate only the first N images")
    p.add_argument("--bf16", action="store_true", help="bf16 autocast (GPU)")
    p.add_argument("--save-predictions", type=int, default=0, metavar="N",
                   help="write N colourised prediction|label PNGs under OUT/predictions")
    p.add_argument("--reference", default=None, type=_existing_file,
                   help="Table 1 CSV (default: the paper's rows shipped as pfrlib/reference/table1.csv)")
    p.add_argument("--no-reference", action="store_true", help="print our row only")
    args = p.parse_args(argv)
    try:
        _, report = evaluate_checkpoint(
            args.checkpoint, args.data, out=args.out, eval_size=args.eval_size,
            align_corners=args.align_corners, device=args.device, batch_size=args.batch_size,
            num_workers=args.num_workers, limit=args.limit, bf16=args.bf16,
            save_predictions=args.save_predictions, progress=True,
        )
    except (ValueError, FileNotFoundError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(results_table(report, args.reference, include_reference=not args.no_reference))
    print(f"\nmIoU {100 * report['miou']:.2f} over {len(report['class_ids'])} classes, "
          f"{report['num_images']} images, {report['megapixels_per_s']:.2f} Mpx/s")
    if args.out:
        print(f"wrote {Path(args.out) / 'eval.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
