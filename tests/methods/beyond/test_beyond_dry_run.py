"""The methods beyond Table 1 (``minent``, ``advent``, ``fda``) with ``--preset paper`` on the
GTA5 / Cityscapes trees as they ship (tests/shipped_datasets.py), as tests/test_paper_dry_run.py
runs the ladder and the Table-1 baselines: two iterations of DeepLab-v2 R101 (one block per
stage) at 33 x 65 with each method's own paper recipe, then the checkpoint scored on Cityscapes
val by ``python -m pfrlib.evaluate``."""

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
from shipped_datasets import make_cityscapes, make_gta5

METHODS = list(methods.names("beyond"))
SIZE = ["33", "65"]


@pytest.mark.slow
def test_beyond_methods_run_the_paper_preset_on_shipped_trees_and_evaluate(tmp_path: Path):
    assert METHODS == ["minent", "advent", "fda"]
    gta = make_gta5(tmp_path / "gta5", frames=(1, 2, 3, 4), odd_label=3)
    cs = make_cityscapes(tmp_path / "cityscapes")
    runs = tmp_path / "runs"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the fixture trees' partial-download warnings: tests/test_paper_dry_run.py
        for method in METHODS:
            cfg = config_from_argv([
                "--preset", "paper", "--method", method, "--source", f"gta5:{gta}", "--target", f"cityscapes:{cs}",
                "--source-size", *SIZE, "--target-size", *SIZE, "--eval-size", *SIZE, "--iterations", "2",
                "--device", "cpu", "--out", str(runs / method), "--model-kwargs", json.dumps({"layers": [1, 1, 1, 1]}),
                "--num-workers", "0", "--no-progress", "--num-threads", "1"])
            assert cfg.model.multi_level == (method != "fda") and cfg.model.aspp_branches == 4
            train(cfg)
            final = json.loads((runs / method / "final.json").read_text())
            assert (final["method"], final["preset"], final["arch"], final["iterations"]) == \
                (method, "paper", "deeplabv2_r101", 2), method
            assert math.isfinite(final["target_miou"]) and math.isfinite(final["source_miou"]), method
            weights = final["effective_weights"]
            assert {"minent": "minent_aux", "advent": "advent_adv_aux", "fda": "fda_ent"}[method] in weights
            rows = [json.loads(line) for line in (runs / method / "metrics.jsonl").read_text().splitlines()]
            logged = {k for r in rows for k in r}
            assert {"minent": {"minent", "minent_aux"}, "advent": {"advent_adv", "advent_adv_aux", "d", "d_aux"},
                    "fda": {"fda_ent"}}[method] <= logged, (method, logged)

    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).resolve().parents[3]),
                                                        os.environ.get("PYTHONPATH", "")])}
    for method in METHODS:
        out = tmp_path / "eval" / method
        proc = subprocess.run([sys.executable, "-m", "pfrlib.evaluate", "--checkpoint",
                               str(runs / method / "checkpoint_last.pt"), "--data", f"cityscapes:{cs}:val",
                               "--out", str(out)], capture_output=True, text=True, env=env, timeout=300)
        assert proc.returncode == 0, proc.stderr[-3000:]
        report = json.loads((out / "eval.json").read_text())
        final = json.loads((runs / method / "final.json").read_text())
        assert report["num_images"] == 4 and report["per_class_iou"] == final["target_val"]["per_class_iou"]
