"""benchmarks/gpu_check.sh picks the first Python that runs (and imports torch, or can create a
venv), not the first name on PATH: a version manager's shim that cannot run is passed over.

The script runs from a copy of itself in a stand-in checkout whose ``step_time.py`` only writes its
table and whose ``pfrlib`` is empty, so only the choice of Python is exercised (the real benchmark
at tiny size is tests/benchmarks/test_benchmarks.py's)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SHIM = '#!/bin/sh\necho "pyenv: $(basename "$0"): command not found" >&2\nexit 127\n'
STEP_TIME = """import sys
out = sys.argv[sys.argv.index("--markdown") + 1]
open(out, "w").write("| step table |\\n")
"""

pytestmark = pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")


def _checkout(tmp_path: Path) -> Path:
    root = tmp_path / "checkout"
    (root / "benchmarks").mkdir(parents=True)
    (root / "pfrlib").mkdir()
    shutil.copy(REPO / "benchmarks" / "gpu_check.sh", root / "benchmarks" / "gpu_check.sh")
    (root / "benchmarks" / "step_time.py").write_text(STEP_TIME)
    (root / "pfrlib" / "__init__.py").write_text("")
    (root / "requirements.txt").write_text("")
    return root


def _bin(tmp_path: Path, scripts: dict[str, str]) -> Path:
    where = tmp_path / "bin"
    where.mkdir()
    for name, text in scripts.items():
        (where / name).write_text(text)
        (where / name).chmod(0o755)
    return where


def _run(root: Path, path: str, **env: str) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k not in ("PYTHON", "PYTHONPATH")}
    return subprocess.run([shutil.which("bash"), str(root / "benchmarks" / "gpu_check.sh"), str(root / "out.md")],
                          capture_output=True, text=True, timeout=300,
                          env={**base, "PATH": path, "DEVICE": "cpu", "SIZE": "tiny", "DATA_PIPELINE": "0", "MEMORY": "0",
                               **env})


@pytest.mark.slow
def test_a_shim_that_cannot_run_is_passed_over_for_the_next_python(tmp_path):
    root = _checkout(tmp_path)
    working = f'#!/bin/sh\nexec "{sys.executable}" "$@"\n'  # a Python with torch and torchvision
    fake = _bin(tmp_path, {"python3.12": SHIM, "python3.11": working})
    proc = _run(root, f"{fake}{os.pathsep}{os.environ['PATH']}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "using python3.11 (" in proc.stderr and "already installed" in proc.stderr
    assert "| step table |" in (root / "out.md").read_text()


def test_no_python_that_runs_is_one_line_with_each_reason(tmp_path):
    root = _checkout(tmp_path)
    fake = _bin(tmp_path, {"python3.12": SHIM, "python3": SHIM})
    (fake / "dirname").symlink_to(shutil.which("dirname"))
    proc = _run(root, str(fake))  # nothing else on PATH: no other Python to find
    assert proc.returncode == 1
    assert proc.stderr.strip() == (
        "gpu_check: no Python that runs and imports torch or can create a venv (python3.12: does not run; "
        "python3.11: not found; python3: does not run; python: not found); set PYTHON to one")
    assert not (root / ".venv-gpu").exists() and not (root / "out.md").exists()


def test_a_python_named_in_PYTHON_that_cannot_run_is_one_line(tmp_path):
    root = _checkout(tmp_path)
    fake = _bin(tmp_path, {"python3.12": SHIM})
    proc = _run(root, f"{fake}{os.pathsep}{os.environ['PATH']}", PYTHON="python3.12")
    assert proc.returncode == 1
    assert proc.stderr.strip() == ("gpu_check: PYTHON=python3.12 does not run; expected a Python 3 interpreter "
                                   "(or leave PYTHON unset)")
