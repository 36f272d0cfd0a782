"""Loaders for real datasets on disk: GTA5, Cityscapes, and any folder of images (+ labels).

All three return, with no transform, ``(image, label)``: the image as stored (uint8 tensor
3 x H x W, RGB; grayscale / RGBA / palette images are converted) and the label as an int64
tensor H x W of Cityscapes trainIds (255 = ignore; an unlabelled item is all 255).

Label files hold *label ids* (GTA5, Cityscapes ``*_labelIds.png``) or *trainIds* (Cityscapes
``*_labelTrainIds.png``, :class:`FolderDataset`); both are read with PIL, which returns the
palette *indices* of a palette PNG (GTA5 stores its ids that way; OpenCV would return the
palette's colours instead).

Labels are checked once per item as they are read (CPU, numpy, in the DataLoader worker): a
value that is neither a class id of the format nor 255 is a :class:`~pfrlib.data.DataFileError`
naming the file and the values (for trainIds that look like Cityscapes label ids, the message
says how to convert them); so is a label without a single class pixel (checked per item: cheap,
and a training set whose labels are all ignore fails on its first item instead of training on
nothing). Options, per dataset: ``unknown_labels="ignore"`` maps unknown values to 255,
``empty_labels="allow"`` accepts labels without class pixels, and (folder datasets)
``label_format="cityscapes_ids"`` converts label ids. They can also be written to
``ROOT/pfr_dataset.json`` (e.g. ``{"label_format": "cityscapes_ids"}``), which is how a
command line run sets them; explicit arguments win. Unreadable files (missing, corrupt,
truncated) are a :class:`~pfrlib.data.DataFileError` naming the file too.

If an image and its label differ in size (it happens for a few GTA5 frames), the label is
resized to the image with nearest neighbour; the count is kept in ``.resized_labels`` (per
process: DataLoader workers keep their own) and a warning is issued once per dataset.
"""

from __future__ import annotations

import json
import os
import warnings
import zlib
from pathlib import Path
from typing import Callable, Optional, Sequence

import numpy as np
import torch
from PIL import Image

from .errors import DataFileError
from .labels import (DATASET_OPTIONS_FILE, EMPTY_LABEL_POLICIES, IGNORE_INDEX, NUM_CLASSES, UNKNOWN_LABEL_POLICIES,
                     canonical_label_format, label_to_train_ids)
from .transforms import to_item

__all__ = ["SegmentationFolder", "GTA5", "Cityscapes", "FolderDataset", "read_image", "read_label", "dataset_options",
           "IMAGE_EXTENSIONS"]

#: File endings accepted as images by :class:`FolderDataset`.
IMAGE_EXTENSIONS: tuple[str, ...] = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")

GTA5_LAYOUT = """expected the GTA5 layout (as downloaded from https://download.visinf.tu-darmstadt.de/data/from_games/):
  ROOT/images/00001.png ...   RGB frames
  ROOT/labels/00001.png ...   Cityscapes label ids, palette PNGs"""

CITYSCAPES_LAYOUT = """expected the Cityscapes layout (leftImg8bit_trainvaltest.zip + gtFine_trainvaltest.zip):
  ROOT/leftImg8bit/{split}/{city}/{city}_{seq}_{frame}_leftImg8bit.png
  ROOT/gtFine/{split}/{city}/{city}_{seq}_{frame}_gtFine_labelIds.png   (or *_gtFine_labelTrainIds.png)"""

FOLDER_LAYOUT = """expected a folder dataset:
  ROOT/images/NAME.png|.jpg ...   RGB images
  ROOT/labels/NAME.png ...        trainIds 0..18, 255 = ignore (optional: without labels/ the set is unlabelled)
or the same under ROOT/{split}/ (e.g. ROOT/train/images, ROOT/val/images)
  ROOT/pfr_dataset.json           optional: {"label_format": "trainid"|"cityscapes_ids", "unknown_labels": ...}"""


