"""The tuning protocol as code: the adoption rule on hand-computed cases, the tuning sweeps against
docs/protocol.md's table, and benchmarks/tuning.py on fake finished runs."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import pytest
import yaml

from pfrlib import methods
from pfrlib.config.train_config import TrainConfig
from pfrlib.evaluation.tuning import FACTORS, HELD_OUT_SEEDS, TUNING_SEEDS, adopt, tuning_values
from pfrlib.launch.sweep_spec import load_spec
from script_module import load_script

ROOT = Path(__file__).resolve().parents[2]
SPECS = ROOT / "sweeps" / "tuning"


def test_rule_on_hand_computed_differences():
    base = [30.0, 31.0, 32.0, 33.0, 34.0]
    scores = {0.004: dict(enumerate(base)),
              0.002: {s: b + d for s, (b, d) in enumerate(zip(base, [2, 2.5, 1.5, 2, 2]))},
              0.008: {s: b + d for s, (b, d) in enumerate(zip(base, [5, -3, 4, -2, 1]))},
              0.016: {s: b + d for s, (b, d) in enumerate(zip(base, [-1, -1, -1, -1, -1]))}}
    d = adopt("lambda_adv", 0.004, scores)
    rows = {a.value: a for a in d.alternatives}
    # +2 mean, sample sd sqrt(0.125), t(0.975, 4) = 2.7764: half-width 2.7764 * 0.35355 / sqrt(5) = 0.439
    assert rows[0.002].mean == pytest.approx(2.0)
    assert rows[0.002].low == pytest.approx(2.0 - 2.776445 * math.sqrt(0.125) / math.sqrt(5), abs=1e-4)
    assert rows[0.002].adoptable and rows[0.002].wins == 5
    # +1 mean but sd sqrt(12.5): half-width 4.39 > 1, kept out although it won 3 of 5 seeds
    assert rows[0.008].mean == pytest.approx(1.0) and not rows[0.008].adoptable and rows[0.008].wins == 3
    assert not rows[0.016].adoptable and rows[0.016].high == pytest.approx(-1.0)
    assert d.adopted == 0.002 and d.changed and d.incumbent_mean == pytest.approx(32.0)


def test_rule_takes_the_largest_passing_mean_and_keeps_the_incumbent_otherwise():
    base = [40.0, 38.0, 41.0, 39.0, 37.0]
    two = adopt("w", 1.0, {1.0: dict(enumerate(base)),
                           2.0: {s: b + d for s, (b, d) in enumerate(zip(base, [1, 1.2, 0.8, 1, 1]))},
                           4.0: {s: b + 3 for s, b in enumerate(base)}})
    assert two.adopted == 4.0  # both pass; +3 (sd 0) beats +1
    none = adopt("w", 1.0, {1.0: dict(enumerate(base)), 0.5: {s: b + (-1) ** s for s, b in enumerate(base)}})
    assert none.adopted == 1.0 and not none.changed


def test_rule_refuses_missing_seeds_and_a_missing_incumbent():
    with pytest.raises(ValueError, match=r"lambda_adv=0.008: no score for seed\(s\) \[3, 4\]"):
        adopt("lambda_adv", 0.004, {0.004: dict.fromkeys(range(5), 30.0), 0.008: dict.fromkeys(range(3), 31.0)})
    with pytest.raises(ValueError, match="no scores for the incumbent 0.004"):
        adopt("lambda_adv", 0.004, {0.008: dict.fromkeys(range(5), 31.0)})


def test_values_are_the_incumbent_times_the_factors():
    weight, incumbent, values = tuning_values("adaptsegnet")
    assert (weight, incumbent) == ("lambda_adv", TrainConfig.preset("cpu").loss.lambda_adv)
    assert values == [incumbent * f for f in FACTORS] and values[FACTORS.index(1.0)] == incumbent
    assert tuning_values("pfr_adv", lambda_adv=0.002)[1] == TrainConfig.preset("cpu").loss.lambda_pfr
    with pytest.raises(ValueError, match="'oracle' has no tuned weight"):
        tuning_values("oracle")
    assert not set(TUNING_SEEDS) & set(HELD_OUT_SEEDS) and len(TUNING_SEEDS) == len(HELD_OUT_SEEDS) == 5


def test_every_table1_row_but_the_bounds_has_one_tuned_weight_in_its_config():
    flat = TrainConfig.preset("cpu").flat()
    for name in methods.table1_names():
        weight = methods.get(name).tuned_weight
        if name in ("source_only", "oracle"):
            assert weight is None
        else:
            assert weight in flat, f"{name}: tuned_weight {weight!r} is no TrainConfig field"


def _protocol_table() -> dict[str, str]:
    """docs/protocol.md's budget table: ``{method: the weight tuned}``."""
    text = (ROOT / "docs" / "protocol.md").read_text()
    rows = {}
    for line in text.split("## The same tuning budget for every method", 1)[1].split("## ", 1)[0].splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[1].startswith("`"):
            for m in cells[0].replace("`", "").split(","):
                rows[m.strip()] = cells[1].strip("`")
    return rows


