"""Cityscapes label tables: label id -> trainId, class names, palette.

Everything here is *derived* from ``cityscapesscripts.helpers.labels`` (the official
Cityscapes helper), never typed by hand, so it cannot drift from the benchmark definition.

* Label ids are what GTA5 and Cityscapes store in their label PNGs. What each source's files may
  hold is declared once, in :data:`STORED_IDS`: Cityscapes ``gtFine_labelIds`` 0..33 (the
  table's ``license plate``, id -1, is never drawn), GTA5 0..34 (34 is not in the table: ignore).
* TrainIds are the 19 evaluation classes 0..18 used by the paper's Table 1 (road ... bicycle);
  every other label (void classes, ``parking``, ``caravan``, ...) maps to 255 = ignore.

Labels read from files are *checked*, never silently repaired: :func:`label_to_train_ids`
rejects values that are neither a class id nor 255 (naming the file, the values, and, for label
ids stored where trainIds are expected, how to convert them) and labels without a single class
pixel. ``python -m pfrlib.data.convert_labels SRC DST`` converts a folder of label-id PNGs to trainIds.
The unchecked table look-ups :func:`ids_to_train_ids` / :func:`check_train_ids` remain for
arrays whose values are already known to be sane. :func:`train_ids_to_ids` maps predictions back to
label ids (the benchmark's format).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Iterable, Optional

import numpy as np
import torch
from cityscapesscripts.helpers.labels import labels as _CS_LABELS

from pfrlib.data.errors import DataFileError

__all__ = [
    "IGNORE_INDEX",
    "NUM_CLASSES",
    "CLASS_NAMES",
    "PALETTE",
    "ID_TO_TRAINID",
    "CITYSCAPES_IDS",
    "STORED_IDS",
    "LabelIds",
    "TRAINID_TO_ID",
    "COLOR_LUT",
    "train_ids_to_ids",
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

#: ``TRAINID_TO_ID[trainId] -> label id`` for the 19 classes (road 0 -> 7, ..., bicycle 18 -> 33):
#: how predictions are written for cityscapesscripts' evaluation and the benchmark server, which
#: score *label ids*.
TRAINID_TO_ID: np.ndarray = np.array([l.id for l in _train_labels], dtype=np.uint8)
assert (ID_TO_TRAINID[TRAINID_TO_ID] == np.arange(NUM_CLASSES)).all()

#: (256, 3) uint8: the colour of every trainId value, 19..255 (incl. 255 = ignore) black.
COLOR_LUT: np.ndarray = np.zeros((256, 3), dtype=np.uint8)
COLOR_LUT[:NUM_CLASSES] = PALETTE


def train_ids_to_ids(train_ids: np.ndarray) -> np.ndarray:
    """Map trainIds (0..18) back to Cityscapes label ids (7..33), the benchmark's format.

    Args:
        train_ids: integer array of any shape with values 0..18 (a prediction).

    Returns:
        uint8 array, same shape.

    Raises:
        ValueError: a value outside 0..18 (255 = ignore has no label id to predict).
    """
    train_ids = np.asarray(train_ids)
    if train_ids.size and (int(train_ids.min()) < 0 or int(train_ids.max()) >= NUM_CLASSES):
        raise ValueError(f"train_ids_to_ids: values must be trainIds 0..{NUM_CLASSES - 1}, got "
                         f"{int(train_ids.min())}..{int(train_ids.max())}")
    return TRAINID_TO_ID[train_ids.astype(np.int64)]


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

@dataclass(frozen=True)
class LabelIds:
    """The values one kind of label-id file may hold (any other value is an error naming the file).

    Attributes:
        name: what the files are, for messages (``"GTA5 label ids"``).
        values: the allowed stored values.
        text: the values in words, for messages and docs (``"0..34"``).
    """

    name: str
    values: frozenset[int]
    text: str


_TABLE_IDS = frozenset(l.id for l in _CS_LABELS if l.id >= 0)
assert _TABLE_IDS == frozenset(range(34)), "unexpected cityscapesscripts table"

#: What each kind of label-id file may hold, by source; read by the loaders, ``convert_labels``
#: and ``docs/datasets.md``. Ids without a trainId (the void classes, GTA5's 34) become 255.
STORED_IDS: dict[str, LabelIds] = {
    # Cityscapes gtFine_labelIds.png: written by cityscapesscripts' json2labelImg, whose
    # createLabelImage skips every polygon with a negative id, so the licence plate (id -1) is never
    # drawn (its pixels keep the label beneath, e.g. car 26): the files hold 0..33 only, and the
    # official evalPixelLevelSemanticLabeling stops on any other ground-truth value ("Unknown label").
    "cityscapes": LabelIds("Cityscapes gtFine_labelIds", _TABLE_IDS, "0..33"),
    # GTA5 ("Playing for Data", https://download.visinf.tu-darmstadt.de/data/from_games/): palette
    # PNGs of Cityscapes label ids 0..33 and also 34, an id the Cityscapes table does not have.
    # GTA5 training code maps 34 to ignore: LTTM/SELMA datasets/gta5.py (its id -> trainId table
    # ends with 34 -> -1, its ignore index), a GTA5 loader built on STDC-Seg's Cityscapes table
    # (adds 34 -> 255 to it); other GTA5/Cityscapes id tables call 34 the licence plate. So do we.
    "gta5": LabelIds("GTA5 label ids", _TABLE_IDS | {34}, "0..34; 34 = ignore"),
    # Label-id files of your own (FolderDataset with label_format="cityscapes_ids",
    # convert_labels): the table's ids, and 255 as ignore (the licence plate's -1 as a uint8).
    "cityscapes_ids": LabelIds("Cityscapes label ids", _TABLE_IDS | {IGNORE_INDEX}, f"0..33, or {IGNORE_INDEX}"),
}

#: Every value a label-id PNG of your own may hold: the table's ids 0..33, and 255 (the table's
#: ``license plate`` id -1 as stored in an 8-bit PNG). (``STORED_IDS["cityscapes_ids"].values``.)
CITYSCAPES_IDS: frozenset[int] = STORED_IDS["cityscapes_ids"].values

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
    ids: str = "cityscapes_ids",
) -> np.ndarray:
    """Check a label as stored and convert it to uint8 trainIds (255 = ignore).

    Every value must be one the format defines: for ``"trainid"`` a class id of the dataset
    (``class_ids``, default 0..18) or 255; for ``"cityscapes_ids"`` a value the files' source
    declares (``ids``, a key of :data:`STORED_IDS`: GTA5 0..34, Cityscapes ``gtFine_labelIds``
    0..33, files of your own 0..33 or 255). Any other value is an error naming ``path`` and the values found, unless
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
        ids: which :data:`STORED_IDS` entry a ``"cityscapes_ids"`` label is checked against.

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
    if ids not in STORED_IDS:
        raise ValueError(f"ids: expected one of {sorted(STORED_IDS)}, got {ids!r}")
    raw = np.asarray(raw)
    if raw.dtype.kind not in "iub":
        raise DataFileError(f"label {path} holds {raw.dtype} values; expected integer ids", path)
    classes = tuple(range(NUM_CLASSES)) if class_ids is None else tuple(int(c) for c in class_ids)
    values, counts = _values_and_counts(raw)
    allowed = STORED_IDS[ids].values if fmt == "cityscapes_ids" else frozenset(classes) | {IGNORE_INDEX}
    bad_mask = np.array([int(v) not in allowed for v in values], dtype=bool)
    if bad_mask.any() and unknown_labels == "error":
        raise DataFileError(_unknown_message(path, fmt, classes, values, counts, bad_mask, raw.size, ids), path)
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
                     bad_mask: np.ndarray, total: int, ids: str) -> str:
    bad = values[bad_mask]
    n_bad = int(counts[bad_mask].sum())
    if fmt == "cityscapes_ids":
        expected = f"not {STORED_IDS[ids].name} ({STORED_IDS[ids].text})"
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
