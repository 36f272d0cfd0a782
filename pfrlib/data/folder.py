"""The base of every real-dataset loader, and :class:`FolderDataset` (any two domains of your own).

:class:`SegmentationFolder` holds a list of ``(image file, label file or None)`` items and reads
one item per ``__getitem__``: the image as stored (uint8 3 x H x W RGB; grayscale / RGBA /
palette images converted) and the label as int64 H x W Cityscapes trainIds (255 = ignore; an
unlabelled item is all 255). :class:`~pfrlib.data.GTA5` and :class:`~pfrlib.data.Cityscapes`
(:mod:`pfrlib.data.real`) list their items from the datasets' layouts.

Labels are checked once per item as they are read (CPU, numpy, in the DataLoader worker): a
value that is neither a class id of the format nor 255 - for label-id files, a value outside
what the files' source declares (:data:`pfrlib.data.labels.STORED_IDS`) - is a
:class:`~pfrlib.data.DataFileError` naming the file and the values (for trainIds that look like
Cityscapes label ids, the message says how to convert them); so is a label without a single class
pixel (checked per item: cheap, and a training set whose labels are all ignore fails on its first
item instead of training on nothing). Options, per dataset: ``unknown_labels="ignore"`` maps
unknown values to 255, ``empty_labels="allow"`` accepts labels without class pixels, and (folder
datasets) ``label_format="cityscapes_ids"`` converts label ids; GTA5 and Cityscapes also take
``strict`` (:mod:`pfrlib.data.releases`). They can also be written to ``ROOT/pfr_dataset.json``
(e.g. ``{"label_format": "cityscapes_ids"}``), which is how a command line run sets them;
explicit arguments win.

If an image and its label differ in size (it happens for a few GTA5 frames), the label is
resized to the image with nearest neighbour; the count is kept in ``.resized_labels`` (per
process: DataLoader workers keep their own) and a warning is issued once per dataset.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path
from typing import Callable, Optional, Sequence

import numpy as np
import torch
from PIL import Image

from pfrlib.data.errors import DataFileError
from pfrlib.data.labels import (DATASET_OPTIONS_FILE, EMPTY_LABEL_POLICIES, IGNORE_INDEX, NUM_CLASSES,
    UNKNOWN_LABEL_POLICIES, canonical_label_format)
from pfrlib.data.readers import read_image, read_label
from pfrlib.data.transforms import to_item

__all__ = ["SegmentationFolder", "FolderDataset", "dataset_options", "IMAGE_EXTENSIONS", "FOLDER_LAYOUT"]

#: File endings accepted as images by :class:`FolderDataset`.
IMAGE_EXTENSIONS: tuple[str, ...] = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")

FOLDER_LAYOUT = """expected a folder dataset:
  ROOT/images/NAME.png|.jpg ...   RGB images
  ROOT/labels/NAME.png ...        trainIds 0..18, 255 = ignore (optional: without labels/ the set is unlabelled)
