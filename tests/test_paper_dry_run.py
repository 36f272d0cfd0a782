"""A paper-scale dry run on GTA5 / Cityscapes trees as they ship (tests/shipped_datasets.py).

Every method of the loss family trains with ``--preset paper`` (DeepLab-v2 R101 multi-level, SGD
with AdaptSegNet's listing, the paper's loss weights and loaders) for two iterations at a tiny
size (one block per ResNet stage, 33 x 65 inputs, no loader workers), in one process; then
``python -m pfrlib.evaluate`` scores a checkpoint on Cityscapes val, writing the per-class table
and the benchmark-format predictions. What it catches: a label value the paper's data holds that
a check refuses (GTA5's id 34), a file the layout ships that a loader trips on (instance and
colour PNGs beside the label ids), an odd-sized GTA5 label, a method whose paper settings do not
run on real-layout data.
"""

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
from pfrlib.data.releases import PartialDownloadWarning
from pfrlib.engine.run import train
from shipped_datasets import make_cityscapes, make_gta5

# The loss family of issue 21, from the registry: the ladder and the Table-1 baselines (the
# translation methods have their own paper-preset test in test_translation.py).
METHODS = list(methods.names("ladder") + methods.names("baseline"))
assert {"source_only", "adaptsegnet", "pfr", "pfr_adv", "clan", "fcn_wild", "road", "curriculum"} <= set(METHODS)
SIZE = ["33", "65"]


@pytest.mark.slow
def test_every_method_runs_the_paper_preset_on_shipped_trees_and_evaluates(tmp_path: Path):
    gta = make_gta5(tmp_path / "gta5", frames=(1, 2, 3, 4), odd_label=3)
    cs = make_cityscapes(tmp_path / "cityscapes")
    runs = tmp_path / "runs"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for method in METHODS:
            cfg = config_from_argv([
                "--preset", "paper", "--method", method, "--source", f"gta5:{gta}", "--target", f"cityscapes:{cs}",
                "--source-size", *SIZE, "--target-size", *SIZE, "--eval-size", *SIZE, "--iterations", "2",
                "--device", "cpu", "--out", str(runs / method), "--model-kwargs", json.dumps({"layers": [1, 1, 1, 1]}),
                "--num-workers", "0", "--fcn-stat-images", "4", "--curriculum-start", "0", "--no-progress",
                "--num-threads", "1"])
            train(cfg)
            final = json.loads((runs / method / "final.json").read_text())
            assert (final["method"], final["preset"], final["arch"], final["iterations"]) == \
                (method, "paper", "deeplabv2_r101", 2), method
            assert math.isfinite(final["target_miou"]) and math.isfinite(final["source_miou"]), method
            assert (final["source_val"]["spec"], final["target_val"]["spec"]) == (f"gta5:{gta}", f"cityscapes:{cs}")
    texts = [str(w.message) for w in caught]
    # the fixture trees are partial downloads by design: said, not refused
    assert any(w.category is PartialDownloadWarning and "frames 00005..24966 are missing" in str(w.message)
               for w in caught)
    assert any("split 'val': holds 4 of the release's 500 val images" in t for t in texts)
    assert any("labels/00003.png is 66x38 but its image is 66x36; resizing the label" in t for t in texts)

    # the CLI a user runs next: per-class table, eval.json, benchmark-format predictions
    out, results = tmp_path / "eval", tmp_path / "results"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).resolve().parents[1]),
                                                        os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.run([sys.executable, "-m", "pfrlib.evaluate", "--checkpoint",
                           str(runs / "pfr_adv" / "checkpoint_last.pt"), "--data", f"cityscapes:{cs}:val",
                           "--out", str(out), "--save-results", str(results)],
                          capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads((out / "eval.json").read_text())
    final = json.loads((runs / "pfr_adv" / "final.json").read_text())
    assert report["num_images"] == 4 and report["eval_size"] == [33, 65]
    assert report["per_class_iou"] == final["target_val"]["per_class_iou"]  # the run's own final number
    table = (out / "table.md").read_text()
    assert "| ours: pfr_adv" in table and "PFR (paper)" in table and "road" in table and "bicycle" in table
    assert table.strip() in proc.stdout and "PartialDownloadWarning" in proc.stderr
    assert sorted(p.parent.name for p in results.rglob("*.png")) == ["frankfurt", "frankfurt", "lindau", "lindau"]
