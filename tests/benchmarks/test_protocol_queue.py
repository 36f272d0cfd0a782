"""benchmarks/protocol_queue.py: the protocol's queue in its order, and its cost from measured times."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pfrlib import methods
from script_module import load_script

ROOT = Path(__file__).resolve().parents[2]


def _queue():
    return load_script("benchmarks/protocol_queue.py")


def test_the_queue_runs_every_sweep_once_in_the_protocol_s_order():
    q = _queue()
    steps = q.queue()
    specs = [p for s in steps for p in s.specs]
    assert len(specs) == len(set(specs))
    assert set(specs) >= set((ROOT / "sweeps" / "tuning").glob("*.yaml"))  # a new tuning sweep is not forgotten
    names = [p.stem for p in specs]
    assert names[:4] == ["bounds", "adaptsegnet", "pfr", "pfr_adv"]  # the ladder first, pfr_adv after adaptsegnet
    for m in methods.names():  # a self-training row after the method its stage 1 trains
        stage1 = methods.get(m).stage1
        if stage1:
            assert names.index(stage1) < names.index(m)
    # the held-out seeds after every run that chooses a value; then the grid, which chooses nothing
    assert names[-3:] == ["claims", "claims_heldout", "components"]


def test_the_cost_is_the_runs_not_done_times_their_seconds_over_two_slots():
    q = _queue()
    steps = q.queue()
    seconds = {m: (100.0 + i, "x") for i, m in enumerate(methods.names())}
    done = {"sweeps/tuning/bounds.yaml"}
    rows = q.estimate(steps, seconds, done)
    ladder = rows[0]
    assert ladder["runs"] == 10 + 3 * 25 and ladder["done_runs"] == 10
    by_method = {"adaptsegnet": 25, "pfr": 25, "pfr_adv": 25}
    assert ladder["hours"] == pytest.approx(sum(n * seconds[m][0] for m, n in by_method.items()) / 2 / 3600)
    claims = rows[2]
    assert claims["runs"] == 5 * len(methods.names())
    # each stage an earlier run of the queue made is linked, not trained: its seconds come off
    assert claims["linked"] > 0 and claims["hours"] < 5 * sum(s for s, _ in seconds.values()) / 2 / 3600
    tgcf = q.Step("tgcf_da", (ROOT / "sweeps" / "tuning" / "tgcf_da.yaml",))
    (row,) = q.estimate([tgcf], seconds)
    cfg = q.load_spec(tgcf.specs[0]).config(q.load_spec(tgcf.specs[0]).runs()[0])
    stage = q.stage_seconds("translator", cfg, seconds) + q.stage_seconds("reference", cfg, seconds)
    assert stage > 0 and row["linked"] == 2 * 20  # 25 runs, 5 seeds: 20 runs link both stages
    assert row["hours"] == pytest.approx((25 * seconds["tgcf_da"][0] - 20 * stage) / 2 / 3600)
    with pytest.raises(ValueError, match="no measured or proxy time for method 'fda'"):
        q.estimate(steps, {m: v for m, v in seconds.items() if m != "fda"})


def test_seconds_per_run_prefer_the_protocol_s_own_runs_then_the_files_then_proxies(tmp_path):
    q = _queue()
    results = tmp_path / "benchmarks" / "results"
    results.mkdir(parents=True)
    (results / "tuning.json").write_text(json.dumps({"methods": [
        {"method": "adaptsegnet", "spec": "sweeps/tuning/adaptsegnet.yaml", "wall_s": [300.0, 200.0, 250.0],
         "finished": 3, "expected": 3}]}))
    (results / "table1_heldout.json").write_text(json.dumps({
        "adaptsegnet": {"wall_s": [10.0], "iterations": [100]},
        "pfr": {"wall_s": [30.0, 50.0, 40.0], "iterations": [100, 100, 100]},
        "pfr_adv": {"wall_s": [60.0], "iterations": [100]}}))
    s = q.seconds_per_run(tmp_path, iterations=1000)
    assert s["adaptsegnet"][0] == 250.0 and "tuning.json" in s["adaptsegnet"][1]  # the median of its runs
    assert s["pfr"][0] == pytest.approx(400.0)  # median 0.4 s per iteration x 1000
    assert s["minent"] == (s["pfr"][0], "as pfr (no measurement)") and s["advent"][0] == 250.0
    assert s["pfr_adv_st"][0] == pytest.approx(2 * 600.0) and s["adaptsegnet_st"][0] == 500.0
    assert "clan" not in s  # no file times it: the estimate refuses it rather than guess
    assert q.finished_specs(tmp_path) == {"sweeps/tuning/adaptsegnet.yaml"}


def test_docs_hold_the_generated_cost():
    q = _queue()
    seconds = q.seconds_per_run()
    text = q.markdown(q.estimate(q.queue(), seconds, q.finished_specs()), seconds)
    doc = (ROOT / "docs" / "protocol.md").read_text()
    block = doc.split(f"<!-- {q.DOCS_BLOCK}:start -->\n", 1)[1].split(f"<!-- {q.DOCS_BLOCK}:end -->", 1)[0]
    assert block == text, "run python benchmarks/protocol_queue.py --docs"
