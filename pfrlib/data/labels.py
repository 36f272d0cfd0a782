"""Cityscapes label tables: label id -> trainId, class names, palette.

Everything here is *derived* from ``cityscapesscripts.helpers.labels`` (the official
Cityscapes helper), never typed by hand, so it cannot drift from the benchmark definition.

* Label ids are what GTA5 and Cityscapes store in their label PNGs (0..33; the table also
  holds ``license plate`` with id -1, which a PNG cannot store).
* TrainIds are the 19 evaluation classes 0..18 used by the paper's Table 1 (road ... bicycle);
  every other label (void classes, ``parking``, ``caravan``, ...) maps to 255 = ignore.
"""

from __future__ import annotations

import numpy as np
import torch
from cityscapesscripts.helpers.labels import labels as _CS_LABELS

__all__ = [
    "IGNORE_INDEX",
    "NUM_CLASSES",
    "CLASS_NAMES",
    "PALETTE",
    "ID_TO_TRAINID",
    "ids_to_train_ids",
    "check_train_ids",
]

#: The label value that losses and metrics skip.
IGNORE_INDEX: int = 255

#: Size of the Cityscapes trainId space (the paper evaluates on these 19 classes).
NUM_CLASSES: int = 19

_train_labels = sorted((l for l in _CS_LABELS if 0 <= l.trainId < IGNORE_INDEX), key=lambda l: l.trainId)
assert [l.trainId for l in _train_labels] == list(range(NUM_CLASSES)), "unexpected cityscapesscripts table"

#: Class names in trainId order, e.g. ``CLASS_NAMES[13] == "car"``.
CLASS_NAMES: tuple[str, ...] = tuple(l.name for l in _train_labels)

#: (19, 3) uint8 Cityscapes colour of each trainId.
PALETTE: np.ndarray = np.array([l.color for l in _train_labels], dtype=np.uint8)


def _build_lookup() -> np.ndarray:
    """A 256-entry uint8 lookup: index = label id stored in a PNG (0..255), value = trainId.

    Ids that are not in the Cityscapes table (34..255) and ids whose trainId is 255 or -1
    map to ``IGNORE_INDEX``.
    """
    lut = np.full(256, IGNORE_INDEX, dtype=np.uint8)
    for l in _CS_LABELS:
        if 0 <= l.id < 256 and 0 <= l.trainId < IGNORE_INDEX:
            lut[l.id] = l.trainId
    return lut


#: ``ID_TO_TRAINID[label_id] -> trainId`` for every 8-bit label id (unknown ids -> 255).
ID_TO_TRAINID: np.ndarray = _build_lookup()


def ids_to_train_ids(ids: np.ndarray) -> np.ndarray:
    """Map Cityscapes label ids to trainIds.

    Args:
        ids: integer array of any shape (H x W for a label image). Values outside the
            Cityscapes table (negative, >= 34) become 255.

    Returns:
        uint8 array, same shape, values in {0..18, 255}.
    """
    ids = np.asarray(ids)
    if ids.dtype == np.uint8:
        return ID_TO_TRAINID[ids]
    ids = ids.astype(np.int64)
    out = np.full(ids.shape, IGNORE_INDEX, dtype=np.uint8)
    ok = (ids >= 0) & (ids < 256)
    out[ok] = ID_TO_TRAINID[ids[ok]]
    return out


def check_train_ids(label: np.ndarray) -> np.ndarray:
    """Sanitise a label that is already in trainIds: values outside 0..18 become 255.

    Args:
        label: integer array (H x W).

    Returns:
        uint8 array, same shape, values in {0..18, 255}.
    """
    label = np.asarray(label).astype(np.int64)
    out = label.astype(np.uint8, copy=True)
    out[(label < 0) | (label >= NUM_CLASSES)] = IGNORE_INDEX
    return out


def train_ids_tensor(label: np.ndarray) -> torch.Tensor:
    """uint8 trainId array (H x W) -> int64 tensor (H x W), the dataset item convention."""
    return torch.from_numpy(np.ascontiguousarray(label)).long()
