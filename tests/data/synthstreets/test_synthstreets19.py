"""SynthStreets-19: Cityscapes' long tail, the scene shift components, disjoint splits, the configs.

The share test is the benchmark's acceptance test: on 300 target *test* images every one of the
19 classes appears, the most frequent is >= 100x the least, and the shares follow Cityscapes'
published ones (``pfrlib/reference/cityscapes_class_shares.csv``) by the rules of
:data:`pfrlib.data.synthstreets.shares.SHARE_RULES`: Spearman rho >= 0.9 and every class within
10x of its published share. ``docs/datasets.md``'s table is the one these shares generate.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from pfrlib.config.train_config import TrainConfig
from pfrlib.data.spec import build_dataset, from_spec
from pfrlib.data.synthstreets.dataset import SynthStreets
from pfrlib.data.synthstreets.layout19 import SYNTH19_CLASS_IDS
from pfrlib.data.synthstreets.shift import SynthShift, SynthShift19
from pfrlib.data.labels import CLASS_NAMES
from pfrlib.data.synthstreets.shares import (SHARE_RULES, compare_shares, label_shares, published_shares,
                                             shares_markdown, spearman)
from script_module import load_script

ROOT = Path(__file__).resolve().parents[3]
SMALL = (64, 128)  # the benchmark's default size (DEFAULT_SIZE), written out where a test depends on it


@pytest.fixture(scope="module")
def test_shares() -> np.ndarray:
    return label_shares(SynthStreets("target", "test", classes=19, length=300))


def test_target_test_shares_follow_cityscapes(test_shares):
    result = compare_shares(test_shares)
    assert result["missing"] == []  # all 19 classes appear
    assert result["head_tail_ratio"] >= 100
    assert result["spearman"] >= SHARE_RULES["min_spearman"] == 0.9
    assert result["off"] == [], [f"{n}: x{f:.2f}" for n, f in zip(CLASS_NAMES, result["factors"])]
    assert result["ok"]


def test_share_rules_can_fail():
    pub = published_shares()
    assert compare_shares(pub)["ok"] and spearman(pub, pub) == pytest.approx(1.0)
    flat = np.full(19, 1 / 19)
    assert not compare_shares(flat)["ok"]  # no long tail: ratio 1, rho undefined-low
    reversed_ = np.sort(pub)[np.argsort(np.argsort(-pub))]  # the published shares in reverse rank order
    assert spearman(reversed_, pub) == pytest.approx(-1.0) and not compare_shares(reversed_)["ok"]
    missing = pub.copy()
    missing[17] = 0
    assert compare_shares(missing)["missing"] == ["motorcycle"]
    tenfold = pub.copy()
    tenfold[3] *= 11
    assert compare_shares(tenfold)["off"] == ["wall"]


def test_published_table_is_the_cited_one():
    pub = published_shares()
    assert pub.sum() == pytest.approx(1.0)
    assert CLASS_NAMES[int(pub.argmax())] == "road" and CLASS_NAMES[int(pub.argmin())] == "motorcycle"
    readme = (ROOT / "pfrlib" / "reference" / "README.md").read_text()
    assert "cityscapes_class_shares.csv" in readme and "m-birke/automotive-segmentation-datasets" in readme


def test_docs_table_is_generated_from_these_shares(test_shares):
    text = (ROOT / "docs" / "datasets.md").read_text()
    m = re.search(r"<!-- synth19-shares:start -->\n(.*?)<!-- synth19-shares:end -->", text, re.S)
    assert m, "docs/datasets.md lacks the generated shares table (python benchmarks/synth_gap.py --shares --docs)"
    assert m.group(1) == shares_markdown(test_shares, "SynthStreets-19 target test split, 300 images at 64x128, seed 0")


def _digests(ds: SynthStreets, n: int) -> set[str]:
    out = set()
    for i in range(n):
        image, label = ds.render(i)
        out.add(hashlib.sha256(image.tobytes() + label.tobytes()).hexdigest())
    return out


@pytest.mark.parametrize("classes", [9, 19])
def test_test_split_is_disjoint_from_train_and_val(classes):
    kw = dict(classes=classes, size=SMALL)
    test = _digests(SynthStreets("target", "test", **kw), 100)
    train = _digests(SynthStreets("target", "train", **kw), 300)
    val = _digests(SynthStreets("target", "val", **kw), 100)
    assert len(test) == 100  # no duplicates within the split either
    assert not test & train and not test & val and not train & val
    # and the labels alone (the scenes) differ, not only the noise
    lab = lambda ds, i: ds.render(i)[1]  # noqa: E731
    t, v = SynthStreets("target", "test", **kw), SynthStreets("target", "val", **kw)
    assert all(not np.array_equal(lab(t, i), lab(v, i)) for i in range(5))


def test_item_format_and_defaults():
    ds = SynthStreets("target", "test", classes=19, length=4)
    assert ds.size == (64, 128) and ds.class_ids == SYNTH19_CLASS_IDS == tuple(range(19))
    assert ds.name == "synth19:target:test" and ds.shift == SynthShift19.full()
    image, label = ds[0]
    assert image.shape == (3, 64, 128) and label.shape == (64, 128)
    assert set(label.unique().tolist()) <= set(range(19)) | {255}
    assert SynthStreets("source", classes=19).shift == SynthShift19.none()
    # SynthStreets-19 is the default benchmark, at the course's size; the 9-class one is an option
    assert SynthStreets("target").classes == 19 and SynthStreets("target").size == (64, 128)
    assert SynthStreets("target", classes=9).class_ids == (0, 1, 2, 5, 7, 8, 10, 11, 13)
    assert TrainConfig.preset("cpu").data.synth_classes == 19 == TrainConfig().data.synth_classes


def _pixels(shift: SynthShift19, n: int = 40, domain: str = "target") -> np.ndarray:
    ds = SynthStreets(domain, "val", classes=19, size=SMALL, length=n, shift=shift)
    return label_shares(ds)


def test_class_prior_is_game_like_at_0():
    full = SynthShift19.full()
    game, city = _pixels(full.replace(class_prior=0.0)), _pixels(full)
    vehicles, vulnerable = [13, 14, 15], [11, 12, 18]  # car truck bus; person rider bicycle
    assert game[vehicles].sum() > 1.3 * city[vehicles].sum()
    assert game[vulnerable].sum() < 0.6 * city[vulnerable].sum()
    assert game[9] > city[9] and game[10] > city[10]  # more terrain and sky


def test_camera_moves_the_horizon_and_scales_objects():
    full = SynthShift19.full()

    def road_top(shift):  # mean of each image's first row with road: the horizon
        ds = SynthStreets("target", "val", classes=19, size=SMALL, length=20, shift=shift)
        return np.mean([np.argmax((ds.render(i)[1] == 0).any(1)) for i in range(20)])

    assert road_top(full.replace(camera=0.0)) > road_top(full) + 3  # the game's horizon is lower
    # other strengths leave the scene alone: only camera moves it
    assert road_top(full.replace(noise=0.0, palette=0.0)) == road_top(full)


def test_shape_changes_silhouettes():
    full = SynthShift19.full()
    city = SynthStreets("target", "val", classes=19, length=30, shift=full)
    game = SynthStreets("target", "val", classes=19, length=30, shift=full.replace(shape=0.0))

    def person_width(ds):  # person pixels per image row that has any: how wide people are
        pixels = rows = 0
        for i in range(len(ds)):
            person = ds.render(i)[1] == 11
            pixels, rows = pixels + person.sum(), rows + person.any(1).sum()
        return pixels / rows

    # the same scenes (shape draws nothing of its own), with game-like (slimmer) people
    assert person_width(game) < 0.9 * person_width(city)
    assert sum(not np.array_equal(city.render(i)[1], game.render(i)[1]) for i in range(10)) >= 8


def test_appearance_components_keep_the_scene():
    base = SynthStreets("target", "val", classes=19, size=SMALL, length=3, shift=SynthShift19.none())
    for name in SynthShift.components():
        if name == "layout":
            continue
        one = SynthStreets("target", "val", classes=19, size=SMALL, length=3, shift=SynthShift19.only(name))
        (i0, l0), (i1, l1) = base.render(1), one.render(1)
        assert np.array_equal(l0, l1), name
        assert not np.array_equal(i0, i1), name
    for name in ("class_prior", "camera", "shape"):
        one = SynthStreets("target", "val", classes=19, size=SMALL, length=3, shift=SynthShift19.only(name))
        assert any(not np.array_equal(base.render(i)[1], one.render(i)[1]) for i in range(3)), name


def test_layout_is_the_ego_vehicle_hood():
    ds = SynthStreets("target", "val", classes=19, size=SMALL, length=40)
    hood = [bool((ds[i][1] == 255).any()) for i in range(40)]
    assert 10 < sum(hood) < 40
    src = SynthStreets("source", "val", classes=19, size=SMALL, length=40)
    assert not any(bool((src[i][1] == 255).any()) for i in range(40))


def test_shift19_dataclass():
    assert SynthShift19.components()[:9] == SynthShift.components()
    assert SynthShift19.components()[9:] == ("class_prior", "camera", "shape")
    assert isinstance(SynthShift19.full().scaled(0.5), SynthShift19) and SynthShift19.full().scaled(0.5).camera == 0.5
    with pytest.raises(ValueError, match=r"SynthShift19.camera must be a finite number >= 0"):
        SynthShift19(camera=-1)
    with pytest.raises(ValueError, match=r"SynthShift19.class_prior .*got nan"):
        SynthShift19(class_prior=float("nan"))
    with pytest.raises(ValueError, match="unknown SynthShift19 component"):
        SynthShift19.only("weather")


def test_shift_text_form_round_trips_and_names_bad_items():
    assert SynthShift19.parse("full") == SynthShift19.full() and SynthShift19.parse("none") == SynthShift19.none()
    assert SynthShift19.parse("full,camera=0") == SynthShift19.full().replace(camera=0.0)
    assert SynthShift19.parse(" none , camera=1, shape=0.5") == SynthShift19.none().replace(camera=1.0, shape=0.5)
    assert SynthShift19.only("camera").text() == "none,camera=1"
    assert SynthShift19.full().replace(class_prior=0.0).text() == "full,class_prior=0"
    for shift in (SynthShift19.full(), SynthShift19.none(), SynthShift19.full().scaled(0.5)):
        assert SynthShift19.parse(shift.text()) == shift
    with pytest.raises(ValueError, match=r"shift 'half': starts with 'half'; expected 'full' or 'none'"):
        SynthShift19.parse("half")
    with pytest.raises(ValueError, match=r"item 'weather=1'.*components: palette, .*camera, shape"):
        SynthShift19.parse("full,weather=1")
    for bad in ("full,camera=-1", "full,camera=x", "full,camera", "full,camera=0,camera=1"):
        with pytest.raises(ValueError, match="expected 'full' or 'none'"):
            SynthShift19.parse(bad)
    with pytest.raises(ValueError, match="item 'camera=0'"):
        SynthShift.parse("full,camera=0")  # the 9-class shift has no camera


def test_a_config_renders_its_target_with_its_shift_and_leaves_the_source_alone():
    from pfrlib.config.train_config import TrainConfig
    from pfrlib.data.spec import build_dataset

    cfg = TrainConfig.preset("cpu", synth_shift="full,camera=0,class_prior=0")
    target = build_dataset("synth:target:test", "test", None, cfg.data, "target_test")
    assert target.shift == SynthShift19.full().replace(camera=0.0, class_prior=0.0)
    assert build_dataset("synth:source", "train", None, cfg.data, "source").shift == SynthShift19.none()
    default = TrainConfig.preset("cpu")
    assert build_dataset("synth:target", "train", None, default.data, "target").shift == SynthShift19.full()
    with pytest.raises(ValueError, match=r"synth_shift: shift 'full,hue=0': item 'hue=0'"):
        TrainConfig.preset("cpu", synth_shift="full,hue=0").validate()


def test_bad_arguments():
    with pytest.raises(ValueError, match=r"classes must be one of \(9, 19\), got 10"):
        SynthStreets("target", classes=10)
    with pytest.raises(ValueError, match=r"split must be one of \('train', 'val', 'test'\), got 'tst'"):
        SynthStreets("target", "tst", classes=19)
    with pytest.raises(TypeError, match="SynthShift19 for classes=19"):
        SynthStreets("target", classes=19, shift=SynthShift.full())
    with pytest.raises(TypeError, match="SynthShift for classes=9"):
        SynthStreets("target", classes=9, shift=SynthShift19.full())
    with pytest.raises(ValueError, match=r":train, :val or :test"):
        from_spec("synth:target:tset")


def test_specs_and_config_select_the_benchmark():
    assert from_spec("synth:target:test", classes=19, length=2).split == "test"
    cfg = TrainConfig.preset("cpu", synth_classes=19, synth_seed=7, synth_size=(64, 128), synth_val_length=5)
    cfg.validate()
    ds = build_dataset("synth:target:test", "val", None, cfg.data, "target_val")
    assert (ds.classes, ds.seed, ds.split, len(ds), ds.size) == (19, 7, "test", 5, (64, 128))
    assert cfg.to_dict()["data"]["synth_classes"] == 19 and cfg.to_dict()["data"]["synth_seed"] == 7
    old = TrainConfig.preset("cpu").to_dict()
    del old["data"]["synth_classes"], old["data"]["synth_seed"]  # a config.json from before the fields
    # ... trained on the 9-class benchmark, the only one then (so it never counts as a run of today's default)
    assert TrainConfig.from_dict(old) == TrainConfig.preset("cpu", synth_classes=9) != TrainConfig.preset("cpu")
    with pytest.raises(ValueError, match="synth_classes"):
        TrainConfig.preset("cpu", synth_classes=10).validate()
    # a different data seed: different scenes
    other = build_dataset("synth:target:test", "val", None, TrainConfig.preset(
        "cpu", synth_classes=19, synth_seed=8, synth_size=(64, 128)).data, "target_val")
    assert not np.array_equal(ds.render(0)[1], other.render(0)[1])


# Digests of items 0, 3 and 7 (image bytes then label bytes, sha256 over the three) of the 9-class
# benchmark, computed with the generator as it was before SynthStreets-19 existed (commit 5c1864e,
# `SynthStreets(domain, split, length=8).render(i)`): the 9-class benchmark's pixels must not move.
NINE_CLASS_DIGESTS = {
    ("source", "train"): "535f63bea53cbe56177211cc7baee88d3912d94e1fd61edb342c6676650a2434",
    ("target", "val"): "578ab9a1f70ae82578ae6c3f2cf2c7d7d82e446b4876a61e231bd9ddcdf953af",
    ("target", "train"): "ab5394447e162ca9f33ab79ca62f0dca7978d645bef40d008e378785a47315dd",
}


@pytest.mark.parametrize("domain,split", sorted(NINE_CLASS_DIGESTS))
def test_nine_class_benchmark_is_byte_identical(domain, split):
    ds = SynthStreets(domain, split, length=8, classes=9)
    h = hashlib.sha256()
    for i in (0, 3, 7):
        image, label = ds.render(i)
        h.update(image.tobytes())
        h.update(label.tobytes())
    assert h.hexdigest() == NINE_CLASS_DIGESTS[(domain, split)]


def _synth_gap():
    return load_script("benchmarks/synth_gap.py")


def test_synth_gap_components_table_at_tiny_size(tmp_path, one_torch_thread):
    """Every component alone and all-but-one gets a gap row on the test split; per-class IoU too."""
    gap = tmp_path / "gap.md"
    result = _synth_gap().main(["--classes", "19", "--size", "32", "64", "--seeds", "0", "--iterations", "1",
                                "--batch-size", "2", "--train-length", "2", "--val-length", "2", "--components",
                                "--per-class", "--cache-dir", str(tmp_path / "cache"), "--markdown", str(gap)])
    text = gap.read_text()
    assert "SynthStreets-19 32x64" in text and "target-test mIoU" in text
    names = SynthShift19.components()
    assert set(result["components"]) == {"full shift"} | {f"only {c}" for c in names} | {f"all but {c}" for c in names}
    for c in names:
        assert f"| only {c} |" in text and f"| all but {c} |" in text
    row = result["components"]["only camera"]
    assert row["gap"][0] == pytest.approx(row["oracle"][0] - row["source_only"][0])
    assert "| motorcycle |" in text and "Per-class IoU (%) on target test" in text
    assert len(list((tmp_path / "cache").glob("*.npz"))) >= 2 * len(names)  # each variant rendered its own target


def test_synth_gap_merges_runs_of_single_seeds_into_the_table_of_one_run(tmp_path, one_torch_thread):
    """Seeds run in separate processes and merged give the numbers of one run over all of them."""
    mod = _synth_gap()
    every = mod.component_shifts  # one component's two rows stand for all twelve (a third of the time)
    mod.component_shifts = lambda t: {k: v for k, v in every(t).items()
                                      if k in ("full shift", "only camera", "all but camera")}
    common = ["--classes", "19", "--size", "32", "64", "--iterations", "1", "--batch-size", "2",
              "--train-length", "2", "--val-length", "2", "--components", "--per-class",
              "--cache-dir", str(tmp_path / "cache")]
    both = mod.main(common + ["--seeds", "0,1"])
    for seed in (0, 1):
        mod.main(common + ["--seeds", str(seed), "--json", str(tmp_path / f"seed{seed}.json")])
    merged = mod.main(["--merge", str(tmp_path / "seed0.json"), str(tmp_path / "seed1.json"),
                       "--markdown", str(tmp_path / "merged.md")])
    assert merged["args"]["seeds"] == "0,1"
    for key in ("src_src", "src_tgt", "oracle_tgt", "components", "confusions", "per_class_iou"):
        assert merged[key] == json.loads(json.dumps(both[key], default=lambda o: o.tolist())), key
    timing = re.compile(r"\| [0-9.]+ ± [0-9.]+ \|$")  # ms / iteration is the one column that differs
    strip = lambda t: [timing.sub("|", line) for line in t.splitlines()]  # noqa: E731
    assert strip(merged["table"]) == strip(both["table"])
    assert (tmp_path / "merged.md").read_text() == merged["table"]
    with pytest.raises(SystemExit, match="seed.*more than one"):
        mod.main(["--merge", str(tmp_path / "seed0.json"), str(tmp_path / "seed0.json")])
    other = json.loads((tmp_path / "seed1.json").read_text())  # a run of another setting
    other["args"].update(seeds="2", train_length=3)
    (tmp_path / "other.json").write_text(json.dumps(other))
    with pytest.raises(SystemExit, match="other.json has --train-length 3"):
        mod.main(["--merge", str(tmp_path / "seed0.json"), str(tmp_path / "other.json")])
    (tmp_path / "bad.json").write_text("{}")
    with pytest.raises(SystemExit, match="bad.json is not a --json file"):
        mod.main(["--merge", str(tmp_path / "bad.json")])


def test_component_sizes_alone_removed_and_the_verdict_by_hand():
    """Sizes two ways from a hand-made table: alone = gap / full gap; removed = 100% - all-but's share."""
    sizes = _synth_gap().component_sizes

    def table(a_alone, a_but, b_alone, b_but):
        row = lambda gaps: {"source_only": [0.0] * 2, "oracle": gaps, "gap": gaps}  # noqa: E731
        return {"full shift": row([20.0, 20.0]), "only a": row(a_alone), "all but a": row(a_but),
                "only b": row(b_alone), "all but b": row(b_but)}

    # a: alone 15 of 20 (75%), without it 8 of 20 left (60% removed); b: alone 5 (25%), without it 18 (10%)
    text = sizes(table([14.0, 16.0], [8.0, 8.0], [5.0, 5.0], [17.0, 19.0]))[0]
    assert "**Alone** (share of the full gap the component makes by itself): `a` 75%, `b` 25%." in text
    assert "`a` 60%, `b` 10%." in text
    assert text.endswith("Components over 50% of the gap alone: `a`; over 50% of it removed: `a`.")
    # a makes most of the gap alone but is not needed for it (without a, 14 of 20 remain: 30% removed)
    text = sizes(table([15.0, 15.0], [14.0, 14.0], [5.0, 5.0], [18.0, 18.0]))[0]
    assert "`a` 30%, `b` 10%" in text and text.endswith("alone: `a`; over 50% of it removed: none.")


