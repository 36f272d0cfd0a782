"""The methods beyond Table 1 (``minent``, ``advent``, ``fda``; ``self_training``, ``pfr_adv_st``,
``adaptsegnet_st``) with ``--preset paper`` on the GTA5 / Cityscapes trees as they ship
(tests/shipped_datasets.py), as tests/test_paper_dry_run.py runs the ladder and the Table-1
baselines: two iterations of DeepLab-v2 R101 (one block per stage) at 33 x 65 with each method's
own paper recipe (the self-training methods: two of stage 1, two of the round), then the
checkpoint scored on Cityscapes val by ``python -m pfrlib.evaluate``."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from pfrlib import methods
from pfrlib.config.command_line import config_from_argv
from pfrlib.engine.run import train
from pfrlib.engine.two_stage.self_training import stage1_config
from pfrlib.evaluate import main as evaluate_main
from shipped_datasets import make_cityscapes, make_gta5

METHODS = [m.name for m in methods.methods("beyond") if not m.self_training]
ST_METHODS = [m.name for m in methods.methods("beyond") if m.self_training]
SIZE = ["33", "65"]


def paper_argv(method: str, gta: Path, cs: Path, out: Path) -> list[str]:
    return ["--preset", "paper", "--method", method, "--source", f"gta5:{gta}", "--target", f"cityscapes:{cs}",
            "--source-size", *SIZE, "--target-size", *SIZE, "--eval-size", *SIZE, "--iterations", "2",
            "--device", "cpu", "--out", str(out), "--model-kwargs", json.dumps({"layers": [1, 1, 1, 1]}),
            "--num-workers", "0", "--no-progress", "--num-threads", "1"]


def evaluate(checkpoint: Path, cs: Path, out: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).resolve().parents[3]),
                                                        os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, "-m", "pfrlib.evaluate", "--checkpoint", str(checkpoint),
                           "--data", f"cityscapes:{cs}:val", "--out", str(out)],
                          capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads((out / "eval.json").read_text())


@pytest.mark.slow
def test_beyond_methods_run_the_paper_preset_on_shipped_trees_and_evaluate(tmp_path: Path):
    assert METHODS == ["minent", "advent", "fda", "hist_match"]
    gta = make_gta5(tmp_path / "gta5", frames=(1, 2, 3, 4), odd_label=3)
    cs = make_cityscapes(tmp_path / "cityscapes")
    runs = tmp_path / "runs"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the fixture trees' partial-download warnings: tests/test_paper_dry_run.py
        for method in METHODS:
            cfg = config_from_argv(paper_argv(method, gta, cs, runs / method))
            if method == "hist_match":  # no recipe of its own: source only's network and schedule
                plain = config_from_argv(paper_argv("source_only", gta, cs, runs / method))
                assert (cfg.model, cfg.optim) == (plain.model, plain.optim)
            else:
                assert cfg.model.multi_level == (method != "fda") and cfg.model.aspp_branches == 4
            train(cfg)
            final = json.loads((runs / method / "final.json").read_text())
            assert (final["method"], final["preset"], final["arch"], final["iterations"]) == \
                (method, "paper", "deeplabv2_r101", 2), method
            assert math.isfinite(final["target_miou"]) and math.isfinite(final["source_miou"]), method
            weights = final["effective_weights"]
            assert {"minent": "minent_aux", "advent": "advent_adv_aux", "fda": "fda_ent", "hist_match": "seg_aux"}[method] \
                in weights
            rows = [json.loads(line) for line in (runs / method / "metrics.jsonl").read_text().splitlines()]
            logged = {k for r in rows for k in r}
            assert {"minent": {"minent", "minent_aux"}, "advent": {"advent_adv", "advent_adv_aux", "d", "d_aux"},
                    "fda": {"fda_ent"}, "hist_match": {"seg", "seg_aux"}}[method] <= logged, (method, logged)

    for method in METHODS:
        checkpoint, out = runs / method / "checkpoint_last.pt", tmp_path / "eval" / method
        if method == "hist_match":  # in this process (a fresh one costs more than the run): same command
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                assert evaluate_main(["--checkpoint", str(checkpoint), "--data", f"cityscapes:{cs}:val",
                                      "--out", str(out)]) == 0
            report = json.loads((out / "eval.json").read_text())
        else:
            report = evaluate(checkpoint, cs, out)
        final = json.loads((runs / method / "final.json").read_text())
        assert report["num_images"] == 4 and report["per_class_iou"] == final["target_val"]["per_class_iou"]


@pytest.mark.slow
def test_self_training_methods_run_the_paper_preset_on_shipped_trees_and_evaluate(tmp_path: Path, capsys):
    assert ST_METHODS == ["self_training", "pfr_adv_st", "adaptsegnet_st"]
    gta = make_gta5(tmp_path / "gta5", frames=(1, 2, 3, 4), odd_label=3)
    cs = make_cityscapes(tmp_path / "cityscapes")
    runs = tmp_path / "runs"
    adapted = runs / "pfr_adv_st" / "stage1" / "checkpoint_last.pt"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # pfr_adv_st trains its stage 1 and a round; self_training a round from that model (--st-init)
        for method, extra in [("pfr_adv_st", ["--st-stage1-iterations", "2"]),
                              ("self_training", ["--st-init", str(adapted)])]:
            cfg = config_from_argv(paper_argv(method, gta, cs, runs / method) + extra)
            assert (cfg.optim.schedule_iterations, cfg.self_training.st_max_threshold) == (250_000, 0.9)
            train(cfg)
            final = json.loads((runs / method / "final.json").read_text())
            assert (final["method"], final["preset"], final["arch"], final["iterations"]) == \
                (method, "paper", "deeplabv2_r101", 2), method
            assert math.isfinite(final["target_miou"]) and math.isfinite(final["source_miou"]), method
            assert final["effective_weights"]["st"] == 1.0 and len(final["self_training"]["thresholds"][0]) == 19
    stage1 = json.loads((runs / "pfr_adv_st" / "stage1" / "final.json").read_text())
    assert (stage1["method"], stage1["iterations"], stage1["preset"]) == ("pfr_adv", 2, "paper")
    # adaptsegnet_st is pfr_adv_st with another stage 1 (the same code): its configuration, not a third run
    cfg = config_from_argv(paper_argv("adaptsegnet_st", gta, cs, runs / "adaptsegnet_st")).validate()
    assert stage1_config(cfg).validate().loss.method == "adaptsegnet" and stage1_config(cfg).optim.iterations == 150_000
    final = json.loads((runs / "pfr_adv_st" / "final.json").read_text())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert evaluate_main(["--checkpoint", str(runs / "pfr_adv_st" / final["checkpoint"]),
                              "--data", f"cityscapes:{cs}:val", "--out", str(tmp_path / "eval")]) == 0
    capsys.readouterr()
    report = json.loads((tmp_path / "eval" / "eval.json").read_text())
    assert report["num_images"] == 4 and report["per_class_iou"] == final["target_val"]["per_class_iou"]