def _tuned() -> list[str]:
    return [n for n in methods.names() if methods.get(n).tuned_weight is not None]


def test_the_registry_matches_the_protocol_table():
    table = _protocol_table()
    assert table, "docs/protocol.md's tuning table was not found"
    # every method but the bounds and the zero-parameter sanity row has a tuned weight, Table 1 and beyond it
    assert set(_tuned()) == set(methods.names()) - {"source_only", "oracle", "hist_match"}
    assert set(table) == set(_tuned()) and set(methods.names("beyond")) - {"hist_match"} <= set(table)
    for name, weight in table.items():
        assert methods.get(name).tuned_weight == weight, name


def test_every_method_with_a_tuned_weight_has_its_sweep_and_nothing_else_does():
    sweeps = {p.stem for p in SPECS.glob("*.yaml")} - {"bounds"}
    assert sweeps == set(_tuned())


def test_every_multiple_of_every_tuned_weight_is_a_valid_configuration(monkeypatch):
    for name in _tuned():
        weight, incumbent, values = tuning_values(name)
        for value in values:
            TrainConfig.preset("cpu", method=name, **{weight: value}).validate(check_paths=False)
    # a proportion as the tuned weight: 0.5 x 2 leaves [0, 1], refused before any run
    proportion = dataclasses.replace(methods.get("self_training"), tuned_weight="st_percentile")
    monkeypatch.setitem(methods._REGISTRY, "self_training", proportion)
    with pytest.raises(ValueError, match=r"'self_training': st_percentile=2 .* is no valid configuration"):
        tuning_values("self_training")


def test_the_loss_baselines_do_not_read_adaptsegnet_s_weight():
    """Their sweeps hold nothing of AdaptSegNet's (sweeps/tuning/clan.yaml says why): no Eq. (6) term."""
    for name in methods.names("baseline") + ("minent", "advent", "fda"):
        assert TrainConfig.preset("cpu", method=name).loss.effective_weights()["adv"] == 0.0, name


def test_fda_tunes_its_entropy_weight_because_a_quarter_of_beta_swaps_nothing():
    from pfrlib.methods.beyond.fda import window_size

    cfg = TrainConfig.preset("cpu", method="fda")
    assert methods.get("fda").tuned_weight == "fda_lambda_ent"
    h, w = cfg.data.synth_size
    assert window_size(h, w, cfg.fda.fda_beta * FACTORS[0]) == 0 < window_size(h, w, cfg.fda.fda_beta)


def _runs_by_seed(method: str) -> dict[int, list]:
    spec = load_spec(SPECS / f"{method}.yaml")
    by_seed: dict[int, list] = {}
    for run in spec.runs("runs"):
        by_seed.setdefault(int(run.params["seed"]), []).append(spec.config(run))
    return by_seed


def test_what_the_translation_and_self_training_sweeps_share_is_what_their_headers_say():
    """TGCF-DA's tuned weight is a stage-2 field: one stage-1 key per seed (a translator the 5 values
    share through the stage store); CyCADA's and DLOW's are stage-1 fields: one translator per value.
    The self-training rows' stage 1 is one configuration per seed. Every staged sweep sets the store."""
    from pfrlib.engine.two_stage.self_training import stage1_config
    from pfrlib.engine.two_stage.stage1 import stage1_key

    def keys(cfgs):
        return {json.dumps(stage1_key(c.loss.method, c.translation, c.data, c.run.seed), sort_keys=True) for c in cfgs}

    for seed, cfgs in _runs_by_seed("tgcf_da").items():
        assert len(cfgs) == 5 and len(keys(cfgs)) == 1, seed
    for method in ("cycada", "dlow"):
        assert all(len(keys(cfgs)) == 5 for cfgs in _runs_by_seed(method).values()), method
    for method in ("self_training", "pfr_adv_st", "adaptsegnet_st"):
        for cfgs in _runs_by_seed(method).values():
            stage1 = [stage1_config(c).replace(out="x") for c in cfgs]
            assert len(stage1) == 5 and all(s == stage1[0] for s in stage1), method
    head = (SPECS / "tgcf_da.yaml").read_text()
    assert "share one translator and one source-only reference through the" in head
    for method in ("tgcf_da", "cycada", "dlow", "self_training", "pfr_adv_st", "adaptsegnet_st", "pfr_adv"):
        assert load_spec(SPECS / f"{method}.yaml").stage_store == "_stages", method