_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _decode_rgb8_png(path: Path) -> Optional[np.ndarray]:
    """H x W x 3 uint8 of an 8-bit RGB PNG via ``torchvision.io.decode_png``, else ``None``.

    ``None`` (the caller falls back to PIL) for other files, other PNG colour types / bit
    depths, a missing or failing torchvision image extension, or a file it cannot decode (PIL
    then raises the error that names the file).
    """
    try:
        from torchvision.io import ImageReadMode, decode_png  # noqa: PLC0415
    except Exception:  # noqa: BLE001  (no torchvision image extension: PIL does it)
        return None
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except OSError:
        return None
    # IHDR is the first chunk: signature (8) + length (4) + "IHDR" (4) + width, height (8) + depth, colour type
    if data.size < 33 or data[:8].tobytes() != _PNG_SIGNATURE or data[12:16].tobytes() != b"IHDR":
        return None
    if int(data[24]) != 8 or int(data[25]) != 2:  # 8 bits per sample, truecolour without alpha
        return None
    # Walk every chunk and check its CRC: libpng errors in the image data can crash torchvision's
    # decoder (a segfault, not an exception), so a corrupt or truncated file goes to PIL instead.
    # (Only a file written with valid CRCs around an invalid zlib stream would still get through.)
    buf = memoryview(data)
    pos, end = 8, False
    while pos + 12 <= data.size:
        length = int.from_bytes(buf[pos:pos + 4], "big")
        kind = bytes(buf[pos + 4:pos + 8])
        if pos + 12 + length > data.size:
            return None
        if zlib.crc32(buf[pos + 4:pos + 8 + length]) != int.from_bytes(buf[pos + 8 + length:pos + 12 + length], "big"):
            return None
        if kind == b"tRNS":  # a transparent colour could come back as an alpha channel
            return None
        pos += 12 + length
        if kind == b"IEND":
            end = True
            break
    if not end:
        return None
    try:
        with warnings.catch_warnings():  # torchvision 0.29 deprecates its image codecs (for TorchCodec)
            warnings.simplefilter("ignore", DeprecationWarning)
            chw = decode_png(torch.from_numpy(data), ImageReadMode.UNCHANGED)
    except Exception:  # noqa: BLE001  (corrupt / truncated: PIL names the file)
        return None
    if chw.dtype != torch.uint8 or chw.dim() != 3 or chw.shape[0] != 3:
        return None
    return chw.permute(1, 2, 0).numpy()


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Read an image file as uint8 H x W x 3 RGB (grayscale, RGBA, palette, 16-bit converted).

    8-bit RGB PNGs (every GTA5 and Cityscapes frame) are decoded with
    ``torchvision.io.decode_png`` when it is available (faster than PIL on full-size frames;
    ``benchmarks/data_pipeline.py`` measures both), with the same pixels; every other file, and
    any PNG that path cannot decode, goes through PIL (which then names the file in the error).

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: the file cannot be decoded (corrupt or truncated), naming the file.
    """
    path = Path(path)
    fast = _decode_rgb8_png(path)
    if fast is not None:
        return fast
    try:
        with Image.open(path) as im:
            im.load()
            if im.mode in ("I;16", "I;16B", "I;16L", "I"):  # 16-bit grayscale: keep the top 8 bits
                arr = np.asarray(im, dtype=np.int64)
                arr = (arr >> 8 if arr.max(initial=0) > 255 else arr).clip(0, 255).astype(np.uint8)
                return np.repeat(arr[..., None], 3, axis=2)
            if im.mode != "RGB":
                im = im.convert("RGBA").convert("RGB") if im.mode in ("P", "PA", "LA") else im.convert("RGB")
            return np.asarray(im, dtype=np.uint8).copy()
    except FileNotFoundError:
        raise FileNotFoundError(f"image file not found: {path}") from None
    except (OSError, SyntaxError, ValueError) as err:
        raise ValueError(f"cannot decode image {path} (corrupt or truncated file?): {err}") from err


def read_label(path: str | os.PathLike, encoding: str, *, class_ids: Optional[Sequence[int]] = None,
               unknown_labels: str = "error", empty_labels: str = "error") -> np.ndarray:
    """Read a label PNG, check its values and return uint8 H x W trainIds (255 = ignore).

    Args:
        path: a single-channel PNG (mode L, P (palette indices are the ids), I or I;16).
        encoding: ``"cityscapes_ids"`` (alias ``"ids"``: Cityscapes label ids, mapped with the
            cityscapesscripts table) or ``"trainid"`` (alias ``"train_ids"``: already trainIds).
        class_ids: the trainIds the dataset holds (default 0..18).
        unknown_labels: ``"error"`` (default) or ``"ignore"``: see
            :func:`pfrlib.data.labels.label_to_train_ids`.
        empty_labels: ``"error"`` (default) or ``"allow"`` a label without class pixels.

    Raises:
        DataFileError: naming the file: missing, undecodable, a colour label, values that are
        neither a class id nor 255, no class pixel. ValueError: a bad ``encoding``.
    """
    path = Path(path)
    fmt = canonical_label_format(encoding, "encoding")
    try:
        with Image.open(path) as im:
            im.load()
            if im.mode not in ("L", "P", "I", "I;16", "I;16B", "I;16L"):
                raise DataFileError(
                    f"label {path} has mode {im.mode!r}; expected a single-channel (L or palette) PNG of ids, "
                    f"not a colour visualisation", path)
            arr = np.asarray(im)  # palette images give palette indices = the stored ids
    except FileNotFoundError:
        raise DataFileError(f"label file not found: {path}", path) from None
    except DataFileError:
        raise
    except (OSError, SyntaxError, ValueError) as err:
        raise DataFileError(f"cannot decode label {path} (corrupt or truncated file?): {err}", path) from err
    return label_to_train_ids(arr, fmt, path=path, class_ids=class_ids, unknown_labels=unknown_labels,
                              empty_labels=empty_labels)


def dataset_options(root: Path, *, label_format: Optional[str] = None, unknown_labels: Optional[str] = None,
                    empty_labels: Optional[str] = None, default_format: str = "trainid",
                    format_fixed: bool = False) -> dict[str, str]:
    """The label options of a dataset: explicit arguments, else ``root/pfr_dataset.json``, else defaults.

    Args:
        root: the dataset root (where ``pfr_dataset.json`` may be).
        label_format, unknown_labels, empty_labels: explicit choices (``None`` = not given).
        default_format: the format when neither an argument nor the file sets one.
        format_fixed: the dataset's files define their format (GTA5, Cityscapes): a
            ``label_format`` other than ``default_format`` is an error.

    Returns:
        ``{"label_format", "unknown_labels", "empty_labels"}``, checked.

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
        allowed = ("label_format", "unknown_labels", "empty_labels")
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
    return out


