"""Tiny GTA5 and Cityscapes trees in the layouts the datasets ship in (test helper, not a test).

Built from the datasets' documentation and the code that reads them elsewhere, never from
pfrlib's tables:

* GTA5 ("Playing for Data", https://download.visinf.tu-darmstadt.de/data/from_games/):
  ``images/NNNNN.png`` RGB frames and ``labels/NNNNN.png`` palette PNGs whose indices are label
  ids 0..34 (Cityscapes ids, plus 34, which GTA5 loaders such as LTTM/SELMA's map to ignore); the
  palette gives each id its Cityscapes colour (cityscapesscripts' table; 34 gets the licence
  plate's). A few GTA5 frames have a label of another size than the image.
* Cityscapes (cityscapesscripts' naming, ``{city}_{seq:06d}_{frame:06d}_...``):
  ``leftImg8bit/{split}/{city}/*_leftImg8bit.png`` and, in ``gtFine/{split}/{city}/``,
  ``*_gtFine_polygons.json`` with the ``*_gtFine_labelIds.png``, ``*_gtFine_instanceIds.png``
  and ``*_gtFine_color.png`` that cityscapesscripts' own ``json2labelImg`` / ``createInstanceImage``
  draw from it (a licence plate polygon included: the tool does not draw it).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from cityscapesscripts.helpers.labels import labels as CS_LABELS
from cityscapesscripts.helpers.labels import name2label
from cityscapesscripts.helpers.annotation import Annotation
from cityscapesscripts.preparation.json2instanceImg import createInstanceImage
from cityscapesscripts.preparation.json2labelImg import json2labelImg
from PIL import Image

#: The values GTA5 label files hold: Cityscapes ids 0..33 and 34.
GTA5_IDS = list(range(35))
#: Cityscapes label ids a ``gtFine_labelIds.png`` can hold (every id >= 0 of cityscapesscripts' table).
CS_IDS = sorted(l.id for l in CS_LABELS if l.id >= 0)


def save_rgb(path: Path, h: int, w: int, seed: int) -> np.ndarray:
    path.parent.mkdir(parents=True, exist_ok=True)
    img = np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)
    Image.fromarray(img).save(path)
    return img


def gta5_palette() -> list[int]:
    """256 RGB entries: each Cityscapes id's colour (cityscapesscripts), 34 the licence plate's."""
    colours = {l.id: l.color for l in CS_LABELS if l.id >= 0}
    colours[34] = name2label["license plate"].color
    return [v for i in range(256) for v in colours.get(i, (0, 0, 0))]


def gta5_label(h: int, w: int, shift: int = 0) -> np.ndarray:
    """Column bands cycling through every GTA5 id 0..34 (shifted per frame)."""
    ids = np.array(GTA5_IDS, np.uint8)
    cols = ids[(np.arange(w) + shift) % len(ids)]
    return np.repeat(cols[None], h, axis=0)


def save_gta5_label(path: Path, ids: np.ndarray) -> None:
    """A palette ('P') PNG whose indices are the ids, as GTA5 distributes its labels."""
    path.parent.mkdir(parents=True, exist_ok=True)
    im = Image.fromarray(ids.astype(np.uint8), mode="L").convert("P")
    im.putpalette(gta5_palette())
    im.save(path)


def make_gta5(root: Path, frames=(1, 2, 3, 4), size=(36, 66), odd_label: int | None = None) -> Path:
    """A GTA5 tree with the given frame numbers; frame ``odd_label`` gets a label 2 rows taller."""
    h, w = size
    for n in frames:
        save_rgb(root / "images" / f"{n:05d}.png", h, w, seed=n)
        lh = h + 2 if n == odd_label else h
        save_gta5_label(root / "labels" / f"{n:05d}.png", gta5_label(lh, w, shift=n))
    return root


def cityscapes_polygons(h: int, w: int, shift: int = 0) -> dict:
    """A gtFine polygon annotation: a column band for every label of the table with an id >= 0,
    then a car with a licence plate on it (the plate, id -1, is never drawn by json2labelImg)."""
    names = [l.name for l in CS_LABELS if l.id >= 0]
    band = max(1, w // len(names))
    objects = []
    for i, name in enumerate(names[shift % len(names):] + names[:shift % len(names)]):
        x0, x1 = i * band, min(w, (i + 1) * band) - 1
        objects.append({"label": name, "polygon": [[x0, 0], [x1, 0], [x1, h - 1], [x0, h - 1]]})
    cx = w // 3
    objects.append({"label": "car", "polygon": [[cx, h // 2], [cx + 8, h // 2], [cx + 8, h - 4], [cx, h - 4]]})
    objects.append({"label": "license plate",
                    "polygon": [[cx + 2, h - 7], [cx + 6, h - 7], [cx + 6, h - 5], [cx + 2, h - 5]]})
    return {"imgHeight": h, "imgWidth": w, "objects": objects}


def cityscapes_frame(root: Path, split: str, city: str, seq: int, frame: int = 19, size=(34, 68),
                     shift: int = 0) -> str:
    """One Cityscapes frame with every gtFine file the release ships; returns its stem."""
    h, w = size
    stem = f"{city}_{seq:06d}_{frame:06d}"
    save_rgb(root / "leftImg8bit" / split / city / f"{stem}_leftImg8bit.png", h, w, seed=seq * 7 + frame)
    gt = root / "gtFine" / split / city
    gt.mkdir(parents=True, exist_ok=True)
    poly = gt / f"{stem}_gtFine_polygons.json"
    poly.write_text(json.dumps(cityscapes_polygons(h, w, shift)))
    json2labelImg(str(poly), str(gt / f"{stem}_gtFine_labelIds.png"), "ids")
    json2labelImg(str(poly), str(gt / f"{stem}_gtFine_color.png"), "color")
    # json2instanceImg draws a 32-bit "I" image that current Pillow cannot save as PNG; the
    # release stores 16-bit PNGs (ids up to 33 * 1000 + instance), so draw with its function and save those
    annotation = Annotation()
    annotation.fromJsonFile(str(poly))
    inst = np.asarray(createInstanceImage(annotation, "ids")).astype(np.uint16)
    Image.fromarray(inst).save(gt / f"{stem}_gtFine_instanceIds.png")
    return stem


def make_cityscapes(root: Path, size=(34, 68)) -> Path:
    """Two cities per split, two frames per city (train: aachen, bochum; val: frankfurt, lindau)."""
    k = 0
    for split, cities in (("train", ("aachen", "bochum")), ("val", ("frankfurt", "lindau"))):
        for city in cities:
            for seq in (0, 1):
                cityscapes_frame(root, split, city, seq, size=size, shift=k)
                k += 5
    return root