def test_self_training_at_the_cpu_preset_trains_what_adaptsegnet_st_trains():
    """docs/protocol.md says the two rows are one configuration under two names: it stays true or
    the sentence goes."""
    from pfrlib.engine.two_stage.self_training import stage1_method

    a, b = TrainConfig.preset("cpu", method="self_training"), TrainConfig.preset("cpu", method="adaptsegnet_st")
    assert stage1_method(a) == stage1_method(b) == "adaptsegnet" and a.self_training == b.self_training
    assert "the two rows are the same configuration" in (ROOT / "docs" / "protocol.md").read_text()


def _saved_decisions() -> dict:
    path = ROOT / "benchmarks" / "results" / "tuning.json"
    if not path.is_file():
        return {}
    return {e["method"]: e["decision"] for e in json.loads(path.read_text())["methods"] if "decision" in e}


@pytest.mark.parametrize("path", sorted(p for p in SPECS.glob("*.yaml") if p.stem != "bounds"), ids=lambda p: p.stem)
def test_each_tuning_sweep_is_the_protocols_budget(path):
    """The sweep tries the incumbent of its time times the factors on the tuning seeds; once the rule
    has decided (benchmarks/results/tuning.json), the cpu preset holds the adopted value, and until
    then the incumbent."""
    spec = yaml.safe_load(path.read_text())
    method = spec["fixed"]["method"]
    assert path.stem == method and spec["name"] == f"tune_{method}"
    assert spec["fixed"].get("preset", "cpu") == "cpu"
    assert spec["fixed"].get("synth_classes", TrainConfig().data.synth_classes) == 19
    weight = methods.get(method).tuned_weight
    held = {k: v for k, v in spec["fixed"].items() if k not in ("preset", "method", "synth_classes")}
    assert set(spec["grid"]) == {weight, "seed"} and spec["grid"]["seed"] == list(TUNING_SEEDS)
    incumbent = spec["grid"][weight][FACTORS.index(1.0)]
    assert spec["grid"][weight] == [float(f"{incumbent * f:.12g}") for f in FACTORS]
    decided = _saved_decisions().get(method)
    now = tuning_values(method, "cpu", **held)[1]
    if decided is None:
        assert now == incumbent, f"{method}: the preset's {weight} moved before its tuning decided"
    else:
        assert decided["incumbent"] == incumbent and now == decided["adopted"], \
            f"{method}: the preset's {weight} is {now}, the tuning adopted {decided['adopted']}"
    for name, value in held.items():  # a held weight is another method's adopted value (pfr_adv: lambda_adv)
        owner = [m for m, d in _saved_decisions().items() if methods.get(m).tuned_weight == name]
        assert owner and value == _saved_decisions()[owner[0]]["adopted"], f"{method}: {name}={value}"


def _bench():
    return load_script("benchmarks/tuning.py")


def test_benchmark_decides_from_finished_runs_and_lists_the_rest_as_pending(tmp_path):
    bench = _bench()
    values = yaml.safe_load((SPECS / "adaptsegnet.yaml").read_text())["grid"]["lambda_adv"]
    incumbent = values[FACTORS.index(1.0)]
    gains = {0.25: -2.0, 0.5: -0.5, 1.0: 0.0, 2.0: 1.5, 4.0: -4.0}
    for f, value in zip(FACTORS, values):
        for seed in TUNING_SEEDS:
            run = tmp_path / "tune_adaptsegnet" / f"lambda_adv={value}_seed={seed}"
            run.mkdir(parents=True)
            miou = 30.0 + seed + gains[f] + (0.2 if seed % 2 and f == 2.0 else 0.0)
            (run / "final.json").write_text(json.dumps({"target_miou": miou / 100, "wall_time_s": 100.0}))
    (tmp_path / "tune_pfr" / "lambda_pfr=0.1_seed=0").mkdir(parents=True)
    (tmp_path / "tune_pfr" / "lambda_pfr=0.1_seed=0" / "final.json").write_text(
        json.dumps({"target_miou": 0.3, "wall_time_s": 90.0}))
    out = bench.main(["--root", str(tmp_path)])
    entries = {e["spec"]: e for e in out["entries"]}
    adapt = entries["sweeps/tuning/adaptsegnet.yaml"]
    assert adapt["finished"] == adapt["expected"] == 25
    assert adapt["decision"]["adopted"] == values[FACTORS.index(2.0)] != incumbent
    assert "decision" not in entries["sweeps/tuning/pfr.yaml"]
    assert "| PFR only (Eq. 4) | `lambda_pfr` | pending: 1 of 25 runs |" in out["table"]
    assert f"**{values[3]:g}** (changed)" in out["table"] and "+1.6 [" in out["table"]