or the same under ROOT/{split}/ (e.g. ROOT/train/images, ROOT/val/images)
  ROOT/pfr_dataset.json           optional: {"label_format": "trainid"|"cityscapes_ids", "unknown_labels": ...}"""


def dataset_options(root: Path, *, label_format: Optional[str] = None, unknown_labels: Optional[str] = None,
                    empty_labels: Optional[str] = None, default_format: str = "trainid",
                    format_fixed: bool = False, strict: Optional[bool] = None) -> dict:
    """The label options of a dataset: explicit arguments, else ``root/pfr_dataset.json``, else defaults.

    Args:
        root: the dataset root (where ``pfr_dataset.json`` may be).
        label_format, unknown_labels, empty_labels, strict: explicit choices (``None`` = not given).
        default_format: the format when neither an argument nor the file sets one.
        format_fixed: the dataset's files define their format (GTA5, Cityscapes): a
            ``label_format`` other than ``default_format`` is an error.

    Returns:
        ``{"label_format", "unknown_labels", "empty_labels", "strict"}``, checked (``strict``: a
        partial GTA5 / Cityscapes download is an error, not a warning; default ``False``).

    Raises:
        ValueError naming the option (or the options file) and the allowed values.
    """
    from_file: dict = {}
    opt_path = Path(root) / DATASET_OPTIONS_FILE
    if opt_path.is_file():
        try:
            from_file = json.loads(opt_path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise ValueError(f"{opt_path} is not valid JSON: {err}") from None
        allowed = ("label_format", "unknown_labels", "empty_labels", "strict")
        if not isinstance(from_file, dict):
            raise ValueError(f"{opt_path} must hold a JSON object with some of the keys {list(allowed)}")
        if set(from_file) - set(allowed):
            raise ValueError(f"{opt_path}: unknown option(s) {sorted(set(from_file) - set(allowed))}; "
                             f"allowed: {list(allowed)}")

    def where(key: str, given: Optional[str]) -> str:
        return key if given is not None else f"{opt_path}: {key}"

    fmt_given = label_format if label_format is not None else from_file.get("label_format")
    fmt = canonical_label_format(fmt_given, where("label_format", label_format)) if fmt_given is not None \
        else default_format
    if format_fixed and fmt != default_format:
        raise ValueError(f"{where('label_format', label_format)}: this dataset's label files are {default_format!r} "
                         f"by definition; got {fmt_given!r}")
    out = {"label_format": fmt}
    for key, given, choices in (("unknown_labels", unknown_labels, UNKNOWN_LABEL_POLICIES),
                                ("empty_labels", empty_labels, EMPTY_LABEL_POLICIES)):
        value = given if given is not None else from_file.get(key, choices[0])
        if value not in choices:
            raise ValueError(f"{where(key, given)}: expected one of {choices}, got {value!r}")
        out[key] = value
    strict_value = strict if strict is not None else from_file.get("strict", False)
    if not isinstance(strict_value, bool):
        raise ValueError(f"{where('strict', strict)}: expected true or false, got {strict_value!r}")
    out["strict"] = strict_value
    return out


def _resize_nearest(label: np.ndarray, size_hw: tuple[int, int]) -> np.ndarray:
    return np.array(Image.fromarray(label).resize((size_hw[1], size_hw[0]), Image.NEAREST))


def short_list(paths: Sequence, n: int = 5) -> str:
    """The first ``n`` of ``paths``, then ``... and N more``: file lists in one-line messages."""
    names = [str(p) for p in paths[:n]]
    more = f" ... and {len(paths) - n} more" if len(paths) > n else ""
    return ", ".join(names) + more


class SegmentationFolder(torch.utils.data.Dataset):
    """Base class: a list of ``(image path, label path or None, label encoding)`` items.

    Attributes every dataset of :mod:`pfrlib.data` has: ``num_classes`` (19, the Cityscapes
    trainId space), ``class_ids`` (trainIds that can occur; all 19 here), ``has_labels``,
    ``name``; plus ``resized_labels`` (labels resized to their image so far, this process).
    """

    num_classes: int = NUM_CLASSES
    class_ids: tuple[int, ...] = tuple(range(NUM_CLASSES))
    #: What label-id files may hold: a key of :data:`pfrlib.data.labels.STORED_IDS`.
    label_ids: str = "cityscapes_ids"

    def __init__(self, items: Sequence[tuple[Path, Optional[Path]]], encoding: str, name: str,
                 transform: Optional[Callable] = None, unknown_labels: str = "error",
                 empty_labels: str = "error") -> None:
        self.items = list(items)
        self.encoding = canonical_label_format(encoding, "encoding")
        if unknown_labels not in UNKNOWN_LABEL_POLICIES:
            raise ValueError(f"unknown_labels: expected one of {UNKNOWN_LABEL_POLICIES}, got {unknown_labels!r}")
        if empty_labels not in EMPTY_LABEL_POLICIES:
            raise ValueError(f"empty_labels: expected one of {EMPTY_LABEL_POLICIES}, got {empty_labels!r}")
        self.unknown_labels = unknown_labels
        self.empty_labels = empty_labels
        self.name = name
        self.transform = transform
        self.has_labels = any(lab is not None for _, lab in self.items)
        self.resized_labels = 0
        self._warned = False

    def __len__(self) -> int:
        return len(self.items)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, items={len(self)}, has_labels={self.has_labels})"

    def label_format(self, index: int) -> str:
        """The encoding of item ``index``'s label file (``"trainid"`` or ``"cityscapes_ids"``)."""
        return self.encoding

    def load(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """Item ``index`` as numpy: (uint8 H x W x 3 RGB, uint8 H x W trainIds).

        Raises:
            DataFileError: one line naming the file (missing, corrupt, bad label values).
        """
        img_path, lab_path = self.items[index]
        try:
            image = read_image(img_path)
        except DataFileError:
            raise
        except (FileNotFoundError, ValueError) as err:
            raise DataFileError(str(err) if str(img_path) in str(err) else f"image {img_path}: {err}",
                                img_path) from err
        h, w = image.shape[:2]
        if lab_path is None:
            return image, np.full((h, w), IGNORE_INDEX, np.uint8)
        label = read_label(lab_path, self.label_format(index), class_ids=self.class_ids,
                           unknown_labels=self.unknown_labels, empty_labels=self.empty_labels, ids=self.label_ids)
        if label.shape != (h, w):
            self.resized_labels += 1
            if not self._warned:
                self._warned = True
                warnings.warn(
                    f"{self.name}: label {lab_path} is {label.shape[1]}x{label.shape[0]} but its image is {w}x{h}; "
                    f"resizing the label (nearest). Further mismatches are counted in .resized_labels without a warning.",
                    stacklevel=3,
                )
            label = _resize_nearest(label, (h, w))
        return image, label

    def __getitem__(self, index: int):
        image, label = self.load(index)
        return to_item(image, label, self.transform)

    def count_size_mismatches(self) -> int:
        """Scan every pair's PNG headers (no decoding) and count image/label size mismatches."""
        n = 0
        for img_path, lab_path in self.items:
            if lab_path is None:
                continue
            with Image.open(img_path) as a, Image.open(lab_path) as b:
                n += a.size != b.size
        return n


def require_dir(path: Path, what: str, layout: str) -> None:
    """``FileNotFoundError`` naming ``what``, the directory and the expected ``layout`` if it is missing."""
    if not path.is_dir():
        raise FileNotFoundError(f"{what}: directory {path} not found; {layout}")


class FolderDataset(SegmentationFolder):
    """Any two domains of your own: ``images/`` and (optional) ``labels/`` with the same stems.

    Args:
        root: a directory with ``images/`` (+ ``labels/``), or with ``{split}/images`` ...
        split: if given and ``root/{split}/images`` exists, that sub-folder is used; if given
            but there are no split sub-folders, ``root`` itself is used for every split.
        transform: ``(image, label) -> ...``.
        labels: ``None`` (default): read ``labels/`` if it exists, else unlabelled (all 255);
            ``False``: ignore labels; ``True``: labels are required.
        label_format: ``"trainid"`` (default: 0..18, 255 = ignore) or ``"cityscapes_ids"``
            (Cityscapes label ids 0..33, converted to trainIds as they are read).
        unknown_labels: ``"error"`` (default: a value that is neither a class id of the format
            nor 255 is an error naming the file and the values) or ``"ignore"`` (it becomes 255).
        empty_labels: ``"error"`` (default: a label without any class pixel is an error) or
            ``"allow"``.

    ``None`` for the last three means: the value in ``ROOT/pfr_dataset.json`` if that file sets
    it, else the default. Labels are single-channel PNGs. When ``labels/`` exists, every image
    must have a label and every label an image.
    """

    def __init__(self, root: str | os.PathLike, split: Optional[str] = None, transform: Optional[Callable] = None,
                 labels: Optional[bool] = None, label_format: Optional[str] = None,
                 unknown_labels: Optional[str] = None, empty_labels: Optional[str] = None) -> None:
        root = Path(root)
        if not root.is_dir():
            raise FileNotFoundError(f"folder dataset root {root} not found; {FOLDER_LAYOUT}")
        opts = dataset_options(root, label_format=label_format, unknown_labels=unknown_labels,
                               empty_labels=empty_labels, default_format="trainid")
        base = root
        if split is not None and (root / split / "images").is_dir():
            base = root / split
        elif split is not None and not (root / "images").is_dir():
            found = sorted(p.name for p in root.iterdir() if (p / "images").is_dir())
            raise ValueError(f"folder dataset {root}: no split {split!r} (found splits: {found or 'none'}); {FOLDER_LAYOUT}")
        img_dir, lab_dir = base / "images", base / "labels"
        require_dir(img_dir, f"folder dataset {root}", FOLDER_LAYOUT)
        images = sorted(p for p in img_dir.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file())
        if not images:
            raise ValueError(f"folder dataset: no images ({', '.join(IMAGE_EXTENSIONS)}) in {img_dir}")
        stems = [p.stem for p in images]
        dup = sorted({s for s in stems if stems.count(s) > 1})
        if dup:
            raise ValueError(f"folder dataset: several images share a name in {img_dir}: {short_list(dup)}")
        use_labels = lab_dir.is_dir() if labels is None else bool(labels)
        if use_labels:
            require_dir(lab_dir, f"folder dataset {root} (labels=True)", FOLDER_LAYOUT)
            labs = {p.stem: p for p in lab_dir.iterdir() if p.suffix.lower() == ".png" and p.is_file()}
            no_label = [p for p in images if p.stem not in labs]
            if no_label:
                raise FileNotFoundError(f"folder dataset: {len(no_label)} image(s) have no label (same name, .png) "
                                        f"in {lab_dir}: {short_list(no_label)}")
            stray = sorted(set(labs) - set(stems))
            if stray:
                raise FileNotFoundError(f"folder dataset: {len(stray)} label(s) in {lab_dir} have no image in "
                                        f"{img_dir}: {short_list([labs[s] for s in stray])}")
            items = [(p, labs[p.stem]) for p in images]
        else:
            items = [(p, None) for p in images]
        super().__init__(items, opts["label_format"], f"folder:{base}", transform,
                         opts["unknown_labels"], opts["empty_labels"])
        self.root, self.split = root, split
