"""pfrlib.data.real: the GTA5 and Cityscapes loaders on trees in their exact layouts (tests/data/trees.py).

These small trees are partial downloads by design: the warning that says so is asserted in
tests/data/test_releases.py and silenced here.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from pfrlib.data.real import GTA5, Cityscapes
from shipped_datasets import CS_IDS
from .trees import UNKNOWN_IDS, cs_frame, expected_train_id, id_image, save_gray_label, save_palette_label

pytestmark = pytest.mark.filterwarnings("ignore::pfrlib.data.releases.PartialDownloadWarning")


def test_gta5_items_and_trainid_mapping(gta5_root: Path):
    ds = GTA5(gta5_root)
    assert len(ds) == 3 and ds.has_labels and ds.num_classes == 19 and ds.class_ids == tuple(range(19))
    image, label = ds[1]
    assert image.dtype == torch.uint8 and image.shape == (3, 8, 12)
    assert label.dtype == torch.int64 and label.shape == (8, 12)
    stored = np.asarray(Image.open(gta5_root / "labels" / "00002.png"))
    assert Image.open(gta5_root / "labels" / "00002.png").mode == "P"
    want = np.vectorize(expected_train_id)(stored)
    assert np.array_equal(label.numpy(), want)
    # every GTA5 id occurred and mapped as cityscapesscripts says (34, not in its table: ignore)
    assert set(np.unique(stored)) == set(range(35)) and bool((label.numpy()[stored == 34] == 255).all())
    assert {int(v) for v in label.unique()} <= set(range(19)) | {255}
    assert np.array_equal(image.numpy().transpose(1, 2, 0), np.asarray(Image.open(gta5_root / "images" / "00002.png")))


def test_gta5_unknown_ids_are_errors_unless_mapped_to_ignore(gta5_root: Path):
    ids = id_image()
    ids[0, :4] = UNKNOWN_IDS
    save_palette_label(gta5_root / "labels" / "00002.png", ids)
    ds = GTA5(gta5_root)
    ds[0]
    with pytest.raises(ValueError, match=r"labels.00002.png holds value\(s\) \[35, 40, 200, 255\] \(4 of 96 pixels\) "
                                         r"that are not GTA5 label ids \(0..34; 34 = ignore\)"):
        ds[1]
    _, label = GTA5(gta5_root, unknown_labels="ignore")[1]
    assert label[0, :4].tolist() == [255] * 4
    assert np.array_equal(label.numpy()[1:], np.vectorize(expected_train_id)(ids[1:]))
    (gta5_root / "pfr_dataset.json").write_text('{"unknown_labels": "ignore"}')
    assert GTA5(gta5_root)[1][1][0, :4].tolist() == [255] * 4
    (gta5_root / "pfr_dataset.json").write_text('{"label_format": "trainid"}')
    with pytest.raises(ValueError, match="pfr_dataset.json: label_format"):
        GTA5(gta5_root)


def test_gta5_list_file(gta5_root: Path, tmp_path: Path):
    lst = tmp_path / "gta5_list.txt"
    lst.write_text("00003.png\n\n00001.png\n")
    ds = GTA5(gta5_root, list_file=lst)
    assert [p.name for p, _ in ds.items] == ["00003.png", "00001.png"]
    lst.write_text("00001.png\n00009.png\n")
    with pytest.raises(FileNotFoundError, match="00009.png"):
        GTA5(gta5_root, list_file=lst)


def test_gta5_size_mismatch_resizes_label_and_counts(gta5_root: Path):
    save_palette_label(gta5_root / "labels" / "00001.png", id_image(4, 6))
    save_palette_label(gta5_root / "labels" / "00002.png", id_image(16, 24))
    ds = GTA5(gta5_root)
    with pytest.warns(UserWarning, match="resizing the label"):
        _, label = ds[0]
    assert label.shape == (8, 12) and ds.resized_labels == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # warned once only
        _, label = ds[1]
        ds[2]
    assert label.shape == (8, 12) and ds.resized_labels == 2
    assert ds.count_size_mismatches() == 2


def test_gta5_missing_root_shows_layout(tmp_path: Path):
    with pytest.raises(FileNotFoundError, match=r"images/00001.png"):
        GTA5(tmp_path / "nope")


def test_gta5_image_without_label_and_label_without_image(gta5_root: Path):
    (gta5_root / "labels" / "00002.png").unlink()
    with pytest.raises(FileNotFoundError, match="00002.png"):
        GTA5(gta5_root)
    save_palette_label(gta5_root / "labels" / "00002.png", id_image())
    save_palette_label(gta5_root / "labels" / "00077.png", id_image())
    with pytest.raises(FileNotFoundError, match="00077.png"):
        GTA5(gta5_root)


def test_corrupt_and_truncated_png_name_the_file(gta5_root: Path):
    bad = gta5_root / "images" / "00001.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\nthis is not a png")
    good = (gta5_root / "images" / "00002.png").read_bytes()
    (gta5_root / "images" / "00003.png").write_bytes(good[: len(good) // 2])
    ds = GTA5(gta5_root)
    with pytest.raises(ValueError, match="00001.png"):
        ds[0]
    with pytest.raises(ValueError, match="00003.png"):
        ds[2]
    lab = gta5_root / "labels" / "00002.png"
    lab.write_bytes(lab.read_bytes()[:40])
    with pytest.raises(ValueError, match=r"labels.00002.png"):
        ds[1]


def test_grayscale_and_rgba_images_are_converted(gta5_root: Path):
    Image.fromarray(np.full((8, 12), 77, np.uint8), mode="L").save(gta5_root / "images" / "00001.png")
    rgba = np.zeros((8, 12, 4), np.uint8)
    rgba[..., :3] = (10, 20, 30)
    rgba[..., 3] = 128
    Image.fromarray(rgba, mode="RGBA").save(gta5_root / "images" / "00002.png")
    ds = GTA5(gta5_root)
    g, _ = ds[0]
    assert g.shape == (3, 8, 12) and int(g.min()) == int(g.max()) == 77
    c, _ = ds[1]
    assert c.shape == (3, 8, 12) and c[:, 0, 0].tolist() == [10, 20, 30]


# --------------------------------------------------------------------------- Cityscapes


def test_cityscapes_layout_and_mapping(cs_root: Path):
    ds = Cityscapes(cs_root, "train")
    assert len(ds) == 3 and ds.has_labels
    want_ids = np.vectorize(expected_train_id)
    _, lab0 = ds[0]
    assert np.array_equal(lab0.numpy(), want_ids(id_image(shift=0, ids_list=CS_IDS)))
    _, lab2 = ds[2]  # bochum frame has only *_labelTrainIds.png
    assert ds.items[2][1].name.endswith("_gtFine_labelTrainIds.png")
    assert np.array_equal(lab2.numpy(), want_ids(id_image(shift=9, ids_list=CS_IDS)))
    val = Cityscapes(cs_root, "val")
    assert len(val) == 1 and "frankfurt" in str(val.items[0][0])


def test_cityscapes_test_split_withheld_labels_say_so(cs_root: Path):
    cs_frame(cs_root, "test", "berlin", 7)
    save_gray_label(cs_root / "gtFine" / "test" / "berlin" / "berlin_000007_000019_gtFine_labelIds.png",
                    np.zeros((8, 12), np.uint8))  # as distributed: no class pixel
    with pytest.raises(ValueError, match="no pixel of any class.*test labels are withheld"):
        Cityscapes(cs_root, "test")[0]
    assert not Cityscapes(cs_root, "test", labels=False).has_labels


def test_cityscapes_unlabelled(cs_root: Path, tmp_path: Path):
    import shutil

    shutil.rmtree(cs_root / "gtFine")
    ds = Cityscapes(cs_root, "train", labels=False)
    image, label = ds[0]
    assert not ds.has_labels and label.shape == image.shape[1:] and bool((label == 255).all())
    with pytest.raises(FileNotFoundError, match="gtFine"):
        Cityscapes(cs_root, "train")


def test_cityscapes_bad_input(cs_root: Path, tmp_path: Path):
    with pytest.raises(FileNotFoundError, match="leftImg8bit/{split}/{city}"):
        Cityscapes(tmp_path / "missing", "train")
    with pytest.raises(ValueError, match="split must be one of"):
        Cityscapes(cs_root, "training")
    (cs_root / "leftImg8bit" / "test" / "berlin").mkdir(parents=True)
    with pytest.raises(ValueError, match="no \\*_leftImg8bit.png"):
        Cityscapes(cs_root, "test")
    (cs_root / "gtFine" / "val" / "frankfurt" / "frankfurt_000003_000019_gtFine_labelIds.png").unlink()
    with pytest.raises(FileNotFoundError, match="frankfurt_000003_000019_leftImg8bit.png"):
        Cityscapes(cs_root, "val")
    save_gray_label(cs_root / "gtFine" / "train" / "aachen" / "aachen_000042_000019_gtFine_labelIds.png", id_image())
    with pytest.raises(FileNotFoundError, match="aachen_000042"):
        Cityscapes(cs_root, "train")
