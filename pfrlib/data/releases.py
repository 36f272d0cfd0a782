"""What GTA5 and Cityscapes ship, and the check that names a partial download.

A tree that holds fewer files than the release (one of GTA5's ten zip parts not unpacked, a city
missing from Cityscapes) trains and evaluates without any error, on other data than the paper's.
The loaders compare the tree with the numbers below and say which part looks missing: a
:class:`PartialDownloadWarning` by default (a subset on purpose, a test fixture, a ``--limit``
run stay usable), a :class:`PartialDownloadError` with ``strict=True`` (or ``{"strict": true}``
in the dataset root's ``pfr_dataset.json``). Images without a label (or labels without an image)
are always an error: :func:`frame_ranges` and :func:`city_counts` word those messages too.

The numbers:

* GTA5 ("Playing for Data", https://download.visinf.tu-darmstadt.de/data/from_games/): 24,966
  frames ``00001.png`` .. ``24966.png`` in ``images/`` and ``labels/``, downloaded in 10 parts
  (``01_images.zip`` .. ``10_images.zip``, ``01_labels.zip`` .. ``10_labels.zip``), as the
  project page and loaders that read it say (e.g. david-vazquez/dataset_loaders ``gta5.py``:
  "24966 densely labelled frames split into 10 parts").
* Cityscapes fine annotations (https://www.cityscapes-dataset.com, ``leftImg8bit_trainvaltest.zip``
  + ``gtFine_trainvaltest.zip``): train 2,975 images in 18 cities, val 500 in 3, per city as
  counted below (the same per-city counts appear in public domain-adaptation code; val: frankfurt
  267 + lindau 59 + munster 174). The test split (1,525 images, labels withheld) is not checked.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import Iterable, Sequence

from pfrlib.data.errors import DataFileError

__all__ = ["GTA5_FRAMES", "GTA5_PARTS", "CITYSCAPES_CITIES", "PartialDownloadWarning", "PartialDownloadError",
           "gta5_problems", "cityscapes_problems", "report_partial", "frame_ranges", "city_counts"]

#: Frames in the GTA5 release, numbered 1..24,966 (``00001.png``).
GTA5_FRAMES: int = 24_966
#: Zip parts the GTA5 release is downloaded in (images and labels each).
GTA5_PARTS: int = 10

#: Images per city in each Cityscapes split of ``leftImg8bit_trainvaltest.zip`` (fine annotations).
CITYSCAPES_CITIES: dict[str, dict[str, int]] = {
    "train": {"aachen": 174, "bochum": 96, "bremen": 316, "cologne": 154, "darmstadt": 85, "dusseldorf": 221,
              "erfurt": 109, "hamburg": 248, "hanover": 196, "jena": 119, "krefeld": 99, "monchengladbach": 94,
              "strasbourg": 365, "stuttgart": 196, "tubingen": 144, "ulm": 95, "weimar": 142, "zurich": 122},
    "val": {"frankfurt": 267, "lindau": 59, "munster": 174},
}
assert sum(CITYSCAPES_CITIES["train"].values()) == 2975 and sum(CITYSCAPES_CITIES["val"].values()) == 500

_SHOW = 3  # names / ranges listed in a message before "... and N more"
_GTA5_NAME = re.compile(r"^(\d{5})\.png$")


class PartialDownloadWarning(UserWarning):
    """A GTA5 / Cityscapes tree holds another number of files than the release."""


class PartialDownloadError(DataFileError):
    """The same, with ``strict=True``: one line naming the dataset and what looks missing."""


def _more(items: Sequence[str], total: int | None = None) -> str:
    total = len(items) if total is None else total
    shown = ", ".join(items[:_SHOW])
    return shown + (f" and {total - _SHOW} more" if total > _SHOW else "")


def frame_ranges(numbers: Iterable[int]) -> str:
    """GTA5 frame numbers as ranges: ``[1, 2, 3, 7]`` -> ``"00001..00003, 00007"`` (first few runs)."""
    runs: list[tuple[int, int]] = []
    for n in sorted(set(numbers)):
        if runs and n == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], n)
        else:
            runs.append((n, n))
    text = [f"{a:05d}" if a == b else f"{a:05d}..{b:05d}" for a, b in runs]
    return _more(text) + (" ranges" if len(runs) > _SHOW else "")


def city_counts(images: Iterable[Path]) -> dict[str, int]:
    """``{city: number of images}`` of Cityscapes files (the city is the parent folder)."""
    out: dict[str, int] = {}
    for p in images:
        out[p.parent.name] = out.get(p.parent.name, 0) + 1
    return out


def gta5_problems(names: Sequence[str]) -> list[str]:
    """What a GTA5 ``images/`` listing lacks or has beyond the release ([] = complete).

    Args:
        names: the image file names found (``00001.png`` ...).
    """
    numbers = {int(m.group(1)) for m in map(_GTA5_NAME.match, names) if m}
    foreign = sorted(n for n in names if not _GTA5_NAME.match(n) or not 1 <= int(n[:5]) <= GTA5_FRAMES)
    missing = [n for n in range(1, GTA5_FRAMES + 1) if n not in numbers]
    problems = []
    if missing:
        problems.append(f"holds {len(names):,} of the release's {GTA5_FRAMES:,} frames ({GTA5_PARTS} zip parts): "
                        f"frames {frame_ranges(missing)} are missing")
    if foreign:
        problems.append(f"{len(foreign)} file(s) the release does not have: {_more(foreign)}")
    return problems


def cityscapes_problems(split: str, images: Sequence[Path]) -> list[str]:
    """What a Cityscapes split lacks or has beyond the release ([] = complete or not checked).

    Args:
        split: ``"train"`` / ``"val"`` (``"test"`` is not checked).
        images: the ``*_leftImg8bit.png`` files found, under ``leftImg8bit/{split}/{city}/``.
    """
    shipped = CITYSCAPES_CITIES.get(split)
    if shipped is None:
        return []
    found = city_counts(images)
    total = sum(shipped.values())
    missing = [c for c in shipped if c not in found]
    short = [f"{c} {found[c]} of {n}" for c, n in shipped.items() if c in found and found[c] < n]
    extra = [f"{c} {found[c]} of {shipped[c]}" for c in shipped if found.get(c, 0) > shipped[c]]
    foreign = sorted(c for c in found if c not in shipped)
    problems = []
    if missing or short or extra:
        parts = [f"holds {len(images):,} of the release's {total:,} {split} images ({len(shipped)} cities)"]
        if missing:
            parts.append(f"cities missing: {_more(missing)}")
        if short:
            parts.append(f"cities with fewer images: {_more(short)}")
        if extra:
            parts.append(f"cities with more images than the release: {_more(extra)}")
        problems.append("; ".join(parts))
    if foreign:
        problems.append(f"folders that are not {split} cities of the release: {_more(foreign)}")
    return problems


def report_partial(what: str, problems: Sequence[str], strict: bool, hint: str = "") -> None:
    """Warn (or, ``strict``, raise) once for a tree that is not the whole release.

    Args:
        what: the dataset, e.g. ``"GTA5 /data/gta5"``.
        problems: from :func:`gta5_problems` / :func:`cityscapes_problems`; nothing happens if empty.
        strict: raise :class:`PartialDownloadError` instead of warning.
        hint: how to use a subset on purpose (appended).
    """
    if not problems:
        return
    msg = f"{what}: " + "; ".join(problems) + " - a partial download?"
    if strict:
        raise PartialDownloadError(msg + " (strict: refusing to use it; unpack the missing parts)")
    warnings.warn(msg + f" (a subset on purpose is fine{hint}; strict=True makes this an error)",
                  PartialDownloadWarning, stacklevel=3)
