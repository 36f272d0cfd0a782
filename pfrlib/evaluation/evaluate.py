"""Evaluation of a trained checkpoint (the logic of ``python -m pfrlib.evaluate``).

The protocol (AdaptSegNet's evaluation script, which PFR follows) is :mod:`pfrlib.engine.scoring`'s:
Cityscapes val, the input resized to 1024x512, the logits upsampled bilinearly to the label's full
2048x1024 with ``align_corners=True`` (``align_corners=False`` is an option), argmax, one
confusion matrix over the whole set, IoU per class (Eq. 7), mIoU over the 19 classes. For a
dataset that contains only some classes (SynthStreets), the mean runs over its ``class_ids``.

The pieces it uses live in their own modules: :mod:`pfrlib.engine.scoring` (``predict``,
``evaluate_model``, ``EvalResult``, ``NonFiniteLogitsError``), :mod:`pfrlib.engine.checkpoint`
(``load_model``) and :mod:`pfrlib.evaluation.tables` (``reference_rows``, ``reference_records``,
``results_table``, ...).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, Optional, Sequence

import torch

from pfrlib.data.real import Cityscapes
from pfrlib.data.spec import build_dataset
from pfrlib.data.cityscapes_results import CityscapesResultWriter, check_results_folder
from pfrlib.data.transforms import EvalTransform
from pfrlib.config.device import resolve_device
from pfrlib.io import check_writable_folder, write_json
from pfrlib.engine.scoring import EvalResult, NonFiniteLogitsError, evaluate_model
from pfrlib.engine.checkpoint import load_model

__all__ = ["evaluate_checkpoint"]


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
        OSError: ``out`` or ``save_results`` cannot be written (checked before the model is loaded).
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
    # where the results go is checked before the model is loaded: a refusal costs no evaluation
    if out is not None:
        check_writable_folder(out, "out", "a folder that can be written (choose another --out)")
    if save_results is not None:
        check_results_folder(save_results)
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
