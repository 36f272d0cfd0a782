"""Real-dataset loaders, label tables, specs, transforms and colorize.

Fixture trees are built in tmp_path in the exact GTA5 / Cityscapes layouts (no download), with
the label ids each dataset's files hold (GTA5 0..34, Cityscapes gtFine_labelIds 0..33; see
tests/shipped_datasets.py). These small trees are partial downloads by design: the warning that
says so is asserted in tests/test_releases.py and silenced here.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from cityscapesscripts.helpers.labels import labels as cs_labels
from PIL import Image

from pfrlib.data.labels import CLASS_NAMES, PALETTE, ids_to_train_ids
from pfrlib.data.real import GTA5, Cityscapes
from pfrlib.data.transforms import EvalTransform, TrainTransform, denormalize, normalize
from pfrlib.data.folder import FolderDataset
from pfrlib.data.synthstreets.dataset import SynthStreets
from pfrlib.data.spec import from_spec
from pfrlib.data.labels import ID_TO_TRAINID
from pfrlib.data.palette import colorize
from shipped_datasets import CS_IDS, GTA5_IDS

pytestmark = pytest.mark.filterwarnings("ignore::pfrlib.data.releases.PartialDownloadWarning")

# Every label id of the Cityscapes table as stored in an 8-bit PNG (-1 = license plate as 255):
# what a label-id file of your own may hold (FolderDataset with label_format="cityscapes_ids").
ALL_IDS = [l.id % 256 for l in cs_labels]
# Values no GTA5 label file holds (GTA5's ids are 0..34).
UNKNOWN_IDS = [35, 40, 200, 255]


def expected_train_id(stored_id: int) -> int:
    """trainId of an 8-bit stored id, straight from cityscapesscripts (unknown -> 255)."""
    for l in cs_labels:
        if l.id % 256 == stored_id:
            return l.trainId if 0 <= l.trainId < 255 else 255
    return 255


def id_image(h: int = 8, w: int = 12, shift: int = 0, ids_list=GTA5_IDS) -> np.ndarray:
    """An H x W uint8 label covering ``ids_list`` (cycled; default: GTA5's ids 0..34)."""
    ids = np.array(ids_list, np.uint8)
    return ids[(np.arange(h * w) + shift) % len(ids)].reshape(h, w)


def save_rgb(path: Path, h: int = 8, w: int = 12, seed: int = 0) -> np.ndarray:
    path.parent.mkdir(parents=True, exist_ok=True)
    img = np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)
    Image.fromarray(img).save(path)
    return img


def save_palette_label(path: Path, ids: np.ndarray) -> None:
    """Save ids as a palette ('P') PNG, as GTA5 distributes them."""
    path.parent.mkdir(parents=True, exist_ok=True)
    im = Image.fromarray(ids, mode="L").convert("P")
    im.putpalette([v for i in range(256) for v in ((i * 7) % 256, (i * 13) % 256, (i * 29) % 256)])
    im.save(path)


