"""Claim (b) per class (pfrlib.evaluation.class_comparisons): a hand-computed case of 3 seeds and 3
classes, Holm over the classes, the matrices' interval and its fallback to seeds, the table, the
verdict in words, the command line and bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest

from fake_runs import write_runs
from pfrlib.engine.record import TEST_CONFUSION
from pfrlib.evaluation.class_comparisons import claim_b_words, class_comparison_markdown, compare_classes, main
from pfrlib.evaluation.results_files import read_results, summarize_runs
from pfrlib.evaluation.statistics import bootstrap_interval, holm, paired_t_p_value
from pfrlib.paper.metrics import CITYSCAPES_CLASSES

ROAD, BUILDING, CAR = (CITYSCAPES_CLASSES.index(n) for n in ("road", "building", "car"))


def _matrix(a: int) -> np.ndarray:
    """One image's 19 x 19 matrix with three classes: ``a`` of road's 10 pixels right, the rest
    taken for building; building and car always right. IoU: road a/10, building 10/(20 - a), car 1."""
    cm = np.zeros((19, 19), np.int64)
    cm[ROAD, ROAD], cm[ROAD, BUILDING], cm[BUILDING, BUILDING], cm[CAR, CAR] = a, 10 - a, 10, 10
    return cm


# road pixels right per seed (5, 6, 7): PFR + adversarial's and CLAN's
RIGHT = {"pfr_adv": (8, 9, 10), "clan": (5, 6, 6)}
# hand-computed, reference minus CLAN in IoU points: road 10 (a_ref - a_clan),
# building 100 (10 / (20 - a_ref) - 10 / (20 - a_clan))
ROAD_D = [30.0, 30.0, 40.0]
BUILDING_D = [100 * (10 / 12 - 10 / 15), 100 * (10 / 11 - 10 / 14), 100 * (10 / 10 - 10 / 14)]


def _hand_case() -> tuple[dict, dict]:
    """Results with per-seed per-class test IoU and each seed's two identical test images' matrices."""
    confusion = {m: np.stack([np.stack([_matrix(a), _matrix(a)]) for a in right]) for m, right in RIGHT.items()}
    results = {}
    for m, right in RIGHT.items():
        per_class = {n: [None] * 3 for n in CITYSCAPES_CLASSES}
        per_class |= {"road": [10.0 * a for a in right], "building": [100 * 10 / (20 - a) for a in right],
                      "car": [100.0] * 3}
        results[m] = {"seeds": [5, 6, 7], "per_seed_test": [0.0] * 3, "per_seed_per_class_test": per_class}
    return results, confusion


def test_hand_computed_per_class_differences_holm_and_verdicts():
    results, _ = _hand_case()
    rows = compare_classes(results, "clan", "pfr_adv", resamples=500)
    assert [r.name for r in rows] == ["road", "building", "car"]  # only the classes scored on every seed
    road, building, car = rows
    assert road.differences == pytest.approx(ROAD_D) and building.differences == pytest.approx(BUILDING_D)
    assert car.differences == (0.0, 0.0, 0.0) and car.p == 1.0
    ps = [paired_t_p_value(ROAD_D), paired_t_p_value(BUILDING_D), 1.0]
    assert road.p == pytest.approx(0.00985, abs=5e-5)  # t = 10 on 2 degrees of freedom
    assert [r.p_holm for r in rows] == pytest.approx(holm(ps))  # Holm over the three classes, not per class
    assert road.p_holm == pytest.approx(3 * road.p)
    assert road.interval == pytest.approx(bootstrap_interval(ROAD_D, resamples=500))
    assert (road.verdict, car.verdict) == ("beats", "ties") and road.resampled == "seeds"
    assert building.p < 0.05 < building.p_holm and building.verdict == "ties" and road.seeds_won == 3


def test_identical_test_images_give_the_seeds_interval_and_different_ones_widen_it():
    results, confusion = _hand_case()
    with_images = compare_classes(results, "clan", confusion=confusion, resamples=500)
    seeds_only = compare_classes(results, "clan", resamples=500)
    assert {r.resampled for r in with_images} == {"seeds and test images"}
    for a, b in zip(with_images, seeds_only):  # every image alike: resampling them changes nothing
        assert a.mean == pytest.approx(b.mean) and a.interval == pytest.approx(b.interval)
    # the reference's two images of seed 5 now differ (7 and 9 road pixels right; the same sum):
    # the images add spread, and the interval reaches below the seeds' lowest difference
    confusion["pfr_adv"][0] = np.stack([_matrix(7), _matrix(9)])
    road = compare_classes(results, "clan", confusion=confusion, resamples=500)[0]
    assert road.mean == pytest.approx(np.mean(ROAD_D))
    assert road.interval[0] < min(ROAD_D) == seeds_only[0].interval[0]


def _collected(tmp_path) -> tuple[dict, dict]:
    finals, folders = write_runs(tmp_path, {"pfr_adv": 0.9, "clan": 0.6})
    (tmp_path / "results.json").write_text(json.dumps(summarize_runs(finals, folders=folders, root=tmp_path)))
    return read_results(tmp_path / "results.json"), folders


def test_collected_runs_resample_test_images_and_fall_back_to_seeds_when_a_run_is_gone(tmp_path, capsys):
    results, folders = _collected(tmp_path)
    rows = compare_classes(results, "clan", root=tmp_path, resamples=200)
    assert len(rows) == 19 and {(r.split, r.resampled, r.note) for r in rows} == {("test", "seeds and test images", "")}
    for r in rows:  # the interval's centre, recomputed from the matrices, is the file's mean difference
        assert r.mean == pytest.approx(np.mean(r.differences), abs=1e-9)
        assert r.interval[0] <= r.mean <= r.interval[1]
    (folders["clan"][2] / TEST_CONFUSION).unlink()
    rows = compare_classes(results, "clan", root=tmp_path, resamples=200)
    assert {r.resampled for r in rows} == {"seeds"} and "clan_s7 is not here" in rows[0].note
    table = class_comparison_markdown(rows)
    assert "Holm over the 19 classes present" in table and "Seeds only where test images were expected" in table
    assert main([str(tmp_path / "results.json"), "--root", str(tmp_path), "--facts-images", "2",
                 "--resamples", "100"]) == 0
    out = capsys.readouterr().out
    assert "| class | named by the paper | pixel share (%) | mean instance size (px) |" in out
    assert "| road | yes |" in out and "| sky |  |" in out and "Over the 19 classes compared" in out


def test_table_and_words_read_the_facts():
    results, _ = _hand_case()
    rows = compare_classes(results, "clan", resamples=500)
    facts = {"road": {"share": 40.0, "mean_instance_px": 900.0}, "building": {"share": 30.0, "mean_instance_px": 50.0},
             "car": {"share": 5.0, "mean_instance_px": 100.0}}
    table = class_comparison_markdown(rows, facts)
    assert "| road | yes | 40.00 | 900 | **+33.3** | **+30.0 to +40.0** | 3 of 3 |" in table
    assert "| car |  | 5.00 | 100 | +0.0 |" in table
    words = claim_b_words(rows, facts)
    assert [r.verdict for r in rows] == ["beats", "ties", "ties"]  # building's p = 0.03 is 0.06 after Holm
    assert "beats CLAN on 1 (road), ties on 2 and loses on 0 (none)" in words
    assert "Of the paper's eight classes, 2 are compared here and PFR" in words
    assert "Of its 1 win, 1 is among the more frequent half of the classes (pixel share above the median, 30.00%) " \
           "and 1 among the larger half (mean instance size above the median, 100 px)" in words
    unseen = claim_b_words(rows, facts | {"car": {"share": 0.0, "mean_instance_px": None}})
    assert "Car has no pixel in the images counted, so it is left out of what follows" in unseen
    with pytest.raises(ValueError, match=r"^facts: no pixel share or instance size for \['car'\]"):
        claim_b_words(rows, {k: v for k, v in facts.items() if k != "car"})


@pytest.mark.reliability
def test_bad_input_is_named(tmp_path, capsys):
    results, confusion = _hand_case()
    with pytest.raises(ValueError, match=r"^method: 'dlow' is not in the results"):
        compare_classes(results, "dlow")
    with pytest.raises(ValueError, match=r"^method: 'pfr_adv' is the reference"):
        compare_classes(results, "pfr_adv")
    bare = {m: {k: v for k, v in e.items() if k != "per_seed_per_class_test"} for m, e in results.items()}
    with pytest.raises(ValueError, match=r"^results: pfr_adv and clan do not both keep per-class IoU per seed"):
        compare_classes(bare, "clan")
    with pytest.raises(ValueError, match=r"^confusion: expected \(seeds, images, 19, 19\)"):
        compare_classes(results, "clan", confusion={m: c[..., :3, :3] for m, c in confusion.items()})
    results["clan"]["per_seed_per_class_test"]["road"][1] = None  # road unscored on one seed: not compared
    assert [r.name for r in compare_classes(results, "clan", resamples=50)] == ["building", "car"]
    path = tmp_path / "table.json"
    path.write_text(json.dumps({"pfr_adv": {"target": [40.0, 1.0], "per_seed_target": [40.0, 41.0], "seeds": [5, 6],
                                            "per_class_target": {"road": 50.0}}}))
    assert main([str(path), "--facts-images", "0"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: method: 'clan' is not in the results") and err.count("\n") == 1
    assert main([str(path), "--facts-images", "-1"]) == 2
    assert capsys.readouterr().err.startswith("error: --facts-images: expected 0 or more")
