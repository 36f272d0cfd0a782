"""pfrlib.data.folder: a folder dataset of your own, its label values checked as they are read.

Labels in the wrong encoding (Cityscapes label ids where trainIds are expected, values no class
has, labels without any class pixel) and a truncated file read by a DataLoader worker are one line
naming the file and what to do (the ``reliability`` theme).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from one_line import one_line
from pfrlib.data.convert_labels import main as convert_main
from pfrlib.data.errors import DataFileError
from pfrlib.data.folder import FolderDataset
from pfrlib.data.labels import ids_to_train_ids
from pfrlib.train import main as train_main
from synth_folders import label_folder

from .trees import save_gray_label, save_rgb

TINY_WIDTHS = {"widths": [8, 8, 16, 16]}

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def cityscapes_ids(h: int = 32, w: int = 64) -> np.ndarray:
    """A label in Cityscapes *label ids*: road 7, sidewalk 8, building 11, vegetation 21, sky 23, car 26."""
    lab = np.full((h, w), 7, np.uint8)
    lab[: h // 4] = 23
    lab[h // 4: h // 2, : w // 2] = 11
    lab[h // 4: h // 2, w // 2:] = 21
    lab[h // 2:, : w // 4] = 8
    lab[-4:, -8:] = 26
    return lab


@pytest.mark.reliability
def test_out_of_range_label_values_are_an_error_naming_file_and_values(tmp_path):
    ds = FolderDataset(label_folder(tmp_path / "d", [np.full((32, 64), 200)]))
    with pytest.raises(DataFileError) as err:
        ds[0]
    msg = one_line(err.value)
    assert str(tmp_path / "d" / "labels" / "f0.png") in msg and "[200]" in msg and "2048 of 2048 pixels" in msg
    assert "unknown_labels='ignore'" in msg  # how to opt in to ignoring them
    # opting in maps them to ignore; a label left with no class pixel at all is still an error
    with pytest.raises(DataFileError, match=r"f0.png has no pixel of any class.*empty_labels='allow'"):
        FolderDataset(tmp_path / "d", unknown_labels="ignore")[0]
    _, label = FolderDataset(tmp_path / "d", unknown_labels="ignore", empty_labels="allow")[0]
    assert bool((label == 255).all())


@pytest.mark.reliability
def test_some_unknown_values_are_an_error_not_a_silent_ignore(tmp_path):
    lab = np.zeros((32, 64), np.uint8)
    lab[0, :5] = 200
    ds = FolderDataset(label_folder(tmp_path / "d", [lab]))
    with pytest.raises(DataFileError, match=r"f0.png holds value\(s\) \[200\] \(5 of 2048 pixels\)"):
        ds[0]
    _, label = FolderDataset(tmp_path / "d", unknown_labels="ignore")[0]
    assert label[0, :5].tolist() == [255] * 5 and int(label[1:].max()) == 0


@pytest.mark.reliability
def test_cityscapes_label_ids_where_trainids_are_expected_say_how_to_convert(tmp_path):
    ids = cityscapes_ids()
    root = label_folder(tmp_path / "d", [ids, ids])
    with pytest.raises(DataFileError) as err:
        FolderDataset(root)[0]
    msg = one_line(err.value)
    assert "f0.png" in msg and "[21, 23, 26]" in msg and "look like Cityscapes label ids" in msg
    assert "label_format='cityscapes_ids'" in msg and "python -m pfrlib.data.convert_labels" in msg
    # option 1: read them as label ids
    want = ids_to_train_ids(ids)
    assert set(np.unique(want)) == {0, 1, 2, 8, 10, 13}
    _, label = FolderDataset(root, label_format="cityscapes_ids")[0]
    assert np.array_equal(label.numpy(), want)
    # option 2: the dataset root says so (what a command-line run uses)
    (root / "pfr_dataset.json").write_text('{"label_format": "cityscapes_ids"}')
    assert np.array_equal(FolderDataset(root)[1][1].numpy(), want)
    (root / "pfr_dataset.json").write_text('{"label_fromat": "cityscapes_ids"}')
    with pytest.raises(ValueError, match=r"pfr_dataset.json: unknown option\(s\) \['label_fromat'\]; allowed"):
        FolderDataset(root)
    (root / "pfr_dataset.json").unlink()
    with pytest.raises(ValueError, match=r"label_format: unknown label format 'ids19'; expected one of"):
        FolderDataset(root, label_format="ids19")
    # option 3: convert the files once; the converter never overwrites
    os.rename(root / "labels", root / "label_ids")
    assert convert_main([str(root / "label_ids"), str(root / "labels")]) == 0
    _, label = FolderDataset(root)[0]
    assert np.array_equal(label.numpy(), want)
    before = (root / "labels" / "f0.png").read_bytes()
    assert convert_main([str(root / "label_ids"), str(root / "labels")]) == 2
    assert (root / "labels" / "f0.png").read_bytes() == before


@pytest.mark.reliability
def test_a_label_without_any_class_pixel_is_an_error(tmp_path):
    root = label_folder(tmp_path / "d", [np.full((32, 64), 255), np.zeros((32, 64))])
    ds = FolderDataset(root)
    with pytest.raises(DataFileError, match=r"labels.f0.png has no pixel of any class: all 2048 pixels are 255"):
        ds[0]
    assert int(ds[1][1].max()) == 0  # the other item is fine: the check is per item, as it is read
    assert bool((FolderDataset(root, empty_labels="allow")[0][1] == 255).all())
    # label ids that are all void (0 = unlabeled) are no class either
    ids_root = label_folder(tmp_path / "ids", [np.zeros((32, 64))], options={"label_format": "cityscapes_ids"})
    with pytest.raises(DataFileError, match="no pixel of any class.*Cityscapes ids with no trainId"):
        FolderDataset(ids_root)[0]


@pytest.mark.reliability
def test_worker_errors_are_one_line_naming_the_file(tmp_path):
    root = label_folder(tmp_path / "d", [np.zeros((32, 64)), np.zeros((32, 64))])
    good = (root / "images" / "f1.png").read_bytes()
    (root / "images" / "f1.png").write_bytes(good[: len(good) // 2])  # truncated
    loader = torch.utils.data.DataLoader(FolderDataset(root), batch_size=1, num_workers=1)
    with pytest.raises(DataFileError) as err:
        list(loader)
    msg = one_line(err.value)
    assert str(root / "images" / "f1.png") in msg and "truncated" in msg and "DataLoader worker" in msg
    assert "Traceback" in err.value.worker_traceback  # the full worker traceback is kept for debugging
    # the same for a bad label value, in the main process and in a worker
    Image.fromarray(np.full((32, 64), 40, np.uint8), mode="L").save(root / "labels" / "f0.png")
    (root / "images" / "f1.png").write_bytes(good)
    with pytest.raises(DataFileError) as err:
        list(torch.utils.data.DataLoader(FolderDataset(root), batch_size=2, num_workers=1))
    assert "labels/f0.png holds value(s) [40]" in one_line(err.value)


@pytest.mark.reliability
def test_training_on_labels_that_are_all_out_of_range_stops_with_one_line(tmp_path, capsys):
    root = label_folder(tmp_path / "d", [np.full((32, 64), 200)] * 2)
    rc = train_main(["--preset", "cpu", "--source", f"folder:{root}", "--source-val", "synth:source",
                     "--synth-size", "32", "64", "--synth-train-length", "4", "--synth-val-length", "2",
                     "--source-size", "32", "64", "--batch-size", "2", "--iterations", "2", "--num-workers", "1",
                     "--model-kwargs", json.dumps(TINY_WIDTHS), "--no-progress", "--num-threads", "1",
                     "--out", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert rc == 2
    line = one_line(err)
    assert line.startswith("error: ") and "labels/f" in line and "[200]" in line
    assert not (tmp_path / "run" / "final.json").exists()


# --------------------------------------------------------------------------- the folder layout
def test_folder_dataset(tmp_path: Path):
    root = tmp_path / "mine"
    save_rgb(root / "images" / "a.png")
    Image.fromarray(np.zeros((8, 12, 3), np.uint8)).save(root / "images" / "b.jpg")
    tids = np.array([[0, 5, 18, 19, 100, 255]] * 8, np.uint8)[:, np.arange(12) % 6]
    save_gray_label(root / "labels" / "a.png", tids)
    save_gray_label(root / "labels" / "b.png", tids)
    ds = FolderDataset(root)
    assert len(ds) == 2 and ds.has_labels
    with pytest.raises(ValueError, match=r"labels.a.png holds value\(s\) \[19, 100\].*neither class ids 0..18 nor 255"):
        ds[0]
    _, label = FolderDataset(root, unknown_labels="ignore")[0]
    assert label[0, :6].tolist() == [0, 5, 18, 255, 255, 255]
    unl = FolderDataset(root, labels=False)
    assert not unl.has_labels and bool((unl[1][1] == 255).all())
    (root / "labels" / "b.png").unlink()
    with pytest.raises(FileNotFoundError, match="b.jpg"):
        FolderDataset(root)
    import shutil

    shutil.rmtree(root / "labels")
    assert not FolderDataset(root).has_labels  # no labels/ -> unlabelled target
    with pytest.raises(FileNotFoundError, match="images/"):
        FolderDataset(tmp_path / "nothing")


def test_folder_dataset_splits(tmp_path: Path):
    for split in ("train", "val"):
        save_rgb(tmp_path / "d" / split / "images" / f"{split}.png")
    assert FolderDataset(tmp_path / "d", split="val").items[0][0].name == "val.png"
    with pytest.raises(ValueError, match="found splits: \\['train', 'val'\\]"):
        FolderDataset(tmp_path / "d", split="test")
