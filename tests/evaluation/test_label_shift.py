"""Label shift in the predictions: class shares and total variation on hand-computed matrices, the
groups' rows on fake finished runs, and benchmarks/label_shift.py's collection and errors."""

from __future__ import annotations

import numpy as np
import pytest

from fake_runs import CLASSES, write_run
from pfrlib.engine.record import TEST_CONFUSION, PerImageConfusion
from pfrlib.evaluation.label_shift import class_shares, rows_markdown, shares_markdown, shift_rows, total_variation
from script_module import load_script


def test_class_shares_read_truth_from_rows_and_predictions_from_columns():
    # 3 classes; truth 6 / 2 / 2 pixels, predictions 4 / 2 / 4 (two class-0 pixels predicted as 2)
    cm = np.array([[4, 0, 2], [0, 2, 0], [0, 0, 2]])
    true, predicted = class_shares(cm)
    assert true.tolist() == pytest.approx([0.6, 0.2, 0.2]) and predicted.tolist() == pytest.approx([0.4, 0.2, 0.4])
    stacked = class_shares(np.stack([cm, cm]))  # per-image matrices are summed first
    assert stacked[0].tolist() == pytest.approx(true.tolist())
    # TV = 0.5 * (|0.6 - 0.4| + 0 + |0.2 - 0.4|) = 0.2: the two mislabelled pixels of 10
    assert total_variation(true, predicted) == pytest.approx(0.2)
    assert total_variation(true, true) == 0.0 and total_variation([1, 0], [0, 1]) == pytest.approx(1.0)


def test_bad_inputs_are_named():
    with pytest.raises(ValueError, match="K x K or N x K x K"):
        class_shares(np.ones((2, 3)))
    with pytest.raises(ValueError, match="at least one labelled pixel"):
        class_shares(np.zeros((3, 3)))
    with pytest.raises(ValueError, match="p must be non-negative and sum to 1"):
        total_variation([0.5, 0.6], [0.5, 0.5])
    with pytest.raises(ValueError, match="one length"):
        total_variation([1.0], [0.5, 0.5])


def _run_with(folder, seed, moved):
    """A fake finished run whose test images have road (class 0) 100 pixels and every other class
    10, all predicted right except ``moved`` road pixels per image predicted as sky (class 10)."""
    write_run(folder, "adaptsegnet", seed, 0.5)
    cm = np.diag([100] + [10] * (CLASSES - 1)).astype(np.int64)
    cm[0, 0] -= moved
    cm[0, 10] += moved
    PerImageConfusion(last=np.stack([cm, cm]), class_ids=tuple(range(CLASSES)), spec="synth:target:test").write(
        folder / TEST_CONFUSION)
    return folder


def test_rows_put_a_model_that_predicts_the_source_s_sky_near_the_source(tmp_path):
    runs = {"faithful": [_run_with(tmp_path / f"f{s}", s, 0) for s in (0, 1, 2)],
            "aligned": [_run_with(tmp_path / f"a{s}", s, 40 + 5 * s) for s in (0, 1, 2)]}
    total = 100 + 10 * (CLASSES - 1)  # 280 labelled pixels an image
    source = np.full(CLASSES, 10.0)
    source[0], source[10] = 55, 55  # a source with less road and more sky than the target
    source /= source.sum()
    rows = {r.name: r for r in shift_rows(runs, source)}
    assert rows["faithful"].tv_target[0] == 0.0
    # moving 40, 45, 50 road pixels of 280 to sky: TV to the target = 45 / 280 on average
    assert rows["aligned"].tv_target[0] == pytest.approx(45 / total)
    assert rows["aligned"].tv_source[0] < rows["faithful"].tv_source[0]  # toward the source's shares
    assert rows["aligned"].tv_domains == pytest.approx(total_variation(rows["aligned"].target, source))
    assert rows["aligned"].miou[0] < rows["faithful"].miou[0] == pytest.approx(100.0)
    low, high = rows["aligned"].tv_target[1:]
    assert low < 45 / total < high
    table = rows_markdown(list(rows.values()))
    assert table.count("\n") == 4 and "| aligned | 3 |" in table
    shares = shares_markdown(list(rows.values()), source, range(CLASSES))
    assert shares.splitlines()[2].startswith(f"| road | {100 * source[0]:.1f} | {100 * 100 / total:.1f} |")
    with pytest.raises(ValueError, match="group 'x': 19 classes, but source_shares has 3"):
        shift_rows({"x": runs["faithful"]}, [0.2, 0.3, 0.5])
    with pytest.raises(ValueError, match="group 'y': no runs"):
        shift_rows({"y": []}, source)


def test_the_script_collects_groups_whose_seeds_all_finished(tmp_path):
    mod = load_script("benchmarks/label_shift.py")
    for s in (0, 1):
        write_run(tmp_path / "sweep" / f"a_seed={s}", "source_only", s, 0.5)
    write_run(tmp_path / "sweep" / "b_seed=0", "adaptsegnet", 0, 0.5)
    found, pending = mod.collect({"A": "sweep/a_seed={seed}", "B": "sweep/b_seed={seed}"}, tmp_path, seeds=(0, 1))
    assert list(found) == ["A"] and len(found["A"]) == 2 and pending == ["B"]
    sets = mod.group_sets()
    assert set(sets) == {"tuning", "shift"} and all("{seed}" in p for g in sets.values() for p in g.values())
    with pytest.raises(SystemExit):
        mod.main(["--root", str(tmp_path / "missing")])


def test_paired_differences_are_per_seed_and_name_a_missing_group(tmp_path):
    from pfrlib.evaluation.label_shift import ShiftRow, paired_markdown

    def row(name, mious):
        return ShiftRow(name=name, runs=len(mious), miou=(0.0, 0.0, 0.0), tv_target=(0.0, 0.0, 0.0),
                        tv_source=(0.0, 0.0, 0.0), tv_domains=0.0, predicted=np.zeros(3), target=np.zeros(3),
                        per_seed_miou=tuple(mious))

    rows = [row("A", [12.0, 14.0, 13.0]), row("B", [10.0, 11.0, 12.0])]
    # differences 2, 3, 1: mean 2, sd 1, t(0.975, 2) = 4.3027: half-width 4.3027 / sqrt(3) = 2.484
    table = paired_markdown(rows, [("t", "A", "B")])
    assert "| t | +2.0 [-0.5, +4.5] | 3 of 3 |" in table
    with pytest.raises(ValueError, match="no group 'C'"):
        paired_markdown(rows, [("t", "C", "B")])
    with pytest.raises(ValueError, match="'A' has 3 runs, 'B' 2"):
        paired_markdown([rows[0], row("B", [1.0, 2.0])], [("t", "A", "B")])
