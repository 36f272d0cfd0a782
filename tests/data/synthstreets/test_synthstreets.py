"""The 9-class SynthStreets (``classes=9``; SynthStreets-19, the default, is tested in
``test_synthstreets19.py``): item format, determinism, splits, the shift components, caching, bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from pfrlib.data.synthstreets.layout import SYNTH_CLASS_IDS
from pfrlib.data.synthstreets.shift import SynthShift
from pfrlib.data.synthstreets.dataset import SynthStreets
from pfrlib.data.transforms import TrainTransform
from pfrlib.data.spec import from_spec
from pfrlib.data.synthstreets.styles import hsv_to_rgb

SIZE = (64, 128)


def synth9(*args, **kw) -> SynthStreets:
    """The 9-class benchmark this file tests (SynthStreets-19 is the default)."""
    return SynthStreets(*args, classes=9, **kw)


def test_item_format_and_classes():
    ds = synth9("source", "val", length=40)
    assert len(ds) == 40 and ds.num_classes == 19 and ds.has_labels and ds.name == "synth:source:val"
    image, label = ds[3]
    assert image.dtype == torch.uint8 and image.shape == (3, *SIZE)
    assert label.dtype == torch.int64 and label.shape == SIZE
    seen = set()
    for i in range(len(ds)):
        seen |= set(ds[i][1].unique().tolist())
    assert seen <= set(SYNTH_CLASS_IDS) | {255}
    assert set(SYNTH_CLASS_IDS) <= seen  # every class occurs within 40 scenes
    assert ds.class_ids == SYNTH_CLASS_IDS
    # the required Cityscapes classes: road, sidewalk, building, pole, sign, vegetation, sky, person, car
    assert {0, 1, 2, 5, 7, 8, 10, 11, 13} <= set(SYNTH_CLASS_IDS)


def test_deterministic_from_seed_and_index():
    a = synth9("target", "train", length=10, seed=3)
    b = synth9("target", "train", length=1000, seed=3)  # length does not change items
    for i in (0, 7):
        assert torch.equal(a[i][0], b[i][0]) and torch.equal(a[i][1], b[i][1])
    assert torch.equal(a[-1][0], a[9][0])
    c = synth9("target", "train", length=10, seed=4)
    assert not torch.equal(a[0][0], c[0][0])


def test_independent_of_worker_count():
    ds = synth9("target", "train", length=8, size=(32, 64))
    one = torch.cat([x for x, _ in torch.utils.data.DataLoader(ds, batch_size=4, num_workers=0)])
    two = torch.cat([x for x, _ in torch.utils.data.DataLoader(ds, batch_size=4, num_workers=2)])
    reverse = torch.stack([ds[i][0] for i in reversed(range(8))]).flip(0)
    assert torch.equal(one, two) and torch.equal(one, reverse)


def test_splits_and_domains_are_different_streams():
    imgs = {(d, s): synth9(d, s, length=2)[0][1] for d in ("source", "target") for s in ("train", "val")}
    labels = list(imgs.values())
    assert all(not torch.equal(labels[i], labels[j]) for i in range(4) for j in range(i + 1, 4))


def test_source_looks_saturated_and_target_desaturated_noisy():
    def stats(ds):
        x = torch.stack([ds[i][0] for i in range(20)]).float() / 255
        sat = (x.amax(1) - x.amin(1)).mean()
        hf = (x[..., 1:] - x[..., :-1]).abs().mean()  # high-frequency energy (edges, texture, noise)
        return sat, hf

    s_sat, s_hf = stats(synth9("source", "val"))
    t_sat, t_hf = stats(synth9("target", "val"))
    assert s_sat > 2 * t_sat
    assert t_hf > s_hf


def test_shift_components_change_only_the_look():
    base = synth9("target", "val", length=3, shift=SynthShift.none())
    full = synth9("target", "val", length=3)
    assert full.shift == SynthShift.full() and synth9("source").shift == SynthShift.none()
    for name in SynthShift.components():
        one = synth9("target", "val", length=3, shift=SynthShift.only(name))
        img0, lab0 = base.render(1)
        img1, lab1 = one.render(1)
        if name == "layout":
            continue  # layout draws a different scene by design
        assert np.array_equal(lab0, lab1), name  # same scene
        assert not np.array_equal(img0, img1), name  # different look
    # full target shift without layout = same scene as the unshifted render
    no_layout = synth9("target", "val", length=3, shift=SynthShift.full().replace(layout=0))
    assert np.array_equal(no_layout.render(2)[1], base.render(2)[1])


def test_layout_component_adds_hood_labelled_ignore():
    ds = synth9("target", "val", length=60)
    ignore = [bool((ds[i][1] == 255).any()) for i in range(60)]
    assert 0 < sum(ignore) < 60
    src = synth9("source", "val", length=60)
    assert not any(bool((src[i][1] == 255).any()) for i in range(60))


def test_shift_dataclass():
    assert SynthShift.none().as_dict() == {n: 0.0 for n in SynthShift.components()}
    only = SynthShift.only("blur", "noise", strength=0.5)
    assert only.blur == 0.5 and only.noise == 0.5 and only.palette == 0.0
    assert SynthShift.full().scaled(0.5).texture == 0.5
    assert SynthShift.full().replace(noise=0).noise == 0
    with pytest.raises(ValueError, match="unknown SynthShift component"):
        SynthShift.only("fog")
    with pytest.raises(ValueError, match="noise"):
        SynthShift(noise=-1)
    with pytest.raises(ValueError, match="unknown SynthShift component"):
        SynthShift.full().replace(rain=1)


def test_strength_scales_the_effect():
    def diff(strength):
        a = synth9("target", "val", length=2, shift=SynthShift.none()).render(0)[0].astype(float)
        b = synth9("target", "val", length=2, shift=SynthShift.only("noise", strength=strength)).render(0)[0]
        return np.abs(a - b).mean()

    assert diff(0.25) < diff(1.0) < diff(2.0)


def test_cache_dir(tmp_path: Path):
    a = synth9("target", "val", length=6, size=(32, 64), cache_dir=tmp_path)
    files = list(tmp_path.glob("synthstreets-*.npz"))
    assert len(files) == 1 and a.cache_path == files[0]
    b = synth9("target", "val", length=6, size=(32, 64), cache_dir=tmp_path)
    fresh = synth9("target", "val", length=6, size=(32, 64))
    for i in range(6):
        assert torch.equal(b[i][0], fresh[i][0]) and torch.equal(b[i][1], fresh[i][1])
    synth9("target", "val", length=6, size=(32, 64), shift=SynthShift.only("blur"), cache_dir=tmp_path)
    assert len(list(tmp_path.glob("synthstreets-*.npz"))) == 2  # keyed by its parameters
    assert not list(tmp_path.glob("*.tmp"))
    files[0].write_bytes(b"garbage")  # a broken cache is rebuilt
    c = synth9("target", "val", length=6, size=(32, 64), cache_dir=tmp_path)
    assert torch.equal(c[5][0], fresh[5][0])


def test_other_sizes_and_transform():
    ds = synth9("target", "train", size=(96, 160), length=2)
    assert ds[0][0].shape == (3, 96, 160)
    t = synth9("source", "train", length=2, transform=TrainTransform(normalize="unit"))
    x, y = t[0]
    assert x.dtype == torch.float32 and -1.0 <= float(x.min()) and float(x.max()) <= 1.0 and y.shape == SIZE


def test_bad_arguments():
    with pytest.raises(ValueError, match="domain"):
        synth9("game")
    with pytest.raises(ValueError, match="split"):
        synth9("source", "tset")
    with pytest.raises(ValueError, match="size"):
        synth9("source", size=(8, 8))
    with pytest.raises(ValueError, match="length"):
        synth9("source", length=0)
    with pytest.raises(TypeError, match="SynthShift"):
        synth9("target", shift={"blur": 1})
    with pytest.raises(IndexError):
        synth9("source", length=3)[3]
    assert isinstance(from_spec("synth:source:val"), SynthStreets)


def test_hsv_to_rgb_matches_colorsys():
    import colorsys

    hsv = np.random.default_rng(0).random((50, 3))
    want = np.array([colorsys.hsv_to_rgb(*v) for v in hsv])
    assert np.allclose(hsv_to_rgb(hsv), want)


def test_viz_figures(tmp_path: Path):
    from pfrlib.viz.figure import save_figure
    from pfrlib.viz.scenes import shift_components, synthstreets_samples

    fig = synthstreets_samples(n=2, classes=9)
    assert len(fig.axes) == 2 * 4
    path = save_figure(fig, tmp_path / "grid.png")
    assert path.stat().st_size > 1000
    fig = shift_components(n=1, classes=9)
    assert len(fig.axes) == len(SynthShift.components()) + 3
    # SynthStreets-19: its scene components get panels too, titled, in a figure of its own name
    from pfrlib.data.synthstreets.shift import SynthShift19

    fig = shift_components(n=1, size=(32, 64), classes=19)
    panels = len(SynthShift19.components()) + 3
    assert len(fig.axes) == -(-panels // 6) * 6  # rows of six panels, the last one filled with blanks
    assert {"class_prior", "camera", "shape"} <= {ax.get_title() for ax in fig.axes}
    assert fig.get_suptitle().startswith("SynthStreets-19 target")
    with pytest.raises(ValueError, match="classes must be one of"):
        shift_components(n=1, classes=10)
