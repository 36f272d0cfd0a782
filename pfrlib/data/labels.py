"""Cityscapes label tables: label id -> trainId, class names, palette.

Everything here is *derived* from ``cityscapesscripts.helpers.labels`` (the official
Cityscapes helper), never typed by hand, so it cannot drift from the benchmark definition.

* Label ids are what GTA5 and Cityscapes store in their label PNGs (0..33; the table also
  holds ``license plate`` with id -1, which a PNG cannot store).
* TrainIds are the 19 evaluation classes 0..18 used by the paper's Table 1 (road ... bicycle);
  every other label (void classes, ``parking``, ``caravan``, ...) maps to 255 = ignore.

Labels read from files are *checked*, never silently repaired: :func:`label_to_train_ids`
rejects values that are neither a class id nor 255 (naming the file, the values, and, for label
ids stored where trainIds are expected, how to convert them) and labels without a single class
pixel. ``python -m pfrlib.data.convert_labels SRC DST`` converts a folder of label-id PNGs to trainIds.
The unchecked table look-ups :func:`ids_to_train_ids` / :func:`check_train_ids` remain for
arrays whose values are already known to be sane.
"""

from __future__ import annotations

import os
from typing import Iterable, Optional

import numpy as np
import torch
from cityscapesscripts.helpers.labels import labels as _CS_LABELS

from .errors import DataFileError

