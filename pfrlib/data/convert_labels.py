"""Convert a folder of Cityscapes label-id PNGs (0..33) to trainId PNGs (0..18, 255 = ignore).

::

    python -m pfrlib.data.convert_labels data/mine/labels_ids data/mine/labels
    python -m pfrlib.data.convert_labels --ids gta5 data/gta5/labels data/gta5_trainids

``--ids`` says which files they are, a key of :data:`pfrlib.data.labels.STORED_IDS` (the table
the loaders read): ``cityscapes_ids`` (default: files of your own, 0..33 or 255), ``gta5``
(0..34; 34 becomes 255) or ``cityscapes`` (``gtFine_labelIds``, 0..33).

Use it when a folder dataset's labels hold Cityscapes *label ids* where trainIds are expected
(the loader's error message says so), or open the dataset with
``label_format="cityscapes_ids"`` instead. Values are checked (an id outside the Cityscapes
table is an error naming the file), and every file is written atomically.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Optional

import numpy as np
from PIL import Image

from pfrlib.io import atomic_write
from pfrlib.data.errors import DataFileError
from pfrlib.data.labels import STORED_IDS, label_to_train_ids

__all__ = ["convert_label_folder", "main"]


def convert_label_folder(src: str | os.PathLike, dst: str | os.PathLike, overwrite: bool = False,
                         ids: str = "cityscapes_ids") -> int:
    """Convert every Cityscapes label-id PNG in ``src`` to a trainId PNG of the same name in ``dst``.

    Values are checked as :func:`label_to_train_ids` does (``"cityscapes_ids"`` against
    ``STORED_IDS[ids]``); each file is written atomically; an existing destination file is an
    error unless ``overwrite``.

    Returns:
        the number of files written.

    Raises:
        FileNotFoundError: ``src`` is not a directory or holds no PNG; FileExistsError;
        DataFileError naming a label that cannot be converted.
    """
    if ids not in STORED_IDS:
        raise ValueError(f"ids: expected one of {sorted(STORED_IDS)}, got {ids!r}")
    src, dst = Path(src), Path(dst)
    if not src.is_dir():
        raise FileNotFoundError(f"label folder {src} not found")
    files = sorted(p for p in src.iterdir() if p.suffix.lower() == ".png" and p.is_file())
    if not files:
        raise FileNotFoundError(f"label folder {src} holds no .png files")
    if src.resolve() == dst.resolve():
        raise ValueError(f"destination {dst} is the source folder; write the trainIds to a new folder")
    if not overwrite:
        clash = [p.name for p in files if (dst / p.name).exists()]
        if clash:
            raise FileExistsError(f"{len(clash)} file(s) already exist in {dst} (e.g. {clash[0]}); "
                                  f"pass --overwrite to replace them")
    for p in files:
        try:
            with Image.open(p) as im:
                im.load()
                raw = np.asarray(im)
        except (OSError, SyntaxError, ValueError) as err:
            raise DataFileError(f"cannot decode label {p} (corrupt or truncated file?): {err}", p) from err
        if raw.ndim != 2:
            raise DataFileError(f"label {p} has {raw.ndim} dimensions; expected a single-channel PNG of ids", p)
        out = label_to_train_ids(raw, "cityscapes_ids", path=p, empty_labels="allow", ids=ids)
        img = Image.fromarray(out, mode="L")
        atomic_write(dst / p.name, lambda f, img=img: img.save(f, format="PNG"))
    return len(files)


def main(argv: Optional[list[str]] = None) -> int:
    """``python -m pfrlib.data.convert_labels SRC DST``: Cityscapes label ids -> trainId PNGs."""
    p = argparse.ArgumentParser(prog="python -m pfrlib.data.convert_labels",
                                description="Convert a folder of Cityscapes label-id PNGs (0..33) to trainId PNGs "
                                            "(0..18, 255 = ignore), as FolderDataset expects.")
    p.add_argument("src", help="folder of label-id PNGs")
    p.add_argument("dst", help="folder for the trainId PNGs (same file names)")
    p.add_argument("--overwrite", action="store_true", help="replace existing files in DST")
    p.add_argument("--ids", choices=sorted(STORED_IDS), default="cityscapes_ids",
                   help="which label-id files SRC holds: " + "; ".join(
                       f"{k}: {v.name} {v.text}" for k, v in STORED_IDS.items()) + " (default: cityscapes_ids)")
    args = p.parse_args(argv)
    try:
        n = convert_label_folder(args.src, args.dst, overwrite=args.overwrite, ids=args.ids)
    except (ValueError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print(f"wrote {n} trainId label(s) to {args.dst}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