def save_gray_label(path: Path, ids: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(ids.astype(np.uint8), mode="L").save(path)


@pytest.fixture
def gta5_root(tmp_path: Path) -> Path:
    root = tmp_path / "gta5"
    for i in range(1, 4):
        save_rgb(root / "images" / f"{i:05d}.png", seed=i)
        save_palette_label(root / "labels" / f"{i:05d}.png", id_image(shift=i))
    return root


def cs_frame(root: Path, split: str, city: str, n: int, label: str | None = "labelIds", shift: int = 0) -> None:
    stem = f"{city}_{n:06d}_000019"
    save_rgb(root / "leftImg8bit" / split / city / f"{stem}_leftImg8bit.png", seed=n)
    if label == "labelIds":
        save_gray_label(root / "gtFine" / split / city / f"{stem}_gtFine_labelIds.png", id_image(shift=shift, ids_list=CS_IDS))
    elif label == "labelTrainIds":
        tids = np.vectorize(expected_train_id)(id_image(shift=shift, ids_list=CS_IDS)).astype(np.uint8)
        save_gray_label(root / "gtFine" / split / city / f"{stem}_gtFine_labelTrainIds.png", tids)


@pytest.fixture
def cs_root(tmp_path: Path) -> Path:
    root = tmp_path / "cityscapes"
    cs_frame(root, "train", "aachen", 0, shift=0)
    cs_frame(root, "train", "aachen", 1, shift=5)
    cs_frame(root, "train", "bochum", 2, label="labelTrainIds", shift=9)
    cs_frame(root, "val", "frankfurt", 3, shift=2)
    return root


# ------------------------------------------------------------------ label tables


def test_lookup_table_matches_cityscapesscripts():
    for l in cs_labels:
        want = l.trainId if 0 <= l.trainId < 255 else 255
        assert ID_TO_TRAINID[l.id % 256] == want, l.name
    assert ID_TO_TRAINID[34:255].tolist() == [255] * (255 - 34)
    train = sorted((l for l in cs_labels if 0 <= l.trainId < 255), key=lambda l: l.trainId)
    assert CLASS_NAMES == tuple(l.name for l in train) and len(CLASS_NAMES) == 19
    assert PALETTE.tolist() == [list(l.color) for l in train]
    # int arrays with negative / large ids
    assert ids_to_train_ids(np.array([-1, 7, 26, 300, 33])).tolist() == [255, 0, 13, 255, 18]


# ------------------------------------------------------------------ GTA5


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


# ------------------------------------------------------------------ Cityscapes


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


# ------------------------------------------------------------------ folder


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


# ------------------------------------------------------------------ specs


def test_from_spec(gta5_root: Path, cs_root: Path, tmp_path: Path):
    assert isinstance(from_spec(f"gta5:{gta5_root}"), GTA5)
    cs = from_spec(f"cityscapes:{cs_root}:val", split="train")
    assert isinstance(cs, Cityscapes) and cs.split == "val"
    assert from_spec(f"cityscapes:{cs_root}", split="val").split == "val"
    assert not from_spec(f"cityscapes:{cs_root}", labels=False).has_labels
    synth = from_spec("synth:target", split="val", size=(32, 64), length=5)
    assert isinstance(synth, SynthStreets) and synth.domain == "target" and len(synth) == 5
    save_rgb(tmp_path / "f" / "images" / "x.png")
    assert isinstance(from_spec(f"folder:{tmp_path / 'f'}", split="val"), FolderDataset)
    with pytest.raises(ValueError, match="unknown dataset kind 'imagenet'"):
        from_spec("imagenet:/x")
    with pytest.raises(ValueError, match="kind:root"):
        from_spec("synth")
    with pytest.raises(ValueError, match="synth:source or synth:target"):
        from_spec("synth:middle")
    with pytest.raises(FileNotFoundError, match="labels/00001.png"):
        from_spec(f"gta5:{tmp_path / 'absent'}")
    with pytest.raises(TypeError, match="does not take"):
        from_spec(f"gta5:{gta5_root}", size=(1, 2))


# ------------------------------------------------------------------ transforms


def test_normalize_modes():
    img = torch.tensor([[[0]], [[128]], [[255]]], dtype=torch.uint8)  # R=0, G=128, B=255
    unit = normalize(img, "unit")
    assert torch.allclose(unit.flatten(), torch.tensor([-1.0, 128 / 127.5 - 1, 1.0]))
    caffe = normalize(img, "caffe_bgr")  # BGR order, mean subtracted, no std
    assert torch.allclose(caffe.flatten(), torch.tensor([255 - 104.00698793, 128 - 116.66876762, 0 - 122.67891434]))
    imnet = normalize(img[None], "imagenet")
    assert imnet.shape == (1, 3, 1, 1)
    assert torch.allclose(imnet.flatten(), torch.tensor([(0 - 0.485) / 0.229, (128 / 255 - 0.456) / 0.224, (1 - 0.406) / 0.225]))
    for mode in ("unit", "caffe_bgr", "imagenet"):
        assert torch.equal(denormalize(normalize(img, mode), mode), img)
    with pytest.raises(ValueError, match="caffe_bgr"):
        normalize(img, "bgr")


def test_train_transform_is_seedable_and_keeps_labels_discrete():
    g = torch.Generator().manual_seed(0)
    image = torch.randint(0, 256, (3, 40, 60), dtype=torch.uint8, generator=g)
    label = torch.randint(0, 19, (40, 60), generator=g)
    label[:5] = 255
    t = TrainTransform(size=(32, 48), scale=(0.75, 1.5), crop=(32, 48), hflip=True, normalize="imagenet")
    torch.manual_seed(3)
    a = t(image, label)
    torch.manual_seed(3)
    b = t(image, label)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    x, y = a
    assert x.dtype == torch.float32 and x.shape == (3, 32, 48) and y.dtype == torch.int64 and y.shape == (32, 48)
    assert set(y.unique().tolist()) <= set(label.unique().tolist())  # nearest: no new ids
    small = TrainTransform(crop=(64, 64), hflip=False)(image, label)[1]
    assert small.shape == (64, 64) and int((small == 255).sum()) >= 64 * 64 - 40 * 60  # padded with ignore


def _scaled(t: TrainTransform, image, label, seed: int):
    torch.manual_seed(seed)
    return t(image, label)


def test_image_scales_resize_the_image_alone_to_int_size_times_a_factor_of_the_set():
    """CLAN's ``__scale__``: the image goes to ``int(size * f)`` (truncated: 41 x 81 at 0.8 is
    32 x 64, not 33 x 65), the label stays at ``size`` and is the plain resize's label."""
    g = torch.Generator().manual_seed(1)
    image = torch.randint(0, 256, (3, 50, 90), dtype=torch.uint8, generator=g)
    label = torch.randint(0, 19, (50, 90), generator=g)
    t = TrainTransform(size=(41, 81), image_scales=(0.8, 1.0, 1.1), hflip=False, normalize=None)
    plain_label = TrainTransform(size=(41, 81), hflip=False, normalize=None)(image, label)[1]
    sizes = set()
    for seed in range(30):
        x, y = _scaled(t, image, label, seed)
        sizes.add(tuple(x.shape[-2:]))
        assert x.dtype == torch.uint8 and torch.equal(y, plain_label)
    assert sizes == {(32, 64), (41, 81), (45, 89)}


def test_image_scales_factor_one_is_the_plain_resize():
    g = torch.Generator().manual_seed(2)
    image = torch.randint(0, 256, (3, 50, 90), dtype=torch.uint8, generator=g)
    label = torch.randint(0, 19, (50, 90), generator=g)
    a = TrainTransform(size=(41, 81), image_scales=(1.0,), hflip=False, normalize="unit")(image, label)
    b = TrainTransform(size=(41, 81), hflip=False, normalize="unit")(image, label)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])


