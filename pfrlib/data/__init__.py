"""Datasets and transforms.

* :class:`SynthStreets` - the embedded two-domain benchmark (procedural street scenes, a
  game-like source and a real-like target; :class:`SynthShift` names the shift's components).
* :class:`GTA5`, :class:`Cityscapes` - the paper's datasets, as distributed.
* :class:`FolderDataset` - ``images/`` + optional ``labels/``: plug in your own domains.
* :func:`from_spec` - build any of them from a string such as ``synth:target`` or
  ``cityscapes:/data/cs:val``; :func:`build_dataset` - the same with a ``DataConfig``'s options.
* :mod:`pfrlib.data.streams` - the seeded, endless training streams (bit-exact resume).
* :mod:`pfrlib.data.transforms` - ``normalize`` / ``TrainTransform`` / ``EvalTransform``.
* :mod:`pfrlib.data.labels` - Cityscapes id -> trainId table, names and palette (from
  cityscapesscripts).
* :mod:`pfrlib.data.palette` - :func:`~pfrlib.data.palette.colorize`: trainIds -> RGB colours.

Every dataset item, with no transform, is ``(image, label)``: image a uint8 tensor 3 x H x W
(RGB), label an int64 tensor H x W of Cityscapes trainIds, 255 = ignore. Every dataset has
``num_classes`` (19), ``class_ids`` (the trainIds it can contain: mIoU averages over these),
``has_labels`` and ``name``.

Label files are checked as they are read: a value that is neither a class id nor 255, or a
label without any class pixel, is a :class:`DataFileError` (a ``ValueError``) naming the file;
so is a missing or corrupt file. The message stays one line when the error is raised in a
DataLoader worker (see :mod:`pfrlib.data.errors`).
"""

from __future__ import annotations

from .errors import DataFileError
from .labels import CLASS_NAMES, IGNORE_INDEX, LABEL_FORMATS, NUM_CLASSES, PALETTE, ids_to_train_ids, label_to_train_ids
from .real import GTA5, Cityscapes, FolderDataset, read_image, read_label
from .spec import build_dataset, from_spec, parse_spec
from .synthstreets import SYNTH19_CLASS_IDS, SYNTH_CLASS_IDS, SynthShift, SynthShift19, SynthStreets
from .transforms import EvalTransform, TrainTransform, denormalize, normalize

__all__ = [
    "SynthStreets",
    "SynthShift",
    "SynthShift19",
    "SYNTH_CLASS_IDS",
    "SYNTH19_CLASS_IDS",
    "GTA5",
    "Cityscapes",
    "FolderDataset",
    "from_spec",
    "build_dataset",
    "parse_spec",
    "normalize",
    "denormalize",
    "TrainTransform",
    "EvalTransform",
    "CLASS_NAMES",
    "PALETTE",
    "NUM_CLASSES",
    "IGNORE_INDEX",
    "ids_to_train_ids",
    "read_image",
    "read_label",
    "DataFileError",
    "LABEL_FORMATS",
    "label_to_train_ids",
]
