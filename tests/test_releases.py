"""GTA5 and Cityscapes as they ship: the label ids each file may hold, and partial downloads named.

Trees come from tests/shipped_datasets.py (the datasets' documentation and cityscapesscripts'
own tools); the release numbers are checked against lists built here from those documents.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pfrlib.data.real import GTA5, Cityscapes
from pfrlib.data.errors import DataFileError
from pfrlib.data.convert_labels import main as convert_main
from pfrlib.data.labels import STORED_IDS
from pfrlib.data.releases import PartialDownloadError, PartialDownloadWarning, cityscapes_problems, gta5_problems
from shipped_datasets import (CS_IDS, GTA5_IDS, cityscapes_frame, gta5_label, make_cityscapes, make_gta5,
                              save_gta5_label)

# The train / val cities of Cityscapes' fine annotations (18 / 3), as the dataset's documentation
# and loaders list them; 2,975 / 500 images.
TRAIN_CITIES = ["aachen", "bochum", "bremen", "cologne", "darmstadt", "dusseldorf", "erfurt", "hamburg", "hanover",
                "jena", "krefeld", "monchengladbach", "strasbourg", "stuttgart", "tubingen", "ulm", "weimar",
                "zurich"]
VAL_CITIES = {"frankfurt": 267, "lindau": 59, "munster": 174}


def _quiet(fn, *args, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PartialDownloadWarning)
        return fn(*args, **kw)


# ------------------------------------------------------------------ declared label ids
def test_declared_ids_are_what_the_files_hold():
    assert STORED_IDS["gta5"].values == frozenset(GTA5_IDS)
    assert STORED_IDS["cityscapes"].values == frozenset(CS_IDS) == frozenset(range(34))


def test_json2labelImg_never_writes_the_licence_plate(tmp_path: Path):
    """cityscapesscripts draws gtFine_labelIds from the polygons and skips id -1: the plate's pixels
    keep the car beneath, and the files hold ids 0..33 only."""
    make_cityscapes(tmp_path / "cs")
    lab = tmp_path / "cs/gtFine/train/aachen/aachen_000000_000019_gtFine_labelIds.png"
    ids = np.asarray(Image.open(lab))
    assert set(np.unique(ids).tolist()) == set(CS_IDS)
    poly = json.loads(lab.with_name(lab.name.replace("labelIds.png", "polygons.json")).read_text())
    plate = next(o for o in poly["objects"] if o["label"] == "license plate")
    (x0, y0), (x1, y1) = plate["polygon"][0], plate["polygon"][2]
    assert (ids[y0:y1 + 1, x0:x1 + 1] == 26).all()  # car
    label = _quiet(Cityscapes, tmp_path / "cs", "train")[0][1].numpy()
    assert (label[y0:y1 + 1, x0:x1 + 1] == 13).all()  # trainId of car


def test_gta5_id_34_is_ignore_and_other_values_still_name_the_file(tmp_path: Path):
    root = make_gta5(tmp_path / "gta5", frames=(1, 2))
    stored = np.asarray(Image.open(root / "labels/00001.png"))
    label = _quiet(GTA5, root)[0][1].numpy()
    assert (stored == 34).any() and (label[stored == 34] == 255).all()
    bad = gta5_label(36, 66)
    bad[0, :3] = 200
    save_gta5_label(root / "labels/00002.png", bad)
    with pytest.raises(DataFileError, match=r"labels.00002.png holds value\(s\) \[200\] \(3 of 2376 pixels\) that "
                                            r"are not GTA5 label ids \(0..34; 34 = ignore\)"):
        _quiet(GTA5, root)[1]
    # trainIds (0..18, 255) stored where GTA5's label ids belong: 255 is no GTA5 id
    tids = np.where(gta5_label(36, 66) < 19, gta5_label(36, 66), 255).astype(np.uint8)
    save_gta5_label(root / "labels/00002.png", tids)
    with pytest.raises(DataFileError, match=r"00002.png holds value\(s\) \[255\]"):
        _quiet(GTA5, root)[1]


def test_cityscapes_label_ids_outside_0_33_are_errors(tmp_path: Path):
    root = tmp_path / "cs"
    stem = cityscapes_frame(root, "val", "frankfurt", 0)
    lab = root / f"gtFine/val/frankfurt/{stem}_gtFine_labelIds.png"
    for value in (34, 255):
        ids = np.asarray(Image.open(lab)).copy()
        ids[0, 0] = value
        Image.fromarray(ids).save(lab)
        with pytest.raises(DataFileError, match=rf"{stem}_gtFine_labelIds.png holds value\(s\) \[{value}\].*"
                                                r"not Cityscapes gtFine_labelIds \(0..33\)"):
            _quiet(Cityscapes, root, "val")[0]


def test_convert_labels_knows_each_source(tmp_path: Path, capsys):
    src = tmp_path / "ids"
    save_gta5_label(src / "00001.png", gta5_label(4, 70))
    assert convert_main([str(src), str(tmp_path / "a")]) == 2  # files of your own: 34 is unknown
    assert "holds value(s) [34]" in capsys.readouterr().err
    assert convert_main(["--ids", "gta5", str(src), str(tmp_path / "b")]) == 0
    out = np.asarray(Image.open(tmp_path / "b/00001.png"))
    assert (out[np.asarray(Image.open(src / "00001.png")) == 34] == 255).all()


# ------------------------------------------------------------------ partial downloads
def test_release_numbers():
    names = [f"{n:05d}.png" for n in range(1, 24_967)]
    assert gta5_problems(names) == []
    part2 = [n for n in names if not 2501 <= int(n[:5]) <= 5000]
    assert gta5_problems(part2) == ["holds 22,466 of the release's 24,966 frames (10 zip parts): "
                                    "frames 02501..05000 are missing"]
    assert "file(s) the release does not have: 24967.png" in gta5_problems(names + ["24967.png"])[0]
    # Cityscapes: 18 train cities (2,975 images), 3 val cities (500)
    from pfrlib.data.releases import CITYSCAPES_CITIES

    assert sorted(CITYSCAPES_CITIES["train"]) == sorted(TRAIN_CITIES) and CITYSCAPES_CITIES["val"] == VAL_CITIES
    val = [Path(f"leftImg8bit/val/{c}/{c}_{i:06d}_000019_leftImg8bit.png") for c, n in VAL_CITIES.items()
           for i in range(n)]
    assert cityscapes_problems("val", val) == []
    msg = cityscapes_problems("val", [p for p in val if p.parent.name != "lindau"][:-1])
    assert msg == ["holds 440 of the release's 500 val images (3 cities); cities missing: lindau; "
                   "cities with fewer images: munster 173 of 174"]
    assert cityscapes_problems("test", val) == []  # not checked


def test_a_partial_tree_is_named_in_a_warning_or_refused_with_strict(tmp_path: Path):
    gta = make_gta5(tmp_path / "gta5", frames=(1, 2, 3))
    with pytest.warns(PartialDownloadWarning, match=r"GTA5 .*gta5: holds 3 of the release's 24,966 frames "
                                                    r"\(10 zip parts\): frames 00004..24966 are missing"):
        ds = GTA5(gta)
    assert len(ds) == 3  # still usable: a fixture, a subset on purpose
    with pytest.raises(PartialDownloadError, match="frames 00004..24966 are missing.*strict"):
        GTA5(gta, strict=True)
    (gta / "pfr_dataset.json").write_text('{"strict": true}')
    with pytest.raises(PartialDownloadError):
        GTA5(gta)
    (gta / "pfr_dataset.json").write_text('{"strict": "yes"}')
    with pytest.raises(ValueError, match="pfr_dataset.json: strict: expected true or false"):
        GTA5(gta)
    (gta / "pfr_dataset.json").unlink()
    (tmp_path / "list.txt").write_text("00001.png\n00003.png\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error", PartialDownloadWarning)
        assert len(GTA5(gta, list_file=tmp_path / "list.txt")) == 2  # a list is a subset on purpose
    cs = make_cityscapes(tmp_path / "cs")
    with pytest.warns(PartialDownloadWarning, match=r"split 'val': holds 4 of the release's 500 val images "
                                                    r"\(3 cities\); cities missing: munster; cities with fewer "
                                                    r"images: frankfurt 2 of 267, lindau 2 of 59"):
        Cityscapes(cs, "val")
    with pytest.raises(PartialDownloadError, match="cities missing: bremen, cologne, darmstadt and 13 more"):
        Cityscapes(cs, "train", strict=True)


def test_a_missing_labels_part_is_named(tmp_path: Path):
    gta = make_gta5(tmp_path / "gta5", frames=range(1, 7))
    for n in (3, 4, 5):
        (gta / f"labels/{n:05d}.png").unlink()
    with pytest.raises(FileNotFoundError, match=r"3 image\(s\) have no label .*frames 00003..00005 "
                                                r"\(00003.png, 00004.png, 00005.png\) \(a labels zip part"):
        _quiet(GTA5, gta)
    cs = make_cityscapes(tmp_path / "cs")
    for p in (cs / "gtFine/val/lindau").glob("*_labelIds.png"):
        p.unlink()
    with pytest.raises(FileNotFoundError, match=r"2 image\(s\) have no \*_gtFine_labelIds.png .* in cities "
                                                r"lindau \(2\): .*lindau_000000_000019_leftImg8bit.png"):
        _quiet(Cityscapes, cs, "val")