def test_image_scales_are_drawn_uniformly_so_repeats_give_clans_30_40_30():
    from pfrlib.methods.baselines.clan import CLAN_IMAGE_SCALES
    image, label = torch.zeros(3, 10, 20, dtype=torch.uint8), torch.zeros(10, 20, dtype=torch.int64)
    t = TrainTransform(size=(10, 20), image_scales=CLAN_IMAGE_SCALES, hflip=False, normalize=None)
    heights = [_scaled(t, image, label, seed)[0].shape[-2] for seed in range(1000)]
    share = {h: heights.count(h) / len(heights) for h in (8, 10, 11)}
    assert sum(share.values()) == 1.0
    assert share[8] == pytest.approx(0.3, abs=0.05) and share[10] == pytest.approx(0.4, abs=0.05)
    assert share[11] == pytest.approx(0.3, abs=0.05)


def test_image_scales_follow_the_stream_seed_so_a_resumed_stream_draws_the_same_sizes():
    from pfrlib.data.streams import SOURCE_STREAM, make_stream

    class Items(torch.utils.data.Dataset):
        def __init__(self):
            self.t = TrainTransform(size=(20, 40), image_scales=(0.8, 1.0, 1.1), hflip=True, normalize=None)

        def __len__(self):
            return 3

        def __getitem__(self, i):
            return self.t(torch.full((3, 24, 48), i, dtype=torch.uint8), torch.full((24, 48), i, dtype=torch.int64))

    def batches(seed, start, n):
        it = iter(make_stream(Items(), seed, SOURCE_STREAM, 1, with_labels=True, start_iteration=start))
        return [next(it) for _ in range(n)]

    run = batches(0, 0, 12)
    assert {tuple(x.shape[-2:]) for x, _ in run} == {(16, 32), (20, 40), (22, 44)}
    assert all(tuple(y.shape[-2:]) == (20, 40) for _, y in run)
    for (xa, ya), (xb, yb) in zip(run[5:], batches(0, 5, 7)):  # resumed at iteration 5
        assert torch.equal(xa, xb) and torch.equal(ya, yb)
    assert [x.shape for x, _ in run] != [x.shape for x, _ in batches(1, 0, 12)]  # another seed, other draws


def test_image_scales_bad_values_name_the_field():
    for bad in ((), (0.8, -1.0), (float("nan"),), ("big",)):
        with pytest.raises(ValueError, match="image_scales"):
            TrainTransform(size=(8, 8), image_scales=bad)
    with pytest.raises(ValueError, match="image_scales.*crop"):
        TrainTransform(size=(8, 8), crop=(4, 4), image_scales=(0.8, 1.0))


def test_eval_transform_keeps_label_resolution():
    image = torch.zeros(3, 64, 128, dtype=torch.uint8)
    label = torch.ones(64, 128, dtype=torch.int64)
    x, y = EvalTransform(size=(32, 64), normalize="caffe_bgr")(image, label)
    assert x.shape == (3, 32, 64) and y.shape == (64, 128)
    _, y2 = EvalTransform(size=(32, 64), resize_label=True)(image, label)
    assert y2.shape == (32, 64)


# ------------------------------------------------------------------ colorize


def test_colorize():
    lab = np.array([[0, 13], [255, 18]])
    rgb = colorize(lab)
    assert rgb.dtype == np.uint8 and rgb.shape == (2, 2, 3)
    assert rgb[0, 0].tolist() == [128, 64, 128] and rgb[0, 1].tolist() == [0, 0, 142]
    assert rgb[1, 0].tolist() == [0, 0, 0] and rgb[1, 1].tolist() == list(PALETTE[18])
    batch = colorize(torch.tensor([[[0, 13], [255, 18]]] * 3))
    assert batch.shape == (3, 2, 2, 3) and np.array_equal(batch[2], rgb)
    with pytest.raises(ValueError):
        colorize(np.zeros(3, int))
