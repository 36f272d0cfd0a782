"""pfrlib.launch.slurm without a cluster: Slurm's tools are there but the controller does not answer
(a wrong ``SLURM_CONF``). The sweep stops with one line naming ``--launcher slurm`` and what to
check, before it claims its folder or submits anything. ``squeue`` is faked on ``PATH`` (the real
cluster tests are tests/test_slurm.py)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
import yaml

import pfrlib.launch.slurm as slurm
from pfrlib.sweep import main as sweep_main

TINY = {"preset": "cpu", "iterations": 2, "synth_size": [32, 64], "synth_train_length": 4, "synth_val_length": 2,
        "batch_size": 2}
#: What Slurm's clients print when SLURM_CONF names no file and no controller can be found otherwise.
UNREACHABLE = """#!/bin/sh
echo "$(basename "$0"): error: resolve_ctls_from_dns_srv: res_nsearch error: Unknown host" >&2
echo "$(basename "$0"): error: fetch_config: DNS SRV lookup failed" >&2
echo "$(basename "$0"): fatal: Could not establish a configuration source" >&2
exit 1
"""
SLOW = "#!/bin/sh\nsleep 30\n"


def _fake_slurm(tmp_path: Path, monkeypatch, script: str) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("sbatch", "squeue", "sinfo", "scontrol"):
        (bin_dir / tool).write_text(script)
        (bin_dir / tool).chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    monkeypatch.setenv("SLURM_CONF", str(tmp_path / "no" / "slurm.conf"))


def _spec(tmp_path: Path) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump({"name": "s", "fixed": TINY, "grid": {"seed": [0]}}))
    return path


@pytest.mark.parametrize("script, why", [
    (UNREACHABLE, "(squeue: fatal: Could not establish a configuration source)"),
    (SLOW, "(squeue did not answer within 1 s)"),
])
def test_an_unreachable_cluster_is_one_line_before_anything_is_claimed(tmp_path, capsys, monkeypatch, script, why):
    _fake_slurm(tmp_path, monkeypatch, script)
    monkeypatch.setattr(slurm, "REACH_TIMEOUT_S", 1, raising=False)
    begun = time.monotonic()
    assert sweep_main([str(_spec(tmp_path)), "--root", str(tmp_path / "runs"), "--launcher", "slurm"]) == 2
    assert time.monotonic() - begun < 15
    lines = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert len(lines) == 1, lines
    line = lines[0]
    assert line.startswith("error: --launcher slurm: the Slurm controller does not answer ") and why in line
    assert f"check SLURM_CONF={tmp_path / 'no' / 'slurm.conf'}" in line and "scontrol ping" in line
    assert not (tmp_path / "runs").exists()  # no sweep.json, no run folder
