"""A results file's methods against a reference (pfrlib.evaluation.comparisons): paired by seed id,
one Holm family, verdicts, the Markdown table, the command line on a committed file, bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest

from fake_runs import write_runs
from pfrlib.engine.record import TEST_CONFUSION, PerImageConfusion
from pfrlib.evaluation.comparisons import VERDICTS, compare, comparison_markdown, main, seed_confusions
from pfrlib.evaluation.results_files import TABLE1_HELDOUT, read_results, summarize_runs
from pfrlib.evaluation.statistics import holm, paired_t_p_value, seed_mious, sign_flip_p_value


def _results(tmp_path) -> dict:
    def entry(values, seeds):
        return {"target": [float(np.mean(values)), float(np.std(values, ddof=1))], "per_seed_target": values,
                "seeds": seeds, "per_class_target": {"road": 50.0}}

    data = {"pfr_adv": entry([40.0, 42.0, 38.0, 41.0], [5, 6, 7, 8]),
            "adaptsegnet": entry([35.0, 36.0, 34.0, 36.5], [5, 6, 7, 8]),
            "cycada": entry([41.0, 40.0, 39.5, 41.5], [8, 7, 6, 5])}  # another seed order, paired by seed
    path = tmp_path / "table.json"
    path.write_text(json.dumps(data))
    return read_results(path)


def test_compare_pairs_each_method_with_the_reference_by_seed(tmp_path):
    rows = compare(_results(tmp_path), "pfr_adv", resamples=500)
    assert [r.method for r in rows] == ["adaptsegnet", "cycada"]
    assert rows[0].differences == (5.0, 6.0, 4.0, 4.5) and rows[0].seeds == (5, 6, 7, 8)
    assert rows[1].differences == (-1.5, 2.5, -2.0, 0.0)  # cycada's seed 5 is its last value
    ps = [paired_t_p_value(r.differences) for r in rows]
    assert [r.p for r in rows] == pytest.approx(ps) and [r.p_holm for r in rows] == pytest.approx(holm(ps))
    assert rows[0].verdict == "beats" and rows[1].verdict == "ties" and rows[0].seeds_won == 4
    assert rows == compare(_results(tmp_path), "pfr_adv", resamples=500)  # deterministic
    table = comparison_markdown(rows)
    assert "| AdaptSegNet | **+4.9** |" in table and "4 of 4" in table and "| CyCADA | -0.2 |" in table
    assert {r.verdict for r in rows} <= set(VERDICTS)


def test_with_confusion_matrices_the_interval_resamples_test_images_too(tmp_path):
    rng = np.random.default_rng(0)
    confusion = {m: rng.integers(0, 20, (3, 4, 3, 3)) + 60 * np.eye(3, dtype=np.int64) for m in ("pfr_adv", "cycada")}
    results = {m: {"per_seed_test": seed_mious(cm).tolist(), "seeds": [5, 6, 7]} for m, cm in confusion.items()}
    results["adaptsegnet"] = {"per_seed_test": [30.0, 31.0, 29.0], "seeds": [5, 6, 7]}  # no matrices kept
    rows = compare(results, "pfr_adv", confusion=confusion, test="sign_flip", resamples=200)
    assert [(r.method, r.resampled) for r in rows] == [("cycada", "seeds and test images"), ("adaptsegnet", "seeds")]
    cycada = rows[0]
    expected = seed_mious(confusion["pfr_adv"]) - seed_mious(confusion["cycada"])
    assert cycada.mean == pytest.approx(float(expected.mean()))
    assert cycada.p == sign_flip_p_value(cycada.differences) and cycada.interval[0] <= cycada.mean <= cycada.interval[1]
    assert "p (two-sided sign-flip permutation test)" in comparison_markdown(rows)
    assert "resampling seeds or seeds and test images" in comparison_markdown(rows)


def test_runs_per_image_test_matrices_stack_into_what_compare_resamples(tmp_path):
    rng = np.random.default_rng(1)
    runs = {m: [tmp_path / f"{m}_{seed}" for seed in (5, 6, 7)] for m in ("pfr_adv", "cycada")}
    for folders in runs.values():
        for folder in folders:
            last = rng.integers(0, 20, (4, 3, 3)) + 60 * np.eye(3, dtype=np.int64)
            PerImageConfusion(last=last, class_ids=(0, 1, 2), spec="synth:target:test", best_on_val=last + 1).write(
                folder / TEST_CONFUSION)
    confusion = {m: seed_confusions(folders) for m, folders in runs.items()}
    assert confusion["pfr_adv"].shape == (3, 4, 3, 3)
    assert np.array_equal(seed_confusions(runs["cycada"], "best_on_val"), confusion["cycada"] + 1)
    results = {m: {"per_seed_test": seed_mious(cm).tolist(), "seeds": [5, 6, 7]} for m, cm in confusion.items()}
    assert compare(results, "pfr_adv", confusion=confusion, resamples=100)[0].resampled == "seeds and test images"
    val = {m: {"per_seed_target": e["per_seed_test"], "seeds": e["seeds"]} for m, e in results.items()}
    with pytest.raises(ValueError, match="^confusion: per-image test matrices cannot go with the results' val scores"):
        compare(val, "pfr_adv", confusion=confusion)  # test images never resampled around val numbers
    PerImageConfusion(last=np.ones((5, 3, 3)), class_ids=(0, 1, 2), spec="synth:target:test").write(
        runs["cycada"][2] / TEST_CONFUSION)
    with pytest.raises(ValueError, match="cycada_7 was scored on synth:target:test \\(5 images\\).*one test set"):
        seed_confusions(runs["cycada"])
    with pytest.raises(ValueError, match="no checkpoint chosen on val"):
        seed_confusions(runs["cycada"][2:], "best_on_val")
    with pytest.raises(ValueError, match="model: expected one of"):
        seed_confusions(runs["cycada"], "best_on_test")


def test_the_committed_file_s_table_from_the_command_line(capsys):
    """The committed 9-class file holds val numbers only: one table, labelled val, never test."""
    assert main([str(TABLE1_HELDOUT.resolve()), "--reference", "pfr_adv", "--resamples", "500"]) == 0
    out = capsys.readouterr().out
    results = TABLE1_HELDOUT.read()
    assert out.count("\n| ") == len(results) - 1  # one row per other method
    assert f"Holm over the {len(results) - 1} comparisons" in out
    assert "Target val mIoU (%) of the last iteration's model: the file holds no test scores" in out
    assert "target test" not in out.lower() and "checkpoint chosen" not in out
    rows = compare(results, "pfr_adv", resamples=100)
    assert {(r.split, r.model, r.resampled) for r in rows} == {("val", "last", "seeds")}
    with pytest.raises(ValueError, match="'best_on_val' needs 'per_seed_test_val_chosen'"):
        compare(results, "pfr_adv", model="best_on_val")


def _collected_file(tmp_path) -> tuple[dict, dict]:
    """Two methods x three seeds of fake runs (tests/fake_runs.py) summarised into a results file
    under ``tmp_path``, read back: (results, {method: run folders})."""
    finals, folders = write_runs(tmp_path, {"pfr_adv": 0.9, "adaptsegnet": 0.6})
    path = tmp_path / "results.json"
    path.write_text(json.dumps(summarize_runs(finals, folders=folders, root=tmp_path)))
    return read_results(path), folders


def test_collected_runs_are_compared_on_test_with_both_model_columns(tmp_path, capsys):
    results, folders = _collected_file(tmp_path)
    ref, other = results["pfr_adv"], results["adaptsegnet"]
    for model, key in (("last", "per_seed_test"), ("best_on_val", "per_seed_test_val_chosen")):
        (row,) = compare(results, "pfr_adv", model=model, root=tmp_path, resamples=300)
        assert (row.split, row.model, row.resampled, row.note) == ("test", model, "seeds and test images", "")
        assert row.differences == pytest.approx([a - b for a, b in zip(ref[key], other[key])])
        # the interval's centre, recomputed from the matrices over the runs' own classes, is the file's
        assert row.mean == pytest.approx(sum(row.differences) / 3)
        matrices = seed_confusions(folders["adaptsegnet"], model)
        assert seed_mious(matrices) == pytest.approx(other[key])
    assert main([str(tmp_path / "results.json"), "--root", str(tmp_path), "--resamples", "300"]) == 0
    out = capsys.readouterr().out
    first, second = out.split("\n\n| method")
    assert "Target test mIoU (%) of the last iteration's model" in first
    assert "Target test mIoU (%) of the checkpoint chosen on target val" in second
    assert out.count("resampling seeds and test images; Holm over the 1 comparisons") == 2


def test_runs_not_here_fall_back_to_seeds_and_say_so(tmp_path, capsys):
    results, folders = _collected_file(tmp_path)
    (folders["adaptsegnet"][1] / TEST_CONFUSION).unlink()
    (row,) = compare(results, "pfr_adv", root=tmp_path, resamples=200)
    assert (row.split, row.resampled) == ("test", "seeds")
    assert row.note.startswith("adaptsegnet's run") and "adaptsegnet_s6 is not here" in row.note
    assert row.mean == pytest.approx(sum(row.differences) / 3)
    assert main([str(tmp_path / "results.json"), "--root", str(tmp_path / "elsewhere"), "--model", "last"]) == 0
    out = capsys.readouterr().out
    assert "resampling seeds;" in out and "Seeds only where test images were expected: pfr_adv's run" in out


def test_a_changed_confusion_file_is_an_error_naming_it(tmp_path, capsys):
    results, folders = _collected_file(tmp_path)
    changed = folders["pfr_adv"][2] / TEST_CONFUSION
    kept = PerImageConfusion.read(changed)
    PerImageConfusion(last=kept.last + 1, class_ids=kept.class_ids, spec=kept.spec,
                      best_on_val=kept.best_on_val).write(changed)
    with pytest.raises(ValueError, match=f"^{changed}: sha256 [0-9a-f]{{64}} is not the [0-9a-f]{{64}} the results "
                                         f"file records for pfr_adv"):
        compare(results, "pfr_adv", root=tmp_path)
    assert main([str(tmp_path / "results.json"), "--root", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {changed}: sha256") and err.count("\n") == 1


@pytest.mark.reliability
def test_unpaired_seeds_or_an_absent_reference_get_one_error(tmp_path, capsys):
    results = _results(tmp_path)
    results["cycada"]["seeds"] = [5, 6, 7, 9]
    with pytest.raises(ValueError, match=r"^results: cycada was trained on seeds \[5, 6, 7, 9\] and pfr_adv on"):
        compare(results, "pfr_adv")
    with pytest.raises(ValueError, match=r"^reference: 'clan' is not in the results"):
        compare(results, "clan")
    assert main([str(tmp_path / "table.json"), "--reference", "clan"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: reference: 'clan'") and err.count("\n") == 1


def test_a_family_with_a_row_scored_on_val_only_is_compared_on_val_throughout(tmp_path):
    """One family, one split: a val-only row puts the whole family on val, never val against test."""
    results = {"pfr_adv": {"per_seed_target": [40.0, 42.0, 41.0], "per_seed_test": [30.0, 31.0, 29.0],
                           "seeds": [5, 6, 7]},
               "adaptsegnet": {"per_seed_target": [35.0, 36.0, 34.0], "seeds": [5, 6, 7]},
               "clan": {"per_seed_target": [33.0, 30.0, 31.0], "per_seed_test": [20.0, 21.0, 22.0], "seeds": [5, 6, 7]}}
    rows = compare(results, "pfr_adv", resamples=100)
    assert [(r.split, r.differences) for r in rows] == [("val", (5.0, 6.0, 7.0)), ("val", (7.0, 12.0, 10.0))]
    rows = compare(results, "pfr_adv", methods=["clan"], resamples=100)  # a family that has test throughout
    assert [(r.split, r.differences) for r in rows] == [("test", (10.0, 10.0, 7.0))]
    assert "Target val mIoU (%)" in comparison_markdown(compare(results, "pfr_adv", resamples=100))
