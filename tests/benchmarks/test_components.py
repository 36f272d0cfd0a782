"""benchmarks/components.py end to end on fake finished runs in the sweep's layout (the files a run
writes: final.json, config.json, per-image test confusions): the results, the map and the docs
block come only from finished runs, the others are counted, and the committed block is what
``--docs`` writes from the committed state."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from fake_runs import write_run
from pfrlib.evaluation.components import FULL, FULL_COLUMN, alone_shift, minus_shift
from pfrlib.launch.sweep_spec import load_spec
from script_module import load_script

ROOT = Path(__file__).resolve().parents[2]
SKILL = {"source_only": 0.2, "oracle": 0.9}


def _bench(tmp_path: Path, monkeypatch):
    bench = load_script("benchmarks/components.py")
    docs = tmp_path / "results.md"
    shutil.copy(ROOT / "docs" / "results.md", docs)
    monkeypatch.setattr(bench, "SAVED", tmp_path / "out" / "components.json")
    monkeypatch.setattr(bench, "FIGURE", ROOT / "figures" / "components_heatmap.png")  # relative path in the block
    monkeypatch.setattr(bench, "DOCS", docs)
    return bench, docs


def _block(docs: Path) -> str:
    return docs.read_text().split("<!-- components:start -->\n", 1)[1].split("<!-- components:end -->", 1)[0]


def test_the_benchmark_writes_results_map_and_block_from_the_finished_runs(tmp_path, monkeypatch):
    bench, docs = _bench(tmp_path, monkeypatch)
    saved_figures = []
    root = tmp_path / "runs"
    spec = load_spec(bench.SPEC)
    cells = {FULL, alone_shift("palette"), minus_shift("palette")}
    written = 0
    for run in spec.runs(root):
        p = run.params
        if p["synth_shift"] in cells:
            skill = SKILL.get(p["method"], 0.5) * (0.6 if p["synth_shift"] == FULL else 1.0)
            write_run(run.out, p["method"], p["seed"], skill)
            written += 1
    assert written == 3 * 9 * 3

    import pfrlib.viz.figure as figure

    real_save = figure.save_figure

    def save_to_tmp(fig, path, dpi=150):  # the map goes to tmp, the block still names figures/...
        saved_figures.append(Path(path))
        return real_save(fig, tmp_path / "out" / Path(path).name, dpi)

    monkeypatch.setattr(figure, "save_figure", save_to_tmp)
    text = bench.main(["--root", str(root), "--save", "--docs", "--resamples", "100"])
    data = json.loads((tmp_path / "out" / "components.json").read_text())
    assert (data["finished_runs"], data["expected_runs"]) == (81, 702)
    assert (tmp_path / "out" / "components.md").read_text() == text
    assert saved_figures == [ROOT / "figures" / "components_heatmap.png"]
    assert (tmp_path / "out" / "components_heatmap.png").stat().st_size > 10_000
    by_key = {(c["kind"], c["method"], c["component"]): c for c in data["cells"]}
    done = [k for k, c in by_key.items() if c["value"] is not None]
    # exactly the cells whose runs all finished: palette alone and minus, and the full shift's column
    assert {k[2] for k in done} == {"palette", FULL_COLUMN}
    assert by_key["alone", "hist_match", "palette"]["value"] is not None
    assert by_key["alone", "hist_match", "camera"]["value"] is None and \
        by_key["alone", "hist_match", "camera"]["finished"] == 0
    assert "not finished: 0 of 9 runs" in text and "81 of 702 runs finished" in text
    block = _block(docs)
    assert block.startswith(text) and "../figures/components_heatmap.png" in block
    # --docs alone renders the saved json: the same block, no runs read
    (tmp_path / "runs").rename(tmp_path / "gone")
    assert bench.main(["--docs"]) == block and _block(docs) == block


def test_no_finished_run_writes_nothing_and_the_docs_say_the_grid_has_not_run(tmp_path, monkeypatch):
    bench, docs = _bench(tmp_path, monkeypatch)
    (tmp_path / "runs").mkdir()
    with pytest.raises(SystemExit):
        bench.main(["--root", str(tmp_path / "runs"), "--save"])
    assert not (tmp_path / "out").exists()
    bench.main(["--docs"])
    block = _block(docs)
    assert block == bench.not_run_text(702) and "python -m pfrlib.sweep sweeps/components.yaml" in block


def test_the_committed_block_is_what_docs_writes_from_the_committed_state():
    bench = load_script("benchmarks/components.py")
    text = (ROOT / "docs" / "results.md").read_text()
    m = re.search(r"<!-- components:start -->\n(.*?)<!-- components:end -->", text, re.S)
    assert m, "docs/results.md has no components block"
    if bench.SAVED.is_file():
        from pfrlib.evaluation.components import ComponentGrid
        from pfrlib.io import read_json

        expected = bench.docs_text(ComponentGrid.from_json(read_json(bench.SAVED)))
    else:
        expected = bench.not_run_text(len(load_spec(bench.SPEC).runs()))
    assert m.group(1) == expected, "run python benchmarks/components.py --docs"
