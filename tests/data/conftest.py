"""Fixtures of the data tests: a GTA5 and a Cityscapes tree in tmp_path (tests/data/trees.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from .trees import cs_frame, id_image, save_palette_label, save_rgb


@pytest.fixture
def gta5_root(tmp_path: Path) -> Path:
    root = tmp_path / "gta5"
    for i in range(1, 4):
        save_rgb(root / "images" / f"{i:05d}.png", seed=i)
        save_palette_label(root / "labels" / f"{i:05d}.png", id_image(shift=i))
    return root


@pytest.fixture
def cs_root(tmp_path: Path) -> Path:
    root = tmp_path / "cityscapes"
    cs_frame(root, "train", "aachen", 0, shift=0)
    cs_frame(root, "train", "aachen", 1, shift=5)
    cs_frame(root, "train", "bochum", 2, label="labelTrainIds", shift=9)
    cs_frame(root, "val", "frankfurt", 3, shift=2)
    return root
