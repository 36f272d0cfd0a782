"""The per-component grid (pfrlib.evaluation.components): both formulas by hand, the sweep that
trains the grid against the shift class and the committed results, and the grid read from fake
finished runs (values from the runs' confusions, unfinished cells reported with their counts)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from fake_runs import write_run
from pfrlib.data.synthstreets.shift import SynthShift19
from pfrlib.engine.record import read_test_confusion
from pfrlib.evaluation.components import (FULL, FULL_COLUMN, GAP, NONE, alone_shift, component_grid,
                                          deficit_removed, gap_closed, grid_markdown, grid_shifts, minus_shift,
                                          ComponentGrid)
from pfrlib.evaluation.statistics import seed_mious

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "sweeps" / "components.yaml"


def test_gap_closed_by_hand():
    # per seed: method - source only = 10, 5, 12 (sum 27); oracle - source only = 20 each (sum 60)
    assert gap_closed([20, 17, 26], [10, 12, 14], [30, 32, 34]) == pytest.approx(45.0)
    assert gap_closed([10, 12], [10, 12], [30, 40]) == 0.0 and gap_closed([30, 40], [10, 12], [30, 40]) == 100.0
    assert gap_closed([5, 12], [10, 12], [30, 32]) == pytest.approx(-12.5)  # below source only: negative
    # vectorised over resamples: a row each
    so, orc = np.array([[10, 12, 14]] * 2), np.array([[30, 32, 34]] * 2)
    rows = gap_closed(np.array([[20, 17, 26], [10, 12, 14]]), so, orc)
    assert rows.tolist() == pytest.approx([45.0, 0.0])


def test_deficit_removed_by_hand():
    # full shift: oracle - method = 20, 20 (D_full 40); without C: 10, 6 (D_minus 16): 24 of 40 gone
    assert deficit_removed([20, 20], [40, 40], [30, 34], [40, 40]) == pytest.approx(60.0)
    assert deficit_removed([20, 20], [40, 40], [30, 30], [50, 50]) == 0.0  # the same deficit without C
    assert deficit_removed([20, 20], [40, 40], [40, 41], [40, 41]) == 100.0  # C was all of it
    assert deficit_removed([20, 20], [40, 40], [10, 10], [40, 40]) == pytest.approx(-50.0)  # worse without C


def test_the_cells_are_the_shift_class_s_components():
    comps = SynthShift19.components()
    assert alone_shift("camera") == "none,camera=1" and minus_shift("camera") == "full,camera=0"
    assert (FULL, NONE) == ("full", "none")
    shifts = grid_shifts(comps)
    assert len(shifts) == 2 + 2 * len(comps) == len(set(shifts))
    for c in comps:
        assert SynthShift19.parse(alone_shift(c)) == SynthShift19.only(c)
        assert SynthShift19.parse(minus_shift(c)) == SynthShift19.full().replace(**{c: 0})


def test_the_sweep_trains_every_cell_of_every_component():
    import yaml

    from pfrlib.config.train_config import TrainConfig
    from pfrlib.launch.sweep_spec import load_spec

    raw = yaml.safe_load(SPEC.read_text())
    # the components as listed in the sweep file are the class's, in its order
    assert raw["grid"]["synth_shift"] == grid_shifts(SynthShift19.components())
    assert raw["grid"]["method"] == ["source_only", "adaptsegnet", "pfr", "pfr_adv", "dlow", "hist_match", "oracle",
                                     "minent", "fda"]
    assert raw["grid"]["seed"] == [0, 1, 2] and list(raw["grid"])[0] == "seed"  # seed by seed
    assert raw["fixed"] == {"preset": "cpu", "synth_classes": 19} and raw["stage_store"] == "_stages"
    spec = load_spec(SPEC)
    runs = spec.runs("runs")
    assert len(runs) == 3 * 9 * (2 + 2 * len(SynthShift19.components()))
    for run in runs[:: len(runs) // 40]:  # a spread of them: each is the cpu preset with its three keys
        p = run.params
        expected = TrainConfig.preset("cpu", method=p["method"], seed=p["seed"], synth_classes=19,
                                      synth_shift=p["synth_shift"], out=str(run.out),
                                      stage_store=str(Path("runs") / "_stages"))
        assert spec.config(run) == expected, run.name
    spec.checked_jobs("runs", check_paths=False)


def test_dlow_is_the_best_translation_row_of_the_committed_results():
    """The sweep's comment says DLOW is the best translation row so far: the highest mean target mIoU
    of the three translation rows in both committed 9-class files (no SynthStreets-19 row has run)."""
    from pfrlib import methods

    for name in ("table1.json", "table1_heldout.json"):
        data = json.loads((ROOT / "benchmarks" / "results" / name).read_text())
        mean = {m: float(np.mean(data[m]["per_seed_target"])) for m in methods.names("translation")}
        assert max(mean, key=mean.get) == "dlow", (name, mean)


# --------------------------------------------------------------------------- the grid from runs
METHODS = ("source_only", "hist_match", "oracle")
SEEDS = (0, 1, 2)
SKILL = {"source_only": 0.2, "hist_match": 0.5, "oracle": 0.9}


def _write(tmp_path: Path, shifts, methods=METHODS, seeds=SEEDS, skill=SKILL) -> dict:
    runs = {}
    for shift in grid_shifts(("palette", "camera")):
        for m in METHODS:
            for s in SEEDS:
                folder = tmp_path / f"{shift}_{m}_{s}"
                runs[shift, m, s] = folder
                if shift in shifts and m in methods and s in seeds:
                    # the full shift harder than the others: the deficits differ between cells
                    write_run(folder, m, s, skill[m] * (0.6 if shift == FULL else 1.0))
    return runs


def _mious(runs, shift, method):
    return seed_mious(np.stack([read_test_confusion(runs[shift, method, s]).last for s in SEEDS]))


def test_the_grid_reads_its_statistics_from_the_runs(tmp_path):
    runs = _write(tmp_path, {FULL, alone_shift("palette"), minus_shift("palette")})
    grid = component_grid(runs, METHODS, ("palette", "camera"), SEEDS, resamples=200)
    a = alone_shift("palette")
    cell = grid.get("alone", "hist_match", "palette")
    assert cell.done and (cell.finished, cell.expected) == (9, 9)
    assert cell.value == pytest.approx(gap_closed(_mious(runs, a, "hist_match"), _mious(runs, a, "source_only"),
                                                  _mious(runs, a, "oracle")))
    assert cell.low <= cell.value <= cell.high
    gap = grid.get("alone", GAP, "palette")
    assert gap.value == pytest.approx((_mious(runs, a, "oracle") - _mious(runs, a, "source_only")).mean())
    assert not gap.includes_zero  # the fake oracle is far above source only
    full = grid.get("alone", "hist_match", FULL_COLUMN)
    assert full.done and full.value == pytest.approx(gap_closed(
        _mious(runs, FULL, "hist_match"), _mious(runs, FULL, "source_only"), _mious(runs, FULL, "oracle")))
    m = minus_shift("palette")
    minus = grid.get("minus", "source_only", "palette")
    assert minus.done and (minus.finished, minus.expected) == (12, 12)
    assert minus.value == pytest.approx(deficit_removed(_mious(runs, FULL, "source_only"), _mious(runs, FULL, "oracle"),
                                                        _mious(runs, m, "source_only"), _mious(runs, m, "oracle")))
    # the maps' rows: no reference in the alone map (0 and 100 by definition), no oracle in the minus map
    assert grid.rows("alone") == ("hist_match",) and grid.rows("minus") == ("source_only", "hist_match")
    assert grid.columns("alone") == (FULL_COLUMN, "palette", "camera")
    # camera never ran: reported with its counts, not dropped
    camera = grid.get("alone", "hist_match", "camera")
    assert not camera.done and camera.status == "not finished: 0 of 9 runs" and camera.includes_zero
    assert grid.get("minus", "hist_match", "camera").status == "not finished: 6 of 12 runs"  # the full cell ran
    assert (grid.finished_runs, grid.expected_runs) == (27, 54)
    text = grid_markdown(grid)
    assert "27 of 54 runs finished" in text and "not finished: 0 of 9 runs" in text and "| palette |" in text
    assert ComponentGrid.from_json(json.loads(json.dumps(grid.to_json()))) == grid


def test_a_missing_seed_leaves_its_cells_unfinished(tmp_path):
    runs = _write(tmp_path, {FULL, alone_shift("palette")}, seeds=(0, 1))
    grid = component_grid(runs, METHODS, ("palette",), SEEDS, resamples=50)
    assert grid.get("alone", "hist_match", "palette").status == "not finished: 6 of 9 runs"
    assert all(not c.done for c in grid.cells)


def test_bad_grids_get_one_error_naming_the_argument(tmp_path):
    with pytest.raises(ValueError, match=r"^methods: the grid needs 'oracle'"):
        component_grid({}, ("source_only", "pfr"))
    with pytest.raises(ValueError, match=r"^seeds: an interval needs at least 2 seeds"):
        component_grid({}, METHODS, seeds=(0,))
    with pytest.raises(ValueError, match=r"^components: unknown \['hue'\]"):
        component_grid({}, METHODS, ("hue",))
