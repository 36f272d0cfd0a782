"""benchmarks/memory.py (claim (c)): sizes a stated fraction of the published ones, the translated
set's bytes as stage 1 writes them, and a memory.md that says which device's rows are missing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from script_module import load_script

ROOT = Path(__file__).resolve().parents[2]
MEMORY = load_script("benchmarks/memory.py")


def test_sizes_are_one_fraction_of_the_published_ones():
    assert MEMORY.published_sizes() == {"source": (720, 1280), "target": (512, 1024), "translation_crop": (400, 400)}
    assert MEMORY.scaled_sizes(0.25) == {"source": (180, 320), "target": (128, 256), "translation_crop": (100, 100)}
    assert MEMORY.scaled_sizes(1.0) == MEMORY.published_sizes()
    assert MEMORY.scaled_sizes(0.01)["translation_crop"] == (MEMORY.SMALLEST, MEMORY.SMALLEST)
    for bad in (0, -0.5, 1.5):
        with pytest.raises(ValueError, match="--fraction: expected a number in"):
            MEMORY.scaled_sizes(bad)
    with pytest.raises(SystemExit):
        MEMORY.main(["--fraction", "2", "--results", "/nonexistent"])


@pytest.mark.parametrize("method, kept", [("cycada", 1), ("tgcf_da", 2)])
def test_the_footprint_counts_what_stage_one_writes(method, kept, one_torch_thread):
    """TGCF-DA's set keeps the source image beside each translated one: twice the files and pixels."""
    got = MEMORY._footprint({"method": method, "preset": "cpu", "size": [32, 48], "images": 2, "device": "cpu",
                             "threads": 1})
    assert got["files"] == 2 * 2 * kept + 1  # an image and a label per kept image, and pfr_dataset.json
    assert got["raw_per_image_bytes"] == kept * 32 * 48 * 4
    assert got["per_image_bytes"] == got["bytes_written"] / 2 and got["bytes_written"] > 0


def _file(peaks: dict[str, float], fraction=0.25, device="cpu") -> dict:
    rows = [{"method": m, "stage": "segmentation", "peak_memory_mib": v, "baseline_mib": 500.0, "parameters": 4e7,
             "frozen_parameters": 0, "seconds_per_iteration": 1.0, "device": device, "threads": 1, "torch": "x",
             "input_sizes": "source 320x180, target 256x128, batch 1", "measured_as": f"{m} (segmentation)"}
            for m, v in peaks.items()]
    return {"memory": f"{device} memory", "fraction": fraction, "command": "python benchmarks/memory.py", "rows": rows}


def test_memory_md_says_which_device_is_missing_until_its_file_exists(tmp_path):
    (tmp_path / "memory.json").write_text(json.dumps(_file({"pfr_adv": 900.0, "cycada": 1000.0})))
    text = MEMORY.render(tmp_path)
    assert "0.25 of the published sizes" in text and "| cycada | segmentation | 1000 |" in text
    assert "**CUDA rows: missing.**" in text and "--device cuda --fraction 1" in text
    (tmp_path / "memory_cuda.json").write_text(json.dumps(_file({"pfr_adv": 9000.0}, 1.0, "cuda")))
    text = MEMORY.render(tmp_path)
    assert "missing" not in text and "1 of the published sizes" in text and "| pfr_adv | segmentation | 9000 |" in text
    old = _file({"pfr_adv": 900.0})
    del old["fraction"]
    (tmp_path / "memory.json").write_text(json.dumps(old))
    assert "no fraction recorded" in MEMORY.render(tmp_path)


def test_the_committed_memory_md_is_generated_from_the_committed_files():
    committed = (ROOT / "benchmarks" / "results" / "memory.md").read_text()
    assert committed == MEMORY.render(ROOT / "benchmarks" / "results"), "run python benchmarks/memory.py --render"


# The tiny end-to-end run of memory.py (CyCADA's three stages and its footprint) is the memory step of
# benchmarks/gpu_check.sh, checked file by file in
# tests/benchmarks/test_benchmarks.py::test_gpu_check_tiny_on_cpu (one run serves both).
