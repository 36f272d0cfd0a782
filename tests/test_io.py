"""pfrlib.io: JSON written atomically (the old file kept on failure, normal permissions), errors naming the file."""

from __future__ import annotations

import json

import pytest
import torch

from pfrlib import io


def test_write_json_roundtrip_and_nan(tmp_path):
    path = io.write_json(tmp_path / "a" / "m.json", {"x": torch.tensor([1.0, float("nan")]), "p": tmp_path, "t": (1, 2)})
    data = json.loads(path.read_text())
    assert data == {"x": [1.0, None], "p": str(tmp_path), "t": [1, 2]}
    assert io.read_json(path) == data


def test_atomic_write_keeps_old_file_on_failure(tmp_path):
    path = tmp_path / "result.json"
    io.write_json(path, {"ok": 1})

    def boom(f):
        f.write("partial")
        raise RuntimeError("crash mid-write")

    with pytest.raises(RuntimeError):
        io.atomic_write(path, boom, mode="w")
    assert io.read_json(path) == {"ok": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["result.json"]  # no temp file left behind


def test_read_json_errors_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.json"):
        io.read_json(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ValueError, match="bad.json"):
        io.read_json(bad)


def test_unwritable_directory_is_a_clear_error(tmp_path):
    # a parent that is a regular file cannot hold a directory, even for root (CI runs as root)
    blocker = tmp_path / "not_a_dir"
    blocker.write_text("")
    with pytest.raises(OSError, match="not_a_dir"):
        io.write_json(blocker / "run" / "x.json", {})


def test_atomic_write_gives_normal_permissions(tmp_path):
    path = io.write_json(tmp_path / "m.json", {})
    assert path.stat().st_mode & 0o044, "written files must be readable by others (umask permitting), not 0600"


def test_wrap_breaks_long_lines_at_word_boundaries_only():
    from pfrlib.io import PRINT_WIDTH, wrap

    text = "short line\n  " + " ".join(f"word{i}" for i in range(40)) + " " + "x" * 130
    lines = wrap(text).splitlines()
    assert lines[0] == "short line" and lines[1].startswith("  word0") and lines[2].startswith("      word")
    assert all(len(l) <= PRINT_WIDTH for l in lines[:-1]) and lines[-1].strip() == "x" * 130  # a word is never cut
    assert " ".join(l.strip() for l in lines[1:]) == text.splitlines()[1].strip()


def test_wrap_command_continues_lines_so_a_shell_reads_one_command():
    from pfrlib.io import wrap_command

    command = "make sweep SPEC=sweeps/table1_heldout.yaml && python benchmarks/ablation.py --table1 " \
              "--seeds 5 6 7 --collect runs/table1_heldout --save benchmarks/results/table1_heldout.json"
    lines = wrap_command(command, width=80).splitlines()
    assert len(lines) > 1 and all(len(l) <= 80 for l in lines)
    assert all(l.endswith(" \\") for l in lines[:-1]) and lines[0].startswith("    make")
    assert " ".join(l.rstrip("\\").strip() for l in lines) == command


def test_format_bytes_names_the_unit():
    assert [io.format_bytes(n) for n in (812, 62771, 1.5 * 2**20, 3 * 2**30, 5 * 2**40)] == [
        "812 bytes", "61.3 KiB", "1.5 MiB", "3.0 GiB", "5120.0 GiB"]


def test_write_block_replaces_only_the_named_block_and_names_a_missing_one(tmp_path):
    from pfrlib.io import write_block

    doc = tmp_path / "d.md"
    doc.write_text("a\n<!-- x:start -->\nold\n<!-- x:end -->\nb\n<!-- y:start -->\nkeep\n<!-- y:end -->\n")
    write_block(doc, "x", "new")
    assert doc.read_text() == "a\n<!-- x:start -->\nnew\n<!-- x:end -->\nb\n<!-- y:start -->\nkeep\n<!-- y:end -->\n"
    before = doc.read_text()
    with pytest.raises(ValueError, match=r"d.md: no <!-- z:start --> \.\.\. <!-- z:end --> block"):
        write_block(doc, "z", "t\n")
    assert doc.read_text() == before