def test_synth_gap_bad_flags(capsys):
    with pytest.raises(SystemExit):
        _synth_gap().main(["--docs"])
    assert "--docs writes the table of --shares, --tabulate, --merge or --classes 19 --components" in capsys.readouterr().err


def test_synth_gap_tabulates_finished_runs(tmp_path):
    import json

    def fake(name, method, seed, road):
        d = tmp_path / name
        d.mkdir()
        per_class = {n: 0.5 for n in CLASS_NAMES}
        per_class["road"] = road
        (d / "final.json").write_text(json.dumps({
            "method": method, "seed": seed, "preset": "cpu", "iterations": 1500, "target_miou": 0.5,
            "wall_time_s": 100.0 + seed,
            "target_val": {"spec": "synth:target:test", "num_images": 300, "class_ids": list(range(19)),
                           "per_class_iou": per_class}}))
        (d / "config.json").write_text(json.dumps({"data": {"synth_classes": 19, "synth_seed": 0,
                                                            "synth_size": [128, 256]}}))
        return str(d)

    runs = [fake("a", "oracle", 0, 0.9), fake("b", "oracle", 1, 0.7), fake("c", "source_only", 0, 0.1)]
    text = _synth_gap().main(["--tabulate", *runs])["table"]
    assert "`synth:target:test` (300 images)" in text and "SynthStreets-19 128x256" in text
    assert "| road | 80.0 ± 14.1 | 10.0 |" in text
    assert "| lowest class (mean) | sidewalk 50.0 | road 10.0 |" in text


