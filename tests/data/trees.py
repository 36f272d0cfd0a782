"""Small GTA5 and Cityscapes trees in tmp_path, in the datasets' exact layouts (no download), with the
label ids each dataset's files hold (GTA5 0..34, Cityscapes gtFine_labelIds 0..33; see
tests/shipped_datasets.py); the fixtures ``gta5_root`` and ``cs_root`` (tests/data/conftest.py) use them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from cityscapesscripts.helpers.labels import labels as cs_labels
from PIL import Image

from shipped_datasets import CS_IDS, GTA5_IDS


# Every label id of the Cityscapes table as stored in an 8-bit PNG (-1 = license plate as 255):
# what a label-id file of your own may hold (FolderDataset with label_format="cityscapes_ids").
ALL_IDS = [l.id % 256 for l in cs_labels]
# Values no GTA5 label file holds (GTA5's ids are 0..34).
UNKNOWN_IDS = [35, 40, 200, 255]


def expected_train_id(stored_id: int) -> int:
    """trainId of an 8-bit stored id, straight from cityscapesscripts (unknown -> 255)."""
    for l in cs_labels:
        if l.id % 256 == stored_id:
            return l.trainId if 0 <= l.trainId < 255 else 255
    return 255


def id_image(h: int = 8, w: int = 12, shift: int = 0, ids_list=GTA5_IDS) -> np.ndarray:
    """An H x W uint8 label covering ``ids_list`` (cycled; default: GTA5's ids 0..34)."""
    ids = np.array(ids_list, np.uint8)
    return ids[(np.arange(h * w) + shift) % len(ids)].reshape(h, w)


def save_rgb(path: Path, h: int = 8, w: int = 12, seed: int = 0) -> np.ndarray:
    path.parent.mkdir(parents=True, exist_ok=True)
    img = np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)
    Image.fromarray(img).save(path)
    return img


def save_palette_label(path: Path, ids: np.ndarray) -> None:
    """Save ids as a palette ('P') PNG, as GTA5 distributes them."""
    path.parent.mkdir(parents=True, exist_ok=True)
    im = Image.fromarray(ids, mode="L").convert("P")
    im.putpalette([v for i in range(256) for v in ((i * 7) % 256, (i * 13) % 256, (i * 29) % 256)])
    im.save(path)


def save_gray_label(path: Path, ids: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(ids.astype(np.uint8), mode="L").save(path)


def cs_frame(root: Path, split: str, city: str, n: int, label: str | None = "labelIds", shift: int = 0) -> None:
    stem = f"{city}_{n:06d}_000019"
    save_rgb(root / "leftImg8bit" / split / city / f"{stem}_leftImg8bit.png", seed=n)
    if label == "labelIds":
        save_gray_label(root / "gtFine" / split / city / f"{stem}_gtFine_labelIds.png", id_image(shift=shift, ids_list=CS_IDS))
    elif label == "labelTrainIds":
        tids = np.vectorize(expected_train_id)(id_image(shift=shift, ids_list=CS_IDS)).astype(np.uint8)
        save_gray_label(root / "gtFine" / split / city / f"{stem}_gtFine_labelTrainIds.png", tids)
