"""Finished runs for the tests of the results files, without training: a run folder with the
``final.json`` (:class:`pfrlib.engine.record.FinalRecord`), ``config.json`` and per-image test
confusion matrices (:class:`pfrlib.engine.record.PerImageConfusion`) the real writers write, the
test scores computed from those matrices by Eq. (7) as a run computes them."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch

from pfrlib.engine.record import FINAL_JSON, TEST_CONFUSION, FinalRecord, PerImageConfusion
from pfrlib.engine.rundir import CONFIG_FILE
from pfrlib.io import write_json
from pfrlib.paper.metrics import CITYSCAPES_CLASSES, miou, per_class_iou

#: The classes of the fake benchmark (SynthStreets-19 has all 19).
CLASSES = len(CITYSCAPES_CLASSES)
ITERATIONS = 10
BENCHMARK = {"synth_classes": 19, "synth_size": [64, 128], "synth_seed": 0}


def _scores(matrices: np.ndarray) -> dict:
    """A ``target_test``-like record of (N, K, K) per-image matrices: mIoU and per-class IoU of their sum."""
    cm = torch.from_numpy(matrices.sum(0))
    per_class = {k: (None if math.isnan(v) else v) for k, v in per_class_iou(cm).items()}
    return {"spec": "synth:target:test", "split": "test", "miou": miou(cm, range(CLASSES)),
            "per_class_iou": per_class, "class_ids": list(range(CLASSES)), "num_images": int(matrices.shape[0])}


def write_run(folder: Path, method: str, seed: int, skill: float, images: int = 6, best: bool = True) -> Path:
    """A finished ``cpu``-preset run of ``method`` and ``seed`` in ``folder``, scored on ``images``
    test images: the larger ``skill`` (0..1), the more of each image's pixels on the diagonal.
    ``best``: it also kept a checkpoint chosen on val."""
    rng = np.random.default_rng(1000 * seed + len(method))
    folder.mkdir(parents=True)
    noise = rng.integers(0, 6, (images, CLASSES, CLASSES))
    last = noise + (rng.integers(10, 40, (images, 1, 1)) * skill * np.eye(CLASSES)).astype(np.int64)
    chosen = last + rng.integers(0, 3, last.shape) if best else None
    val = {"spec": "synth:target:val", "miou": skill * 0.9,
           "per_class_iou": {name: skill * 0.9 for name in CITYSCAPES_CLASSES}}
    source = {"spec": "synth:source:val", "miou": 0.8, "per_class_iou": {name: 0.8 for name in CITYSCAPES_CLASSES}}
    test = _scores(last)
    best_on_val = None if not best else {"iteration": 5, "target_miou": skill, "source_miou": 0.8,
                                         "selected_on": "synth:target:val", "target_test": _scores(chosen)}
    FinalRecord(method=method, preset="cpu", seed=seed, arch="small", iterations=ITERATIONS, world_size=1,
                replicas_identical=None, effective_weights={"seg": 1.0}, source_miou=source["miou"],
                target_miou=val["miou"], source_val=source, target_val=val, wall_time_s=12.0 + seed,
                checkpoint="checkpoint_last.pt", target_test=test, best_on_val=best_on_val,
                synthstreets={"classes": 19, "scene_seed": 0}).write(folder / FINAL_JSON)
    write_json(folder / CONFIG_FILE, {"data": {"source": "synth:source", "target": "synth:target", **BENCHMARK},
                                      "optim": {"iterations": ITERATIONS}})
    PerImageConfusion(last=last, class_ids=tuple(range(CLASSES)), spec=test["spec"], best_on_val=chosen).write(
        folder / TEST_CONFUSION)
    return folder


def write_runs(root: Path, skills: dict[str, float], seeds=(5, 6, 7)) -> tuple[dict, dict]:
    """A finished fake run per method (``{method: skill}``) and seed under ``root/runs``:
    ``({method: [final.json records]}, {method: [run folders]})``, what a results file summarises."""
    finals: dict[str, list] = {}
    folders: dict[str, list] = {}
    for method, skill in skills.items():
        for seed in seeds:
            folder = write_run(Path(root) / "runs" / f"{method}_s{seed}", method, seed, skill)
            finals.setdefault(method, []).append(FinalRecord.read(folder / "final.json").to_dict())
            folders.setdefault(method, []).append(folder)
    return finals, folders
