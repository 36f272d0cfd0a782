"""Folder datasets for the tests: SynthStreets items written as a folder dataset (``images/`` + ``labels/``), optionally with
noisy labels: the trees the label-blindness tests train on (a method that never reads target
labels trains the same on the clean and the noisy tree), or random images with given label arrays."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image

from pfrlib.data.synthstreets.dataset import SynthStreets


def write_synth_folder(root: Path, domain: str, n: int, noise: bool, seed: int = 123) -> Path:
    """``n`` items of SynthStreets ``domain``/train at 32x64 under ``root``; ``noise`` replaces every
    label by random class ids and 255 (drawn with ``seed``)."""
    ds = SynthStreets(domain, "train", size=(32, 64), length=n)
    (root / "images").mkdir(parents=True)
    (root / "labels").mkdir()
    rng = np.random.default_rng(seed)
    for i in range(n):
        image, label = ds[i]
        lab = label.numpy().astype(np.uint8)
        if noise:
            lab = rng.choice(np.array(list(ds.class_ids) + [255], dtype=np.uint8), size=lab.shape)
        Image.fromarray(image.permute(1, 2, 0).numpy()).save(root / "images" / f"{i:03d}.png")
        Image.fromarray(lab).save(root / "labels" / f"{i:03d}.png")
    return root


def label_folder(root: Path, labels: list[np.ndarray], h: int = 32, w: int = 64, options: dict | None = None) -> Path:
    """A folder dataset: random RGB images and the given label arrays (uint8 PNGs)."""
    rng = np.random.default_rng(0)
    for i, lab in enumerate(labels):
        (root / "images").mkdir(parents=True, exist_ok=True)
        (root / "labels").mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(root / "images" / f"f{i}.png")
        Image.fromarray(np.broadcast_to(lab, (h, w)).astype(np.uint8), mode="L").save(root / "labels" / f"f{i}.png")
    if options is not None:
        (root / "pfr_dataset.json").write_text(json.dumps(options))
    return root

