"""Predictions in the Cityscapes benchmark's format: one label-id PNG per image.

cityscapesscripts' ``evalPixelLevelSemanticLabeling`` (and the benchmark server, which runs the
same code) scores PNGs of Cityscapes *label ids* (road = 7, ..., bicycle = 33; not trainIds) at
the ground truth's full resolution, 8-bit single channel. It finds the prediction of a ground
truth file ``{city}_{seq}_{frame}_gtFine_labelIds.png`` by searching its results folder
recursively for ``{city}_{seq}_{frame}*.png`` (exactly one). :class:`CityscapesResultWriter`
writes ``DIR/{city}/{city}_{seq}_{frame}_leftImg8bit.png`` (the image's own name) for each
evaluated image, mapping trainIds back with :func:`pfrlib.data.labels.train_ids_to_ids`.

``python -m pfrlib.evaluate ... --save-results DIR`` uses it; ``docs/datasets.md`` shows how to
run the official evaluator on ``DIR``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np
from PIL import Image
from torch import Tensor

from pfrlib.io import atomic_write, check_writable_folder
from pfrlib.data.labels import train_ids_to_ids

__all__ = ["CityscapesResultWriter", "result_path", "check_results_folder"]

_SUFFIX = "_leftImg8bit.png"


def result_path(out_dir: str | os.PathLike, image: str | os.PathLike) -> Path:
    """Where the prediction of a Cityscapes image goes: ``out_dir/{city}/{image name}``.

    Raises:
        ValueError: ``image`` is not named ``{city}_{seq}_{frame}_leftImg8bit.png``.
    """
    image = Path(image)
    parts = image.name[: -len(_SUFFIX)].split("_") if image.name.endswith(_SUFFIX) else []
    if len(parts) != 3 or not (parts[1].isdigit() and parts[2].isdigit()):
        raise ValueError(f"{image} is not a Cityscapes image name ({{city}}_{{seq}}_{{frame}}{_SUFFIX})")
    return Path(out_dir) / parts[0] / image.name


def check_results_folder(out_dir: str | os.PathLike) -> Path:
    """Check the results folder before anything is evaluated: new or empty (results of another run
    in it would be found by the evaluator too), and writable.

    Raises:
        ValueError (it holds files) or OSError (it cannot be written), one line naming ``save_results``.
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise ValueError(f"save_results: {out_dir} already exists and is not an empty folder; "
                         f"choose a new one (the evaluator would also find the files already there)")
    return check_writable_folder(out_dir, "save_results", "a new or empty folder that can be written "
                                 "(choose another --save-results)")


class CityscapesResultWriter:
    """Writes each prediction it is given as a label-id PNG, named for the benchmark.

    Args:
        out_dir: the results folder: new or empty, and writable (:func:`check_results_folder`).
        images: the dataset's image files, by item index (``Cityscapes.items[i][0]``).

    Call it as ``writer(index, pred)`` with a (H, W) tensor of trainIds 0..18 at the label's
    size (:func:`pfrlib.engine.scoring.evaluate_model`'s ``on_prediction``); ``writer.written`` counts files.
    """

    def __init__(self, out_dir: str | os.PathLike, images: Sequence[str | os.PathLike]) -> None:
        self.out_dir = check_results_folder(out_dir)
        self.paths = [result_path(self.out_dir, p) for p in images]
        self.written = 0

    def __call__(self, index: int, pred: Tensor) -> None:
        ids = train_ids_to_ids(pred.numpy())
        path = self.paths[index]
        path.parent.mkdir(parents=True, exist_ok=True)
        img = Image.fromarray(np.ascontiguousarray(ids))  # uint8 H x W: mode L
        atomic_write(path, lambda f: img.save(f, format="PNG"))
        self.written += 1