__all__ = [
    "IGNORE_INDEX",
    "NUM_CLASSES",
    "CLASS_NAMES",
    "PALETTE",
    "ID_TO_TRAINID",
    "CITYSCAPES_IDS",
    "LABEL_FORMATS",
    "ids_to_train_ids",
    "check_train_ids",
    "canonical_label_format",
    "label_to_train_ids",
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


# --------------------------------------------------------------------------- checked reading
#: The label encodings a dataset can hold: ``"trainid"`` (0..18, 255 = ignore: Cityscapes
#: ``*_labelTrainIds.png``, :class:`~pfrlib.data.FolderDataset`) and ``"cityscapes_ids"``
#: (Cityscapes label ids 0..33: GTA5, Cityscapes ``*_labelIds.png``).
LABEL_FORMATS: tuple[str, ...] = ("trainid", "cityscapes_ids")

_FORMAT_ALIASES = {"trainid": "trainid", "train_ids": "trainid", "trainids": "trainid",
                   "cityscapes_ids": "cityscapes_ids", "ids": "cityscapes_ids", "label_ids": "cityscapes_ids"}

#: Every value a Cityscapes label-id PNG may hold: the table's ids 0..33, and 255 (the table's
#: ``license plate`` id -1 as stored in an 8-bit PNG).
CITYSCAPES_IDS: frozenset[int] = frozenset(l.id % 256 for l in _CS_LABELS)

#: What :func:`label_to_train_ids` may do with values that are neither a class nor ignore.
UNKNOWN_LABEL_POLICIES: tuple[str, ...] = ("error", "ignore")
#: What :func:`label_to_train_ids` does with a label that has no class pixel at all.
EMPTY_LABEL_POLICIES: tuple[str, ...] = ("error", "allow")

CONVERT_HINT = "python -m pfrlib.data.convert_labels SRC_LABEL_DIR DST_LABEL_DIR"


def canonical_label_format(name: str, where: str = "label_format") -> str:
    """``"trainid"`` or ``"cityscapes_ids"`` for a format name (``"train_ids"`` and ``"ids"`` are
    accepted as aliases); anything else is a ``ValueError`` naming ``where`` and the choices."""
    fmt = _FORMAT_ALIASES.get(str(name).lower()) if isinstance(name, str) else None
    if fmt is None:
        raise ValueError(f"{where}: unknown label format {name!r}; expected one of {LABEL_FORMATS}")
    return fmt


def _values_and_counts(raw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct values of ``raw`` and their pixel counts (bincount for 8-bit labels: fast)."""
    if raw.dtype == np.uint8:
        counts = np.bincount(raw.ravel(), minlength=256)
        values = np.flatnonzero(counts)
        return values, counts[values]
    return np.unique(raw.astype(np.int64), return_counts=True)


def _short_values(values: Iterable[int], n: int = 12) -> str:
    values = [int(v) for v in values]
    return str(values[:n])[:-1] + (f", ... ({len(values)} values)]" if len(values) > n else "]")


def label_to_train_ids(
    raw: np.ndarray,
    label_format: str,
    *,
    path: str | os.PathLike = "<array>",
    class_ids: Optional[Iterable[int]] = None,
    unknown_labels: str = "error",
    empty_labels: str = "error",
) -> np.ndarray:
    """Check a label as stored and convert it to uint8 trainIds (255 = ignore).

    Every value must be one the format defines: for ``"trainid"`` a class id of the dataset
    (``class_ids``, default 0..18) or 255; for ``"cityscapes_ids"`` an id of the Cityscapes table
    (0..33, or 255). Any other value is an error naming ``path`` and the values found, unless
    ``unknown_labels="ignore"`` (then they become 255, silently: the caller asked for it). When
    a ``"trainid"`` label holds only values <= 33 (and 255) with some in 19..33, the message says
    it looks like Cityscapes label ids and how to convert them.

    A label with no class pixel at all (everything 255 after conversion) is an error too
    (``empty_labels="allow"`` accepts it): a training set of such labels trains on nothing
    with a loss of 0, and a label file without a single class pixel is almost always a
    conversion mistake.

    Args:
        raw: integer array H x W as read from the file.
        label_format: one of :data:`LABEL_FORMATS` (aliases ``"train_ids"``, ``"ids"``).
        path: the file, for messages.
        class_ids: the trainIds the dataset can hold (default 0..18).
        unknown_labels: ``"error"`` (default) or ``"ignore"``.
        empty_labels: ``"error"`` (default) or ``"allow"``.

    Returns:
        uint8 array, same shape, values in ``class_ids`` and 255.

    Raises:
        DataFileError: unknown values, or no class pixel; one line naming ``path``.
        ValueError: a bad ``label_format`` / policy name.
    """
    fmt = canonical_label_format(label_format)
    if unknown_labels not in UNKNOWN_LABEL_POLICIES:
        raise ValueError(f"unknown_labels: expected one of {UNKNOWN_LABEL_POLICIES}, got {unknown_labels!r}")
    if empty_labels not in EMPTY_LABEL_POLICIES:
        raise ValueError(f"empty_labels: expected one of {EMPTY_LABEL_POLICIES}, got {empty_labels!r}")
    raw = np.asarray(raw)
    if raw.dtype.kind not in "iub":
        raise DataFileError(f"label {path} holds {raw.dtype} values; expected integer ids", path)
    classes = tuple(range(NUM_CLASSES)) if class_ids is None else tuple(int(c) for c in class_ids)
    values, counts = _values_and_counts(raw)
    allowed = CITYSCAPES_IDS if fmt == "cityscapes_ids" else frozenset(classes) | {IGNORE_INDEX}
    bad_mask = np.array([int(v) not in allowed for v in values], dtype=bool)
    if bad_mask.any() and unknown_labels == "error":
        raise DataFileError(_unknown_message(path, fmt, classes, values, counts, bad_mask, raw.size), path)
    if fmt == "cityscapes_ids":
        out = ids_to_train_ids(raw)
        if class_ids is not None:  # a dataset that holds only some trainIds: the others are errors too
            extra = sorted(set(np.unique(out).tolist()) - set(classes) - {IGNORE_INDEX})
            if extra and unknown_labels == "error":
                raise DataFileError(f"label {path} maps to trainIds {extra} that the dataset does not hold "
                                    f"(its classes: {_short_values(classes)})", path)
            for c in extra:
                out[out == c] = IGNORE_INDEX
    else:
        out = raw.astype(np.uint8) if not bad_mask.any() else np.where(
            np.isin(raw, np.array(sorted(allowed), dtype=np.int64)), raw, IGNORE_INDEX).astype(np.uint8)
    if empty_labels == "error" and out.size and not (out != IGNORE_INDEX).any():
        what = ("Cityscapes ids with no trainId (void classes, 255)" if fmt == "cityscapes_ids"
                else f"{IGNORE_INDEX} (ignore)")
        raise DataFileError(
            f"label {path} has no pixel of any class: all {out.size} pixels are {what}"
            + (", after unknown values were mapped to ignore" if bad_mask.any() else "")
            + "; training on it would learn nothing (loss 0). Check the label format, or pass "
              "empty_labels='allow' to accept labels without class pixels", path)
    return out


def _unknown_message(path, fmt: str, classes: tuple[int, ...], values: np.ndarray, counts: np.ndarray,
                     bad_mask: np.ndarray, total: int) -> str:
    bad = values[bad_mask]
    n_bad = int(counts[bad_mask].sum())
    if fmt == "cityscapes_ids":
        expected = f"not Cityscapes label ids (0..33, or {IGNORE_INDEX})"
    else:
        expected = f"neither class ids {_range_text(classes)} nor {IGNORE_INDEX} (ignore)"
    msg = f"label {path} holds value(s) {_short_values(bad)} ({n_bad} of {total} pixels) that are {expected}"
    present = [int(v) for v in values if int(v) != IGNORE_INDEX]
    if fmt == "trainid" and present and max(present) <= 33 and any(NUM_CLASSES <= v <= 33 for v in present):
        msg += (f"; these look like Cityscapes label ids (0..33), not trainIds: open the dataset with "
                f"label_format='cityscapes_ids' (or put {{\"label_format\": \"cityscapes_ids\"}} in the "
                f"dataset root's {DATASET_OPTIONS_FILE}), or convert the files with `{CONVERT_HINT}`")
    else:
        msg += (f"; fix the label files, or map unknown values to ignore with unknown_labels='ignore' "
                f"(or {{\"unknown_labels\": \"ignore\"}} in the dataset root's {DATASET_OPTIONS_FILE})")
    return msg


def _range_text(classes: tuple[int, ...]) -> str:
    if classes and list(classes) == list(range(classes[0], classes[-1] + 1)):
        return f"{classes[0]}..{classes[-1]}"
    return _short_values(classes, n=20)


#: A JSON file in a dataset's root that may set ``label_format``, ``unknown_labels`` and
#: ``empty_labels`` for that dataset (read by the real-dataset loaders; explicit arguments win).
DATASET_OPTIONS_FILE = "pfr_dataset.json"
