"""pfrlib.engine.checkpoint: a file that is not a pfrlib checkpoint is one line naming it and what it is.

Missing, empty, truncated, random bytes, text, pickled objects, a bare state_dict, another tool's
checkpoint: ``load_checkpoint`` and ``python -m pfrlib.evaluate`` name the file and what was found
(the ``reliability`` theme). The tiny run is ``tiny_checkpoint`` (tests/conftest.py).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from one_line import one_line
from pfrlib.engine.checkpoint import load_checkpoint
from pfrlib.evaluate import main as evaluate_main

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _bad_files(tmp_path: Path, good: Path) -> dict[str, tuple[Path, str]]:
    """name -> (file, a phrase its error must contain)."""
    data = good.read_bytes()
    files = {
        "missing": (tmp_path / "nope.pt", "does not exist"),
        "directory": (tmp_path, "is a directory"),
        "empty": (tmp_path / "empty.pt", "is empty"),
        "truncated": (tmp_path / "truncated.pt", "truncated or corrupt"),
        "random bytes": (tmp_path / "random.pt", "not a torch.save archive"),
        "text": (tmp_path / "notes.txt", "it is a text file, not a torch.save archive"),
        "pickled objects": (tmp_path / "other.pt", "pickled Python objects"),
        "bare state_dict": (tmp_path / "bare.pt", "bare state_dict of 2 tensors"),
        "other dict": (tmp_path / "other_dict.pt", "'epoch', 'state_dict'"),
        "other format": (tmp_path / "other_format.pt", "format 'othertool-2', not a pfrlib checkpoint format"),
    }
    files["empty"][0].write_bytes(b"")
    files["truncated"][0].write_bytes(data[: len(data) // 2])
    files["random bytes"][0].write_bytes(np.random.default_rng(0).bytes(4096))
    files["text"][0].write_text("hello, this is a text file\n")
    torch.save({"model": np.zeros(3)}, files["pickled objects"][0])
    torch.save({"w": torch.zeros(2), "b": torch.zeros(2)}, files["bare state_dict"][0])
    torch.save({"state_dict": {"w": torch.zeros(2)}, "epoch": 3}, files["other dict"][0])
    torch.save({"format": "othertool-2", "model": {}, "config": {}}, files["other format"][0])
    return files


@pytest.mark.reliability
def test_checkpoint_problems_are_one_line_naming_the_file(tmp_path, tiny_checkpoint):
    for name, (path, phrase) in _bad_files(tmp_path, tiny_checkpoint).items():
        with pytest.raises((ValueError, OSError)) as err:
            load_checkpoint(path)
        msg = one_line(err.value)
        assert str(path) in msg and phrase in msg, (name, msg)
        assert "weights_only=False" not in msg and "weights_only` set to `False" not in msg, name
    assert load_checkpoint(tiny_checkpoint)["format"].startswith("pfrlib-checkpoint-")


@pytest.mark.reliability
def test_evaluate_cli_on_bad_checkpoints_prints_one_line_and_exits_2(tmp_path, tiny_checkpoint, capsys):
    files = _bad_files(tmp_path, tiny_checkpoint)
    for name in ("truncated", "text", "pickled objects"):
        path = files[name][0]
        assert evaluate_main(["--checkpoint", str(path), "--data", "synth:target", "--no-reference"]) == 2
        line = one_line(capsys.readouterr().err)
        assert line.startswith("error: checkpoint ") and str(path) in line, (name, line)
