"""SynthStreets items written as a folder dataset (``images/`` + ``labels/``), optionally with
noisy labels: the trees the label-blindness tests train on (a method that never reads target
labels trains the same on the clean and the noisy tree)."""

from __future__ import annotations

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
