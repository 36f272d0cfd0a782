"""pfrlib.evaluation.evaluate: where the results go is checked before the checkpoint is evaluated.

A results folder (``--save-results``) or ``--out`` that cannot be written is one line naming the
option and what was expected, before the model is loaded. The read-only cases use a read-only
tmpfs (mounting one needs root, as in CI); the probe's own failure is also simulated, so the check
is tested everywhere.
"""

from __future__ import annotations

import errno
import subprocess
import tempfile
from pathlib import Path

import pytest

import pfrlib.evaluation.evaluate as evaluation
from pfrlib.evaluate import main as evaluate_main


def one_line(text: str) -> str:
    lines = [ln for ln in text.splitlines() if ln.strip()]
    assert len(lines) == 1, f"expected one line, got {len(lines)}:\n{text}"
    return lines[0]


@pytest.fixture
def no_evaluation(monkeypatch):
    """Loading the model fails the test: a refusal must come before any evaluation."""
    def load_model(*_a, **_k):
        raise AssertionError("the checkpoint was loaded: the output folders were not checked first")

    monkeypatch.setattr(evaluation, "load_model", load_model)


@pytest.fixture
def read_only(tmp_path):
    """A read-only file system (a tmpfs mounted ``ro``), with an empty folder on it."""
    where = tmp_path / "ro"
    where.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(where)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a read-only tmpfs here ({(proc.stderr or proc.stdout).strip()[:120]}); needs root")
    yield where
    subprocess.run(["umount", "-l", str(where)], capture_output=True)


def _args(tmp_path: Path, *extra: str) -> list[str]:
    return ["--checkpoint", str(tmp_path / "run" / "checkpoint_last.pt"), "--data", "cityscapes:/cs:val", *extra]


@pytest.mark.parametrize("inside", ["", "results", "new/results"])
def test_save_results_on_a_read_only_file_system_is_one_line_before_evaluating(tmp_path, capsys, read_only,
                                                                              no_evaluation, inside):
    target = read_only / inside if inside else read_only  # the empty folder itself, or one to create on it
    assert evaluate_main(_args(tmp_path, "--save-results", str(target))) == 2
    line = one_line(capsys.readouterr().err)
    assert line.startswith("error: save_results: cannot write in ") and str(read_only) in line, line
    assert "(Read-only file system)" in line and "expected a new or empty folder that can be written" in line
    assert "--save-results" in line and "Errno" not in line


def test_out_on_a_read_only_file_system_is_one_line_before_evaluating(tmp_path, capsys, read_only, no_evaluation):
    assert evaluate_main(_args(tmp_path, "--out", str(read_only / "eval"))) == 2
    line = one_line(capsys.readouterr().err)
    assert line.startswith("error: out: cannot write in ") and "(Read-only file system)" in line and "--out" in line


def test_the_check_is_a_probe_file_and_its_failure_names_the_option(tmp_path, capsys, monkeypatch, no_evaluation):
    results = tmp_path / "results"
    results.mkdir()
    real = tempfile.mkstemp

    def mkstemp(*a, dir=None, **k):
        if Path(dir) == results:  # the probe, on a file system that refuses it
            raise OSError(errno.EROFS, "Read-only file system")
        return real(*a, dir=dir, **k)

    monkeypatch.setattr(tempfile, "mkstemp", mkstemp)
    assert evaluate_main(_args(tmp_path, "--save-results", str(results))) == 2
    line = one_line(capsys.readouterr().err)
    assert f"save_results: cannot write in {results} (Read-only file system)" in line
    assert list(results.iterdir()) == []  # the probe left nothing behind


def test_a_writable_folder_passes_and_keeps_nothing_of_the_probe(tmp_path):
    from pfrlib.io import check_writable_folder

    assert check_writable_folder(tmp_path / "a" / "b", "out", "x") == tmp_path / "a" / "b"
    assert list(tmp_path.iterdir()) == []  # neither the probe nor the folder to create
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(NotADirectoryError, match=r"^out: .*file is a file, not a folder; expected x$"):
        check_writable_folder(blocker / "run", "out", "x")
