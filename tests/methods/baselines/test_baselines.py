"""pfrlib.methods.baselines: the four Table-1 baselines (CLAN, FCNs in the Wild, ROAD, Curriculum DA).

Each method as a configuration and as a run (each baseline's loss terms on hand-made tensors are in
its own file: test_clan.py, test_fcn_wild.py, test_road.py, test_curriculum.py, test_common.py): a few iterations, bit-exact resume,
its checkpoint, the bad-input errors. (Label blindness and the 2-process torchrun runs of every
baseline are in tests/engine/test_trainer.py, next to the ladder's.)
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from pfrlib import methods
from pfrlib.methods.baselines.clan import CLAN
from pfrlib.methods.baselines.road import ROAD
from pfrlib.paper.step import Baseline
from pfrlib.methods.baselines.curriculum import Curriculum
from pfrlib.methods.baselines.fcn_wild import FCNWild
from pfrlib.config import ALL_METHODS, BASELINE_METHODS, METHODS
from pfrlib.config.train_config import TrainConfig
from pfrlib.engine.trainer import Trainer
from pfrlib.engine.run import train
from pfrlib.train import main
from interrupt import stop_at

TINY = dict(
    synth_size=(32, 64), synth_train_length=8, synth_val_length=4, batch_size=2,
    iterations=6, log_every=2, checkpoint_every=3, val_every=0, progress=False,
    model_kwargs={"widths": [8, 8, 16, 16]}, num_threads=1,
)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def tiny(tmp_path: Path, name: str, **overrides) -> TrainConfig:
    return TrainConfig.preset("cpu", **{**TINY, "out": str(tmp_path / name), **overrides})


# --------------------------------------------------------------------------- configuration
def test_every_baseline_is_a_method_with_its_terms():
    classes = {m: methods.get(m).baseline for m in BASELINE_METHODS}
    assert classes == {"clan": CLAN, "fcn_wild": FCNWild, "road": ROAD, "curriculum": Curriculum}
    assert all(issubclass(c, Baseline) for c in classes.values())
    assert all(methods.get(m).baseline is None for m in METHODS)
    assert set(ALL_METHODS) == set(METHODS) | set(BASELINE_METHODS)
    assert not set(BASELINE_METHODS) & set(METHODS)  # METHODS stays the ladder of Eq. (6)
    expected = {"clan": {"clan_adv", "clan_discrepancy"}, "fcn_wild": {"fcn_adv", "fcn_constraint"},
                "road": {"road_adv", "road_distill"}, "curriculum": {"curriculum_kl", "curriculum_estimator"}}
    for preset in ("cpu", "paper"):
        for m in BASELINE_METHODS:
            cfg = TrainConfig.preset(preset, method=m)
            w = cfg.effective_weights()
            assert expected[m] <= set(w) and w["adv"] == 0 and w["pfr"] == 0
            assert cfg.model.classifiers == (2 if m == "clan" else 1)
    paper = TrainConfig.preset("paper", method="clan").clan
    assert (paper.clan_lambda_adv, paper.clan_lambda_local, paper.clan_epsilon) == (0.001, 40.0, 0.4)
    # a config file (explicit classifiers) keeps its value; the method decides otherwise
    cfg = TrainConfig.preset("cpu", method="clan")
    assert TrainConfig.from_dict(cfg.to_dict()).model.classifiers == 2
    assert cfg.replace(method="pfr").model.classifiers == 1


@pytest.mark.parametrize("preset", ["cpu", "paper"])
def test_a_config_saved_before_the_baselines_still_equals_its_preset(preset):
    """A config.json without the baseline sections (written before they existed) reads back as
    the same configuration: missing fields take its preset's values, so finished runs are reused."""
    cfg = TrainConfig.preset(preset, method="pfr_adv", seed=3)
    old = cfg.to_dict()
    for section in ("clan", "fcn_wild", "road", "curriculum"):
        del old[section]
    del old["model"]["classifiers"]
    assert TrainConfig.from_dict(old) == cfg


@pytest.mark.parametrize("args,field", [
    (["--method", "clan", "--clan-lambda-local", "-1"], "clan_lambda_local"),
    (["--method", "clan", "--clan-preheat", "2"], "clan_preheat"),
    (["--method", "clan", "--clan-d-source-size", "middle"], "clan_d_source_size"),
    (["--method", "clan", "--clan-focal-gamma", "-1"], "clan_focal_gamma"),
    (["--method", "clan", "--warmup-fraction", "1.5"], "warmup_fraction"),
    (["--method", "curriculum", "--curriculum-prediction", "hard"], "curriculum_prediction"),
    (["--method", "clan", "--aspp-branches", "4"], "aspp_branches"),
    (["--method", "clan", "--classifiers", "1"], "classifiers"),
    (["--method", "pfr", "--classifiers", "2"], "classifiers"),
    (["--method", "fcn_wild", "--fcn-lower-quantile", "0.9", "--fcn-upper-quantile", "0.1"], "fcn_lower_quantile"),
    (["--method", "fcn_wild", "--fcn-stat-images", "0"], "fcn_stat_images"),
    (["--method", "fcn_wild", "--fcn-lambda-constraint", "nan"], "fcn_lambda_constraint"),
    (["--method", "road", "--road-grid", "0"], "road_grid"),
    (["--method", "road", "--road-reference", "/nonexistent/ref.pt"], "road_reference"),
    (["--method", "road", "--road-lambda-distill", "-0.1"], "road_lambda_distill"),
    (["--method", "curriculum", "--curriculum-start", "-1"], "curriculum_start"),
    (["--method", "curriculum", "--curriculum-lambda", "inf"], "curriculum_lambda"),
])


