"""Evaluation of a trained checkpoint: ``python -m pfrlib.evaluate``.

The protocol (AdaptSegNet's evaluation script, which PFR follows) is :mod:`pfrlib.scoring`'s:
Cityscapes val, the input resized to 1024x512, the logits upsampled bilinearly to the label's full
2048x1024 with ``align_corners=True`` (``align_corners=False`` is an option), argmax, one
confusion matrix over the whole set, IoU per class (Eq. 7), mIoU over the 19 classes. For a
dataset that contains only some classes (SynthStreets), the mean runs over its ``class_ids``.

Command line::

    python -m pfrlib.evaluate --checkpoint runs/x/checkpoint_last.pt --data synth:target
    python -m pfrlib.evaluate --checkpoint ckpt.pt --data cityscapes:/data/cs:val \\
        --eval-size 512 1024 --out runs/x/eval --save-results runs/x/eval/results

prints a Table-1-style table (the paper's rows, shipped with the package as
``pfrlib/reference/table1.csv``, beside ours, each labelled with what it was run on) and, with
``--out``, writes ``eval.json`` and the same table as ``table.md``. ``--save-results DIR`` writes
one label-id PNG per Cityscapes image in the benchmark's format
(:mod:`pfrlib.data.cityscapes_results`), for cityscapesscripts' evaluator or the server.

The pieces live in their own modules and are re-exported here (their old home):
:mod:`pfrlib.scoring` (``predict``, ``evaluate_model``, ``EvalResult``,
``NonFiniteLogitsError``), :mod:`pfrlib.trained_model` (``load_model``) and
:mod:`pfrlib.table1` (``reference_rows``, ``reference_records``, ``results_table``, ...).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, Optional, Sequence

import torch

from .data import Cityscapes, build_dataset
from .data.cityscapes_results import CityscapesResultWriter
from .data.transforms import EvalTransform
from .device import resolve_device
from .io import atomic_write, write_json
from .scoring import EvalResult, NonFiniteLogitsError, evaluate_model, predict
from .table1 import PAPER_LABEL, default_reference_path, reference_records, reference_rows, results_table
from .trained_model import load_model

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
    "PAPER_LABEL",
    "main",
]


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
    save_results: Optional[str | Path] = None,
) -> tuple[EvalResult, dict[str, Any]]:
    """Evaluate a training checkpoint on the dataset named by ``data`` (a spec).

    ``eval_size`` (H, W) resizes the input (default: the run's ``eval_size``); the logits are
    upsampled to each label's full size. Writes ``out/eval.json`` when ``out`` is given.
    ``save_results`` (a new or empty folder; Cityscapes data only) receives one label-id PNG per
    evaluated image in the benchmark's format (:mod:`pfrlib.data.cityscapes_results`).

    Returns ``(result, report)``; ``report`` is the content of ``eval.json``.

    Raises:
        ValueError (one line naming the checkpoint or the option): a checkpoint that is not a
        readable pfrlib checkpoint, weights that do not fit its saved config, a class count that
        differs from the data's, non-finite logits, ``device`` ``cuda`` without CUDA, ``limit`` < 1,
        ``save_results`` on non-Cityscapes data or a folder that already holds files.
        FileNotFoundError: a missing checkpoint or dataset.
    """
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
    writer = None
    if save_results is not None:
        if not isinstance(ds, Cityscapes):
            raise ValueError(f"save_results: writes the Cityscapes benchmark's format; data {data!r} is not a "
                             f"Cityscapes split (use cityscapes:/path:val)")
        writer = CityscapesResultWriter(save_results, [img for img, _ in ds.items])
    pred_dir = Path(out) / "predictions" if (out is not None and save_predictions > 0) else None
    try:
        result = evaluate_model(
            model, ds, device=device, batch_size=batch_size, num_workers=num_workers,
            align_corners=align_corners, limit=limit, bf16=bf16, progress=progress,
            save_predictions=pred_dir, max_predictions=save_predictions, on_prediction=writer,
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
    if writer is not None:
        report["results"] = {"folder": str(save_results), "files": writer.written, "format": "cityscapes_label_ids"}
    if out is not None:
        write_json(Path(out) / "eval.json", report)
    return result, report


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
    p.add_argument("--out", default=None, help="directory for eval.json, table.md (and predictions)")
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
    p.add_argument("--save-results", default=None, metavar="DIR",
                   help="write one label-id PNG per Cityscapes image to DIR (new or empty), named and encoded "
                        "as cityscapesscripts' evalPixelLevelSemanticLabeling and the benchmark server expect")
    p.add_argument("--reference", default=None, type=_existing_file,
                   help="Table 1 CSV (default: the paper's rows shipped as pfrlib/reference/table1.csv)")
    p.add_argument("--no-reference", action="store_true", help="print our row only")
    args = p.parse_args(argv)
    try:
        _, report = evaluate_checkpoint(
            args.checkpoint, args.data, out=args.out, eval_size=args.eval_size,
            align_corners=args.align_corners, device=args.device, batch_size=args.batch_size,
            num_workers=args.num_workers, limit=args.limit, bf16=args.bf16,
            save_predictions=args.save_predictions, progress=True, save_results=args.save_results,
        )
    except (ValueError, FileNotFoundError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    table = results_table(report, args.reference, include_reference=not args.no_reference)
    print(table)
    print(f"\nmIoU {100 * report['miou']:.2f} over {len(report['class_ids'])} classes, "
          f"{report['num_images']} images, {report['megapixels_per_s']:.2f} Mpx/s")
    if args.out:
        atomic_write(Path(args.out) / "table.md", lambda f: f.write((table + "\n").encode()))
        print(f"wrote {Path(args.out) / 'eval.json'} and {Path(args.out) / 'table.md'}")
    if args.save_results:
        print(f"wrote {report['results']['files']} label-id PNG(s) in the Cityscapes benchmark format to "
              f"{args.save_results}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