def _resize_nearest(label: np.ndarray, size_hw: tuple[int, int]) -> np.ndarray:
    return np.array(Image.fromarray(label).resize((size_hw[1], size_hw[0]), Image.NEAREST))


def _short_list(paths: Sequence, n: int = 5) -> str:
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
                           unknown_labels=self.unknown_labels, empty_labels=self.empty_labels)
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


def _require_dir(path: Path, what: str, layout: str) -> None:
    if not path.is_dir():
        raise FileNotFoundError(f"{what}: directory {path} not found; {layout}")


class GTA5(SegmentationFolder):
    """GTA5 ("Playing for Data", 24,966 frames of 1914 x 1052): the paper's source domain.

    Args:
        root: directory with ``images/NNNNN.png`` and ``labels/NNNNN.png`` (label ids as
            palette PNGs).
        list_file: optional AdaptSegNet-style list, one image file name per line (e.g.
            ``00001.png``); blank lines and ``#`` comments are skipped. Without it, every image
            in ``images/`` (sorted).
        transform: ``(image, label) -> ...``.
        labels: read labels (default) or return all-255 labels.
        unknown_labels: ``"error"`` (default: a label id outside the Cityscapes table is an
            error naming the file) or ``"ignore"`` (such ids become 255). ``None``: from
            ``ROOT/pfr_dataset.json``, else ``"error"``.
        empty_labels: ``"error"`` (default: a label without any class pixel is an error) or
            ``"allow"``; ``None`` as above.

    GTA5 has no official train/val split; :func:`pfrlib.data.from_spec` gives the whole set
    (or the list) for any split. A handful of GTA5 frames have labels whose size differs
    from the image: they are resized (nearest) and counted in ``.resized_labels``.
    """

    def __init__(self, root: str | os.PathLike, list_file: Optional[str | os.PathLike] = None,
                 transform: Optional[Callable] = None, labels: bool = True, unknown_labels: Optional[str] = None,
                 empty_labels: Optional[str] = None) -> None:
        root = Path(root)
        if not root.is_dir():
            raise FileNotFoundError(f"GTA5 root {root} not found; {GTA5_LAYOUT}")
        opts = dataset_options(root, unknown_labels=unknown_labels, empty_labels=empty_labels,
                               default_format="cityscapes_ids", format_fixed=True)
        img_dir, lab_dir = root / "images", root / "labels"
        _require_dir(img_dir, "GTA5", GTA5_LAYOUT)
        if labels:
            _require_dir(lab_dir, "GTA5", GTA5_LAYOUT)
        if list_file is not None:
            list_file = Path(list_file)
            if not list_file.is_file():
                raise FileNotFoundError(f"GTA5 list file {list_file} not found (one image name per line, e.g. 00001.png)")
            names = [ln.strip() for ln in list_file.read_text().splitlines()]
            names = [n for n in names if n and not n.startswith("#")]
            if not names:
                raise ValueError(f"GTA5 list file {list_file} names no images")
            missing = [n for n in names if not (img_dir / n).is_file()]
            if missing:
                raise FileNotFoundError(f"GTA5: {len(missing)} image(s) named in {list_file} are missing from {img_dir}: "
                                        f"{_short_list(missing)}")
        else:
            names = sorted(p.name for p in img_dir.iterdir() if p.suffix.lower() == ".png")
            if not names:
                raise ValueError(f"GTA5: no .png images in {img_dir}; {GTA5_LAYOUT}")
        items: list[tuple[Path, Optional[Path]]] = []
        if labels:
            no_label = [n for n in names if not (lab_dir / n).is_file()]
            if no_label:
                raise FileNotFoundError(f"GTA5: {len(no_label)} image(s) have no label in {lab_dir}: {_short_list(no_label)}")
            if list_file is None:
                stray = sorted(set(p.name for p in lab_dir.iterdir() if p.suffix.lower() == ".png") - set(names))
                if stray:
                    raise FileNotFoundError(f"GTA5: {len(stray)} label(s) in {lab_dir} have no image in {img_dir}: "
                                            f"{_short_list(stray)}")
            items = [(img_dir / n, lab_dir / n) for n in names]
        else:
            items = [(img_dir / n, None) for n in names]
        super().__init__(items, "cityscapes_ids", f"gta5:{root}", transform,
                         opts["unknown_labels"], opts["empty_labels"])
        self.root = root