def test_bad_baseline_hyperparameters_are_rejected_naming_the_field(tmp_path, capsys, args, field):
    out = tmp_path / "bad"
    assert main(["--preset", "cpu", "--out", str(out), "--no-progress", *args]) == 2
    assert field in capsys.readouterr().err
    assert not (out / "metrics.jsonl").exists()


# --------------------------------------------------------------------------- runs
@pytest.mark.parametrize("method", BASELINE_METHODS)
def test_each_baseline_trains_and_its_checkpoint_evaluates(tmp_path, method):
    from pfrlib.engine.checkpoint import load_model

    result = train(tiny(tmp_path, method, method=method, multi_level=True))
    final = result.final
    assert final["method"] == method and final["iterations"] == 6
    assert 0.0 <= final["target_miou"] <= 1.0
    recs = [json.loads(line) for line in (result.out / "metrics.jsonl").read_text().splitlines()]
    terms = {k for k, v in result.config.effective_weights().items() if v > 0} - {"seg_aux"}
    assert all(math.isfinite(recs[-1][t]) for t in terms | {"seg", "seg_aux", "total"})
    ckpt = torch.load(result.out / "checkpoint_last.pt", map_location="cpu", weights_only=True)
    trainer_keys = {"clan": {"main"}, "fcn_wild": {"feature"}, "road": {"regions"}, "curriculum": set()}[method]
    assert set(ckpt["discriminators"]) == trainer_keys
    if method in ("road", "curriculum", "fcn_wild"):
        assert ckpt["baseline"]  # reference network / estimator / class-size bounds
    # the checkpoint loads as an ordinary segmentation network (CLAN: the two heads' sum)
    model, _ = load_model(result.out / "checkpoint_last.pt")
    x = torch.randn(1, 3, 32, 64)
    with torch.no_grad():
        out = model(x)
    assert out.logits.shape[1] == 19
    if method == "clan":
        assert torch.allclose(out.logits, out.head_logits[0] + out.head_logits[1])
        # the discrepancy map's statistics: in each logged record, summarised in final.json
        from pfrlib.methods.baselines.clan import MAP_STATS
        steps = [r for r in recs if "time" in r]
        assert all(0.0 <= r[k] <= 1.0 for r in steps for k in MAP_STATS)
        assert set(final["method_stats"]) == set(MAP_STATS)
        for k in MAP_STATS:
            assert final["method_stats"][k]["last"] == pytest.approx(steps[-1][k])
            assert final["method_stats"][k]["mean"] == pytest.approx(sum(r[k] for r in steps) / len(steps))
    else:
        assert final["method_stats"] is None


@pytest.mark.parametrize("method", BASELINE_METHODS)
def test_each_baseline_resumes_bit_exactly(tmp_path, method, monkeypatch):
    """Stop a run after its iteration-3 checkpoint, resume it, compare with an uninterrupted run
    (every weight, discriminator, the baseline's own state, and the logged losses)."""
    cfg = dict(method=method, hflip=True, iterations=6, checkpoint_every=3, log_every=1,
               curriculum_start=2, clan_preheat=0.3)
    whole = train(tiny(tmp_path, "whole", **cfg))

    stop_at(monkeypatch, Trainer, 4, lambda: train(tiny(tmp_path, "cut", **cfg)))
    cut = tmp_path / "cut"
    assert torch.load(cut / "checkpoint_last.pt", map_location="cpu", weights_only=True)["iteration"] == 3
    train(tiny(tmp_path, "cut", resume=True, **cfg))
    a = torch.load(whole.out / "checkpoint_last.pt", map_location="cpu", weights_only=True)
    b = torch.load(cut / "checkpoint_last.pt", map_location="cpu", weights_only=True)
    for part in ("model", "baseline"):
        assert a[part].keys() == b[part].keys()
        assert all(torch.equal(a[part][k], b[part][k]) for k in a[part]), part
    for k in a["discriminators"]:
        assert all(torch.equal(v, b["discriminators"][k][n]) for n, v in a["discriminators"][k].items())
    strip = lambda p: [{k: v for k, v in json.loads(l).items() if k != "time"} for l in p.read_text().splitlines()]  # noqa: E731
    assert strip(whole.out / "metrics.jsonl") == strip(cut / "metrics.jsonl")


def test_curriculum_estimator_is_trained_with_the_network(tmp_path):
    tr = Trainer(tiny(tmp_path, "c", method="curriculum"), prepare_output=False)
    before = tr.baseline.estimator.linear.weight.detach().clone()
    assert len(tr.opt.param_groups) == 3  # backbone, heads, the estimator
    tr.step()
    assert not torch.equal(before, tr.baseline.estimator.linear.weight)


def test_road_reference_stays_fixed_while_the_network_trains(tmp_path):
    tr = Trainer(tiny(tmp_path, "r", method="road"), prepare_output=False)
    ref0 = {k: v.clone() for k, v in tr.baseline.reference.state_dict().items()}
    assert all(torch.equal(ref0[k], v) for k, v in tr.model.state_dict().items())  # the initial weights
    for _ in range(2):
        tr.step()
    assert all(torch.equal(ref0[k], v) for k, v in tr.baseline.reference.state_dict().items())
    assert not all(torch.equal(ref0[k], v) for k, v in tr.model.state_dict().items())
