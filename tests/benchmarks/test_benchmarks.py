"""The throughput benchmarks run end to end at tiny sizes (numbers are not checked, only that the
tables come out and the fixtures have the real layouts). No test times anything."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from script_module import load_script

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "benchmarks"


def _load(name: str):
    return load_script(f"benchmarks/{name}.py")


def _env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return env


# ------------------------------------------------------------------ data_pipeline.py
def test_fixture_trees_have_the_real_layouts_and_sizes(tmp_path: Path):
    dp = _load("data_pipeline")
    # zlib level 1: the layout and the sizes are checked here, not the files' compressed size
    gta5 = dp.write_gta5(tmp_path / "gta5", frames=2, noise=1.0, odd_label_every=2, compress_level=1)
    cs = dp.write_cityscapes(tmp_path / "cs", frames=1, noise=1.0, compress_level=1)
    from pfrlib.data.real import GTA5, Cityscapes

    g = GTA5(gta5)
    assert len(g) == 2 and g.count_size_mismatches() == 1
    img = Image.open(gta5 / "images" / "00001.png")
    assert img.size == (1914, 1052) and img.mode == "RGB"
    assert Image.open(gta5 / "labels" / "00001.png").mode == "P"
    assert Image.open(gta5 / "labels" / "00002.png").size == dp.GTA5_ODD_LABEL_SIZE[::-1]
    c = Cityscapes(cs, split="train")
    assert len(c) == 1
    frame = sorted((cs / "leftImg8bit" / "train").rglob("*_leftImg8bit.png"))[0]
    assert Image.open(frame).size == (2048, 1024)
    _, label = c[0]
    assert set(np.unique(label.numpy())) <= set(range(19)) | {255}


def test_workers_needed():
    dp = _load("data_pipeline")
    assert dp.workers_needed(25.0, 40.0) == 1  # 40 images/s needed, 40 per worker
    assert dp.workers_needed(25.0, 39.0) == 2
    assert dp.workers_needed(40.0, 10.0) == 3  # 25 needed
    assert dp.workers_needed(40.0, 10.0, batch_size=2) == 5


def test_data_pipeline_quick_writes_markdown(tmp_path: Path):
    out = tmp_path / "dp.md"
    proc = subprocess.run([sys.executable, str(BENCH / "data_pipeline.py"), "--quick", "--items", "2",
                           "--markdown", str(out)], capture_output=True, text=True, env=_env(), cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    text = out.read_text()
    assert "images/s per worker" in text and "| 25 ms |" in text and "| 40 ms |" in text
    assert "GTA5 1914x1052" in text and "Cityscapes 2048x1024" in text
    assert "| NO |" not in text  # every decoder gave PIL's pixels
    assert text in proc.stdout


# ------------------------------------------------------------------ step_time.py
def test_peak_table_lookup():
    st = _load("step_time")
    assert st.peak_tflops("NVIDIA H100 80GB HBM3") == (989.0, 494.0)
    assert st.peak_tflops("NVIDIA H100 PCIe")[0] == 756.0
    assert st.peak_tflops("NVIDIA H200")[0] == 989.0
    assert st.peak_tflops("NVIDIA H200 NVL")[0] == 835.0
    assert st.peak_tflops("NVIDIA A100-SXM4-80GB") == (312.0, 156.0)
    assert st.peak_tflops("NVIDIA L40S")[0] == 362.0 and st.peak_tflops("NVIDIA L4")[0] == 121.0
    assert st.peak_tflops("AMD EPYC 7B13") is None


def test_engine_overrides_pass_only_existing_fields():
    import argparse

    st = _load("step_time")
    args = argparse.Namespace(channels_last=False, cudnn_benchmark=None, tf32=True, pin_memory=None, compile=True,
                              param_listing="unique")
    passed, ignored = st.engine_overrides(args, "bf16", fields={"bf16", "channels_last", "tf32"})
    assert passed == {"bf16": True, "channels_last": False, "tf32": True}
    assert ignored == ["compile", "param_listing"]
    passed, _ = st.engine_overrides(args, "auto", fields={"bf16", "channels_last"})
    assert "bf16" not in passed


def test_step_time_cpu_flops_and_profile(tmp_path: Path):
    md, js = tmp_path / "st.md", tmp_path / "st.json"
    proc = subprocess.run([sys.executable, str(BENCH / "step_time.py"), "--skip-r101", "--methods", "adaptsegnet",
                           "pfr_adv", "--steps", "1", "--warmup", "1", "--threads", "1", "--eval-images", "4",
                           "--flops", "--profile", "--profile-steps", "1", "--peak-tflops", "1.0", "--no-calibration",
                           "--markdown", str(md), "--json", str(js)],
                          capture_output=True, text=True, env=_env(), cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = json.loads(js.read_text())
    assert [r["method"] for r in rows] == ["adaptsegnet", "pfr_adv"]
    assert all(r["flops"] > 0 for r in rows)
    assert rows[1]["flops"] > rows[0]["flops"]  # the Gram matrices and their gradients
    assert all(len(r["top_ops"]) == 10 for r in rows)
    text = md.read_text()
    assert "GFLOP / iteration" in text and "150k iterations" in text and "Top ops" in text
    assert "| n/a |" in text  # syncs are not counted on CPU


def test_step_time_bf16_under_autocast(tmp_path: Path):
    """The bf16 rows (gpu_check.sh's second precision; its CPU smoke test runs fp32 only): PFR's
    step, Gram matrices included, runs under bf16 autocast and gets its own row; the plain table
    (no FLOPs, no profile) keeps its columns."""
    js = tmp_path / "st.json"
    proc = subprocess.run([sys.executable, str(BENCH / "step_time.py"), "--skip-r101", "--methods", "pfr_adv",
                           "--precisions", "bf16", "--steps", "1", "--warmup", "0", "--threads", "1",
                           "--eval-images", "2", "--no-calibration", "--json", str(js)],
                          capture_output=True, text=True, env=_env(), cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = json.loads(js.read_text())
    assert [(r["method"], r["precision"]) for r in rows] == [("pfr_adv", "bf16")]
    assert rows[0]["median_s"] > 0 and rows[0]["bf16_cfg"] is True  # the run's autocast setting
    # without --flops and --profile the table keeps its columns (the README's CPU table)
    assert "| setup | method | step (ms) | peak memory (MiB) | overhead vs adaptsegnet |" in proc.stdout
    assert "GFLOP" not in proc.stdout


def test_the_calibration_row_is_the_engines_and_joins_an_existing_results_file(tmp_path: Path, monkeypatch):
    """``--add-calibration`` puts the row (measured in a child, as every row is) into a results file,
    replacing an older one and keeping the rest; the tables leave it out and name it in a line."""
    import argparse

    from pfrlib.engine import calibration as C

    st = _load("step_time")
    monkeypatch.setattr(C, "calibration_row", lambda repeat: {"label": C.CALIBRATION_LABEL, "method": "source_only",
                                                             "threads": 1, "steps": 8, "repeat": repeat, "median_s": 0.05})
    row = st._child({"label": C.CALIBRATION_LABEL, "method": "source_only", "calibration": True, "repeat": 3})
    assert row["median_s"] == 0.05 and row["device"] == "cpu" and row["repeat"] == 3
    monkeypatch.setattr(st, "_run_child", lambda spec: {**st._child(spec), "preset": "cpu"})
    results = tmp_path / "st.json"
    kept = {"label": "cpu preset (small)", "method": "pfr", "precision": "fp32", "median_s": 0.1, "peak_mib": 700.0,
            "device": "cpu", "device_name": "x", "threads": 2}
    results.write_text(json.dumps([kept, {"label": C.CALIBRATION_LABEL, "median_s": 9.0}]))
    assert st.main(["--add-calibration", str(results)]) == 0
    rows = json.loads(results.read_text())
    assert rows[0] == kept and len(rows) == 2 and rows[1]["median_s"] == 0.05
    text = st.render(rows, argparse.Namespace(), extended=False)
    assert "| cpu preset (small) | pfr | 100 |" in text and "| calibration |" not in text
    assert "Calibration (the reference for the notebooks' time estimates: source_only, cpu preset, 1 thread, " \
           "median of 8 iterations, fastest of 5): 50.0 ms" in text
    (tmp_path / "bad.json").write_text("{}")
    assert st.main(["--add-calibration", str(tmp_path / "bad.json")]) == 2


# ------------------------------------------------------------------ gpu_check.sh
@pytest.mark.slow
@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_gpu_check_tiny_on_cpu(tmp_path: Path):
    out = tmp_path / "gpu_check.md"
    env = _env()
    # fp32 only: bf16 convolutions on a CPU take ten times as long; the bf16 path of step_time.py is
    # run on the small model by test_step_time_bf16_under_autocast.
    # one method: the step-time path is the same for both (test_step_time_cpu_flops_and_profile
    # times the two side by side on the small model)
    env.update(DEVICE="cpu", SIZE="tiny", DATA_PIPELINE="0", PYTHON=sys.executable, PRECISIONS="fp32",
               STEP_METHODS="pfr_adv", MEMORY_RESULTS=str(tmp_path / "memory"))
    proc = subprocess.run(["bash", str(BENCH / "gpu_check.sh"), str(out)], capture_output=True, text=True,
                          env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    text = out.read_text()
    assert "DeepLab-v2 R101 multi-level" in text
    assert "| pfr_adv | fp32 |" in text and "| pfr_adv | bf16 |" not in text  # PRECISIONS was honoured
    assert "| adaptsegnet |" not in text  # and STEP_METHODS
    assert "GFLOP / iteration" in text and "syncs / iteration" in text
    # claim (c)'s memory step, in a folder of its own (the committed files are never written by it)
    assert "| cycada | segmentation |" in text and "| cycada | translation |" in text
    assert "0.05 of the published sizes" in text and "**CUDA rows: missing.**" in text
    # what memory.py wrote: the fraction, the sizes it gives, every stage, the translated set's footprint
    memory = load_script("benchmarks/memory.py")
    data = json.loads((tmp_path / "memory" / "memory.json").read_text())
    assert data["fraction"] == 0.05 and data["sizes"]["source"] == [36, 64] and data["sizes"]["target"] == [32, 51]
    assert "--fraction 0.05" in data["command"]
    assert {r["input_sizes"] for r in data["rows"] if r["stage"] != "translation"} == {
        "source 64x36, target 51x32 (width x height), batch 1"}
    assert [(r["method"], r["stage"]) for r in data["rows"]] == [
        ("cycada", "reference"), ("cycada", "translation"), ("cycada", "segmentation")]
    published, cpu = data["footprint"]
    assert (published["where"], published["count"], cpu["where"]) == ("published", memory.GTA5_FRAMES, "cpu")
    assert published["set_bytes"] == round(published["per_image_bytes"] * memory.GTA5_FRAMES)
    assert "**CUDA rows: missing.**" in (tmp_path / "memory" / "memory.md").read_text()


# ------------------------------------------------------------------ synth_gap.py, synth_speed.py
def test_synth_benchmarks_write_their_markdown_tables(tmp_path, one_torch_thread):
    gap = tmp_path / "gap.md"
    result = _load("synth_gap").main(["--seeds", "0", "--iterations", "2", "--train-length", "8",
                                      "--val-length", "4", "--cache-dir", str(tmp_path / "cache"),
                                      "--markdown", str(gap)])
    text = gap.read_text()
    assert "| source only |" in text and "| gap (oracle - source only) |" in text
    assert f"{result['src_tgt'][0]:.1f}" in text
    speed = tmp_path / "speed.md"
    _load("synth_speed").main(["--n", "4", "--markdown", str(speed)])
    lines = speed.read_text().splitlines()
    assert lines[0].startswith("| domain |") and [ln.split(" | ")[0] for ln in lines[2:]] == ["| source", "| target"]


# ------------------------------------------------------------------ translation_tuning.py
def test_translation_tuning_variants_and_the_adoption_rule(tmp_path: Path):
    """Every variant's options are real command-line options of the method it names; the rule
    adopts a variant only with both the mean gain and the seeds won; a missing run is named."""
    tt = _load("translation_tuning")
    planned = tt.jobs(tmp_path)
    assert len(planned) == len(tt.VARIANTS) * len(tt.SEEDS)
    for v in tt.VARIANTS:  # the option changed what it says it changes
        cfg = next(j.config for j in planned if j.name.startswith(f"{v.name}/method={v.method}_"))
        assert cfg.loss.method == v.method
        for flag, value in zip(v.options[::2], v.options[1::2]):
            field = flag[2:].replace("-", "_")
            section = next(getattr(cfg, sec) for sec in ("translation", "loss") if hasattr(getattr(cfg, sec), field))
            got = getattr(section, field)
            assert got == (type(got)(value) if not isinstance(got, str) else value)
    variants = (tt.Variant("base", "cycada", (), "b"), tt.Variant("better", "cycada", (), "x"),
                tt.Variant("lucky", "cycada", (), "y"))
    values = {"base": [40, 40, 40, 40, 40], "better": [42, 41, 39, 42, 43], "lucky": [50, 39, 39, 39, 41]}
    for v in variants:
        for s, x in zip(tt.SEEDS, values[v.name]):
            d = tt.run_dir(tmp_path, v, s)
            d.mkdir(parents=True)
            (d / "final.json").write_text(json.dumps({"method": "cycada", "seed": s, "target_miou": x / 100}))
    rows = {r["variant"]: r for r in tt.collect(tmp_path, variants)}
    assert rows["better"]["gain"] == pytest.approx(1.4) and rows["better"]["wins"] == 4 and rows["better"]["adopted"]
    assert rows["lucky"]["gain"] == pytest.approx(1.6) and rows["lucky"]["wins"] == 2 and not rows["lucky"]["adopted"]
    assert "adopted" not in rows["base"]
    table = tt.markdown(list(rows.values()))
    assert "| cycada | x | 42.0, 41.0, 39.0, 42.0, 43.0 | 41.4 | +1.4 | 4 of 5 | yes |" in table
    (tt.run_dir(tmp_path, variants[2], 3) / "final.json").unlink()
    with pytest.raises(FileNotFoundError, match="lucky cycada seed 3"):
        tt.collect(tmp_path, variants)


# ------------------------------------------------------------------ clan_map.py
def test_clan_map_trains_each_variant_once_and_reads_its_map_statistics(tmp_path, monkeypatch, one_torch_thread):
    bench = _load("clan_map")
    tiny = dict(synth_size=(32, 64), synth_train_length=8, synth_val_length=4, batch_size=2, iterations=6,
                log_every=2, checkpoint_every=6, val_every=0, model_kwargs={"widths": [8, 8, 16, 16]})
    monkeypatch.setattr(bench, "VARIANTS", {"clan": tiny, "sgd": {**tiny, **bench.VARIANTS["sgd"]}})
    monkeypatch.setattr(bench, "COSINE_AT", (2, 4))
    out = bench.main(["--runs", str(tmp_path / "runs"), "--json", str(tmp_path / "clan_map.json")])
    assert json.loads((tmp_path / "clan_map.json").read_text())["results"] == out["results"]
    for name, res in out["results"].items():
        final = json.loads((tmp_path / "runs" / name / "final.json").read_text())
        steps = [json.loads(line) for line in (tmp_path / "runs" / name / "metrics.jsonl").read_text().splitlines()]
        weighted = final["method_stats"]["clan_map_weighted"]
        assert res["method_stats"]["clan_map_weighted"]["last"] == pytest.approx(100 * weighted["last"], abs=1e-4)
        assert res["weighted_percent"]["4"] == pytest.approx(100 * steps[1]["clan_map_weighted"], abs=0.01)
        assert res["weight_cosine"]["2"] == pytest.approx(steps[0]["clan_discrepancy"] / (1 - 2 / 6), abs=1e-3)
    first = (tmp_path / "runs" / "clan" / "final.json").stat().st_mtime_ns
    bench.main(["--runs", str(tmp_path / "runs"), "--variants", "clan"])  # a finished run is read, not retrained
    assert (tmp_path / "runs" / "clan" / "final.json").stat().st_mtime_ns == first


# ------------------------------------------------------------------ dlow_flow.py
@pytest.mark.parametrize("argv, named", [
    (["--z-values", "0", "1.5"], "--z-values"),
    (["--z-values", "0.5", "0"], "--z-values"),
    (["--iterations", "0"], "--iterations"),
    (["--images", "0"], "--images"),
    (["--variants", "dlow", "cyclegan"], "--variants"),
    (["--docs"], "--docs"),
])
def test_dlow_flow_names_its_bad_input_before_training(argv, named, tmp_path):
    bench = _load("dlow_flow")
    with pytest.raises(SystemExit, match=named):
        bench.main([*argv, "--runs", str(tmp_path / "runs")])
    assert not (tmp_path / "runs").exists()


def test_dlow_flow_table_states_its_schedule_and_verdict():
    bench = _load("dlow_flow")
    rows = [{"z": z, "colour_to_source": s, "colour_to_target": t, "gram_to_source": 10.0, "gram_to_target": 20.0,
             "pixels_to_own_source": 3.0} for z, s, t in ((0.0, 1.0, 40.0), (1.0, 35.0, 6.0))]
    verdict = {"to_target_non_increasing": True, "to_source_non_decreasing": True, "monotone": True}
    result = {"preset": "cpu", "seed": 0, "iterations": 50, "preset_iterations": 200, "images": 8,
              "source_target": {"colour": 41.0, "gram": 30.0},
              "variants": {"dlow": {"what": "the preset", "rows": rows,
                                    "monotone": {"colour": verdict, "gram": {**verdict, "monotone": False,
                                                                             "to_source_non_decreasing": False}},
                                    "ends": {"colour": {"first_nearer_source": True, "last_nearer_target": True},
                                             "gram": {"first_nearer_source": False, "last_nearer_target": True}}}}}
    text = bench.markdown(result)
    assert "**50 stage-1 iterations**, a reduced schedule (the `cpu` preset trains 200);" in text
    assert "colour: monotone" in text and "gram: not monotone" in text
    assert "last z nearer the target: yes" in text and "gram: not monotone (to target non-increasing: yes, to source " \
        "non-decreasing: no), first z nearer the source: no" in text
    assert "| 0 | 1.0 | 40.0 | 10.0 | 20.0 | 3.0 |" in text
    assert "full schedule" in bench.markdown({**result, "iterations": 200})
    assert "a longer schedule (the `cpu` preset trains 200)" in bench.markdown({**result, "iterations": 600})