class Cityscapes(SegmentationFolder):
    """Cityscapes (fine annotations): the paper's target domain (train: 2,975, val: 500 frames).

    Args:
        root: directory with ``leftImg8bit/`` and ``gtFine/`` (the layout torchvision's
            ``Cityscapes`` reads).
        split: ``"train"``, ``"val"`` or ``"test"``.
        transform: ``(image, label) -> ...``.
        labels: ``False`` for unlabelled target training (no ``gtFine`` needed; all-255 labels).
        unknown_labels, empty_labels: as :class:`GTA5` (``None``: ``ROOT/pfr_dataset.json``,
            else ``"error"``).

    For each frame the label is ``*_gtFine_labelIds.png`` (label ids, mapped to trainIds with
    the cityscapesscripts table), or, where only that is present, ``*_gtFine_labelTrainIds.png``
    (written by cityscapesscripts' ``csCreateTrainIdLabelImgs``; already trainIds).
    """

    SPLITS: tuple[str, ...] = ("train", "val", "test")

    def __init__(self, root: str | os.PathLike, split: str = "train", transform: Optional[Callable] = None,
                 labels: bool = True, unknown_labels: Optional[str] = None, empty_labels: Optional[str] = None) -> None:
        root = Path(root)
        if split not in self.SPLITS:
            raise ValueError(f"Cityscapes split must be one of {self.SPLITS}, got {split!r}")
        if not root.is_dir():
            raise FileNotFoundError(f"Cityscapes root {root} not found; {CITYSCAPES_LAYOUT}")
        opts = dataset_options(root, unknown_labels=unknown_labels, empty_labels=empty_labels,
                               default_format="cityscapes_ids", format_fixed=True)
        img_root = root / "leftImg8bit" / split
        _require_dir(img_root, f"Cityscapes split {split!r}", CITYSCAPES_LAYOUT)
        images = sorted(img_root.glob("*/*_leftImg8bit.png"))
        if not images:
            raise ValueError(f"Cityscapes split {split!r}: no *_leftImg8bit.png files under {img_root}/<city>/; "
                             f"{CITYSCAPES_LAYOUT}")
        items: list[tuple[Path, Optional[Path]]] = []
        encodings: list[str] = []
        if labels:
            lab_root = root / "gtFine" / split
            _require_dir(lab_root, f"Cityscapes split {split!r} labels", CITYSCAPES_LAYOUT)
            no_label = []
            for img in images:
                stem = img.name[: -len("_leftImg8bit.png")]
                city = img.parent.name
                ids = lab_root / city / f"{stem}_gtFine_labelIds.png"
                tids = lab_root / city / f"{stem}_gtFine_labelTrainIds.png"
                if ids.is_file():
                    items.append((img, ids))
                    encodings.append("cityscapes_ids")
                elif tids.is_file():
                    items.append((img, tids))
                    encodings.append("trainid")
                else:
                    no_label.append(img)
            if no_label:
                raise FileNotFoundError(
                    f"Cityscapes split {split!r}: {len(no_label)} image(s) have no *_gtFine_labelIds.png "
                    f"(or *_gtFine_labelTrainIds.png) under {lab_root}: {_short_list(no_label)} "
                    f"(pass labels=False for unlabelled target training)")
            stems = {(p.parent.name, p.name[: -len("_leftImg8bit.png")]) for p in images}
            stray = sorted(p for p in lab_root.glob("*/*_gtFine_label*Ids.png")
                           if (p.parent.name, p.name.split("_gtFine_")[0]) not in stems)
            if stray:
                raise FileNotFoundError(f"Cityscapes split {split!r}: {len(stray)} label(s) have no image under "
                                        f"{img_root}: {_short_list(stray)}")
        else:
            items = [(img, None) for img in images]
            encodings = ["cityscapes_ids"] * len(items)
        super().__init__(items, "cityscapes_ids", f"cityscapes:{root}:{split}", transform,
                         opts["unknown_labels"], opts["empty_labels"])
        self._encodings = encodings
        self.root, self.split = root, split

    def label_format(self, index: int) -> str:
        """``"cityscapes_ids"`` for ``*_labelIds.png``, ``"trainid"`` for ``*_labelTrainIds.png``."""
        return self._encodings[index]

    def load(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """As :meth:`SegmentationFolder.load`; an empty label of the test split says why."""
        try:
            return super().load(index)
        except DataFileError as err:
            if self.split == "test" and "no pixel of any class" in str(err):
                raise DataFileError(f"{err} (Cityscapes test labels are withheld by the benchmark: evaluate on "
                                    f"the val split, or open the test split with labels=False)", err.path) from err
            raise


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
        _require_dir(img_dir, f"folder dataset {root}", FOLDER_LAYOUT)
        images = sorted(p for p in img_dir.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file())
        if not images:
            raise ValueError(f"folder dataset: no images ({', '.join(IMAGE_EXTENSIONS)}) in {img_dir}")
        stems = [p.stem for p in images]
        dup = sorted({s for s in stems if stems.count(s) > 1})
        if dup:
            raise ValueError(f"folder dataset: several images share a name in {img_dir}: {_short_list(dup)}")
        use_labels = lab_dir.is_dir() if labels is None else bool(labels)
        if use_labels:
            _require_dir(lab_dir, f"folder dataset {root} (labels=True)", FOLDER_LAYOUT)
            labs = {p.stem: p for p in lab_dir.iterdir() if p.suffix.lower() == ".png" and p.is_file()}
            no_label = [p for p in images if p.stem not in labs]
            if no_label:
                raise FileNotFoundError(f"folder dataset: {len(no_label)} image(s) have no label (same name, .png) "
                                        f"in {lab_dir}: {_short_list(no_label)}")
            stray = sorted(set(labs) - set(stems))
            if stray:
                raise FileNotFoundError(f"folder dataset: {len(stray)} label(s) in {lab_dir} have no image in "
                                        f"{img_dir}: {_short_list([labs[s] for s in stray])}")
            items = [(p, labs[p.stem]) for p in images]
        else:
            items = [(p, None) for p in images]
        super().__init__(items, opts["label_format"], f"folder:{base}", transform,
                         opts["unknown_labels"], opts["empty_labels"])
        self.root, self.split = root, split