def test_synth_gap_writes_docs_between_markers(tmp_path):
    mod = _synth_gap()
    doc = tmp_path / "d.md"
    doc.write_text("a\n<!-- x:start -->\nold\n<!-- x:end -->\nb\n")
    mod.write_docs("x", "new\n", doc)
    assert doc.read_text() == "a\n<!-- x:start -->\nnew\n<!-- x:end -->\nb\n"
    with pytest.raises(SystemExit, match="no <!-- y:start -->"):
        mod.write_docs("y", "t\n", doc)


def test_kept_items_are_the_rendered_ones_and_are_rendered_once(monkeypatch):
    kept = SynthStreets("target", "val", classes=19, size=SMALL, length=6, keep_in_memory=True)
    fresh = SynthStreets("target", "val", classes=19, size=SMALL, length=6)
    calls = []
    render = SynthStreets.render
    monkeypatch.setattr(SynthStreets, "render", lambda self, i: calls.append(i) or render(self, i))
    for _ in range(3):  # three passes, as a run validates three times
        for i in range(6):
            (a, la), (b, lb) = kept[i], fresh[i]
            assert torch.equal(a, b) and torch.equal(la, lb) and la.dtype == torch.int64
    assert sorted(calls) == sorted([*range(6), *list(range(6)) * 3])  # kept: once each; fresh: every time
    image, label = kept[2]
    image.zero_(), label.fill_(0)  # an item handed out is a copy: changing it leaves the kept one
    assert torch.equal(kept[2][0], fresh[2][0]) and torch.equal(kept[2][1], fresh[2][1])
    with pytest.raises(IndexError, match="out of range"):
        kept[6]
    cfg = TrainConfig.preset("cpu", synth_val_length=3)
    assert cfg.data.synth_in_memory  # the engine's SynthStreets keep their items (a run reads them again)
    assert build_dataset("synth:target:val", "val", None, cfg.data, "target_val")._kept == {}
    assert build_dataset("synth:target:val", "val", None, TrainConfig.preset(
        "cpu", synth_in_memory=False).data, "target_val")._kept is None
