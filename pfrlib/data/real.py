"""Loaders for the paper's datasets as they ship: GTA5 (source) and Cityscapes (target).

Both return, with no transform, ``(image, label)``: the image as stored (uint8 tensor 3 x H x W,
RGB) and the label as an int64 tensor H x W of Cityscapes trainIds (255 = ignore; an unlabelled
item is all 255). Their label files hold *label ids*, checked against what each dataset declares
(:data:`pfrlib.data.labels.STORED_IDS`: GTA5 0..34, where 34 becomes ignore; Cityscapes
``gtFine_labelIds`` 0..33); Cityscapes ``*_labelTrainIds.png`` hold trainIds. A value outside the
declared set is a :class:`~pfrlib.data.DataFileError` naming the file.

A tree with another number of files than the release (a zip part not unpacked, a city missing)
is named in a :class:`~pfrlib.data.releases.PartialDownloadWarning` (an error with
``strict=True``); images without labels, or labels without images, are always an error naming
which frames or cities lack them. See :mod:`pfrlib.data.releases` and ``docs/datasets.md``.

Reading, checking and the per-item options are the base class's
(:class:`pfrlib.data.folder.SegmentationFolder`); this module only lists the items.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Optional

from pfrlib.data.errors import DataFileError
from pfrlib.data.folder import SegmentationFolder, dataset_options, require_dir, short_list
from pfrlib.data.releases import city_counts, cityscapes_problems, frame_ranges, gta5_problems, report_partial

__all__ = ["GTA5", "Cityscapes"]


GTA5_LAYOUT = """expected the GTA5 layout (as downloaded from https://download.visinf.tu-darmstadt.de/data/from_games/):
  ROOT/images/00001.png ...   RGB frames
  ROOT/labels/00001.png ...   Cityscapes label ids, palette PNGs"""

CITYSCAPES_LAYOUT = """expected the Cityscapes layout (leftImg8bit_trainvaltest.zip + gtFine_trainvaltest.zip):
  ROOT/leftImg8bit/{split}/{city}/{city}_{seq}_{frame}_leftImg8bit.png
  ROOT/gtFine/{split}/{city}/{city}_{seq}_{frame}_gtFine_labelIds.png   (or *_gtFine_labelTrainIds.png)"""


class GTA5(SegmentationFolder):
    """GTA5 ("Playing for Data", 24,966 frames of 1914 x 1052): the paper's source domain.

    Args:
        root: directory with ``images/NNNNN.png`` and ``labels/NNNNN.png`` (label ids 0..34 as
            palette PNGs; 34 is not a Cityscapes id and becomes ignore).
        list_file: optional AdaptSegNet-style list, one image file name per line (e.g.
            ``00001.png``); blank lines and ``#`` comments are skipped. Without it, every image
            in ``images/`` (sorted), compared with the release's 24,966 frames.
        transform: ``(image, label) -> ...``.
        labels: read labels (default) or return all-255 labels.
        unknown_labels: ``"error"`` (default: a value outside 0..34 is an error naming the file)
            or ``"ignore"`` (such values become 255). ``None``: from ``ROOT/pfr_dataset.json``,
            else ``"error"``.
        empty_labels: ``"error"`` (default: a label without any class pixel is an error) or
            ``"allow"``; ``None`` as above.
        strict: a tree without ``list_file`` that does not hold frames 00001..24966 is an error
            (default: a :class:`~pfrlib.data.releases.PartialDownloadWarning` naming the missing
            frames); ``None`` as above, else ``False``.

    GTA5 has no official train/val split; :func:`pfrlib.data.from_spec` gives the whole set
    (or the list) for any split. A handful of GTA5 frames have labels whose size differs
    from the image: they are resized (nearest) and counted in ``.resized_labels``.
    """

    label_ids = "gta5"

    def __init__(self, root: str | os.PathLike, list_file: Optional[str | os.PathLike] = None,
                 transform: Optional[Callable] = None, labels: bool = True, unknown_labels: Optional[str] = None,
                 empty_labels: Optional[str] = None, strict: Optional[bool] = None) -> None:
        root = Path(root)
        if not root.is_dir():
            raise FileNotFoundError(f"GTA5 root {root} not found; {GTA5_LAYOUT}")
        opts = dataset_options(root, unknown_labels=unknown_labels, empty_labels=empty_labels,
                               default_format="cityscapes_ids", format_fixed=True, strict=strict)
        img_dir, lab_dir = root / "images", root / "labels"
        require_dir(img_dir, "GTA5", GTA5_LAYOUT)
        if labels:
            require_dir(lab_dir, "GTA5", GTA5_LAYOUT)
        if list_file is not None:
            names = _read_list(Path(list_file), img_dir)
        else:
            names = sorted(p.name for p in img_dir.iterdir() if p.suffix.lower() == ".png")
            if not names:
                raise ValueError(f"GTA5: no .png images in {img_dir}; {GTA5_LAYOUT}")
            report_partial(f"GTA5 {root}", gta5_problems(names), opts["strict"],
                           hint=" - or name the frames in a list_file")
        items: list[tuple[Path, Optional[Path]]] = []
        if labels:
            no_label = [n for n in names if not (lab_dir / n).is_file()]
            if no_label:
                raise FileNotFoundError(f"GTA5: {len(no_label)} image(s) have no label in {lab_dir}: "
                                        f"{_frames_or_names(no_label)} (a labels zip part not unpacked?)")
            if list_file is None:
                stray = sorted(set(p.name for p in lab_dir.iterdir() if p.suffix.lower() == ".png") - set(names))
                if stray:
                    raise FileNotFoundError(f"GTA5: {len(stray)} label(s) in {lab_dir} have no image in {img_dir}: "
                                            f"{_frames_or_names(stray)} (an images zip part not unpacked?)")
            items = [(img_dir / n, lab_dir / n) for n in names]
        else:
            items = [(img_dir / n, None) for n in names]
        super().__init__(items, "cityscapes_ids", f"gta5:{root}", transform,
                         opts["unknown_labels"], opts["empty_labels"])
        self.root = root


def _read_list(list_file: Path, img_dir: Path) -> list[str]:
    """The image names of an AdaptSegNet-style GTA5 list file, each checked to exist."""
    if not list_file.is_file():
        raise FileNotFoundError(f"GTA5 list file {list_file} not found (one image name per line, e.g. 00001.png)")
    names = [ln.strip() for ln in list_file.read_text().splitlines()]
    names = [n for n in names if n and not n.startswith("#")]
    if not names:
        raise ValueError(f"GTA5 list file {list_file} names no images")
    missing = [n for n in names if not (img_dir / n).is_file()]
    if missing:
        raise FileNotFoundError(f"GTA5: {len(missing)} image(s) named in {list_file} are missing from {img_dir}: "
                                f"{short_list(missing)}")
    return names


def _frames_or_names(names: list[str]) -> str:
    """GTA5 file names as frame ranges (``frames 02501..05000``) when they are numbered, else listed."""
    if all(len(n) == 9 and n[:5].isdigit() and n.endswith(".png") for n in names):
        return f"frames {frame_ranges(int(n[:5]) for n in names)} ({short_list(names, 3)})"
    return short_list(names)


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
        strict: a train / val split whose cities or per-city counts differ from the release is an
            error (default: a :class:`~pfrlib.data.releases.PartialDownloadWarning`).

    For each frame the label is ``*_gtFine_labelIds.png`` (label ids 0..33, mapped to trainIds
    with the cityscapesscripts table), or, where only that is present,
    ``*_gtFine_labelTrainIds.png`` (written by cityscapesscripts' ``csCreateTrainIdLabelImgs``;
    already trainIds). The ``*_instanceIds.png``, ``*_color.png`` and ``*_polygons.json`` files
    shipped beside them are not read.
    """

    SPLITS: tuple[str, ...] = ("train", "val", "test")
    label_ids = "cityscapes"

    def __init__(self, root: str | os.PathLike, split: str = "train", transform: Optional[Callable] = None,
                 labels: bool = True, unknown_labels: Optional[str] = None, empty_labels: Optional[str] = None,
                 strict: Optional[bool] = None) -> None:
        root = Path(root)
        if split not in self.SPLITS:
            raise ValueError(f"Cityscapes split must be one of {self.SPLITS}, got {split!r}")
        if not root.is_dir():
            raise FileNotFoundError(f"Cityscapes root {root} not found; {CITYSCAPES_LAYOUT}")
        opts = dataset_options(root, unknown_labels=unknown_labels, empty_labels=empty_labels,
                               default_format="cityscapes_ids", format_fixed=True, strict=strict)
        img_root = root / "leftImg8bit" / split
        require_dir(img_root, f"Cityscapes split {split!r}", CITYSCAPES_LAYOUT)
        images = sorted(img_root.glob("*/*_leftImg8bit.png"))
        if not images:
            raise ValueError(f"Cityscapes split {split!r}: no *_leftImg8bit.png files under {img_root}/<city>/; "
                             f"{CITYSCAPES_LAYOUT}")
        report_partial(f"Cityscapes {root} split {split!r}", cityscapes_problems(split, images), opts["strict"])
        items: list[tuple[Path, Optional[Path]]] = []
        encodings: list[str] = []
        if labels:
            lab_root = root / "gtFine" / split
            require_dir(lab_root, f"Cityscapes split {split!r} labels", CITYSCAPES_LAYOUT)
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
                    f"(or *_gtFine_labelTrainIds.png) under {lab_root}, {_per_city(no_label)}: "
                    f"{short_list(no_label, 3)} (gtFine_trainvaltest.zip not fully unpacked? "
                    f"pass labels=False for unlabelled target training)")
            stems = {(p.parent.name, p.name[: -len("_leftImg8bit.png")]) for p in images}
            stray = sorted(p for p in lab_root.glob("*/*_gtFine_label*Ids.png")
                           if (p.parent.name, p.name.split("_gtFine_")[0]) not in stems)
            if stray:
                raise FileNotFoundError(f"Cityscapes split {split!r}: {len(stray)} label(s) have no image under "
                                        f"{img_root}, {_per_city(stray)}: {short_list(stray, 3)} "
                                        f"(leftImg8bit_trainvaltest.zip not fully unpacked?)")
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


def _per_city(files: list[Path]) -> str:
    """``"in cities bremen (316), ulm (2)"``: where files of a Cityscapes split are."""
    counts = sorted(city_counts(files).items(), key=lambda kv: -kv[1])
    shown = ", ".join(f"{c} ({n})" for c, n in counts[:3])
    return f"in cities {shown}" + (f" and {len(counts) - 3} more" if len(counts) > 3 else "")
