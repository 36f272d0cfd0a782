"""pfrlib.engine.record: final.json's record, its keys in order, NaN as null, errors naming the file; the
per-image test confusion file."""

from __future__ import annotations

import json

import numpy as np
import pytest

from pfrlib.engine.record import METRIC_KEYS, TEST_CONFUSION, FinalRecord, PerImageConfusion, read_test_confusion


def _record(**kw):
    d = dict(method="pfr", preset="cpu", seed=0, arch="small", iterations=2, world_size=1, replicas_identical=None,
             effective_weights={"seg": 1.0}, source_miou=0.5, target_miou=float("nan"),
             source_val={"miou": 0.5}, target_val={"miou": float("nan")}, wall_time_s=1.25,
             checkpoint="checkpoint_last.pt", best_on_val=None)
    d.update(kw)
    return FinalRecord(**d)


def test_final_record_round_trip_keeps_key_order(tmp_path):
    rec = _record()
    path = rec.write(tmp_path / "final.json")
    raw = json.loads(path.read_text())
    assert list(raw) == [*list(rec.to_dict())] and raw["target_miou"] is None  # NaN -> null, strict JSON
    back = FinalRecord.read(path)
    assert back.source_val == {"miou": 0.5} and back.checkpoint == "checkpoint_last.pt"
    assert set(METRIC_KEYS) == set(raw) - {"checkpoint", "note", "launched"}


def test_a_final_json_written_before_test_scoring_still_loads(tmp_path):
    old = _record().to_dict()
    del old["target_test"], old["calibration_s"]
    path = tmp_path / "final.json"
    path.write_text(json.dumps(old))
    assert FinalRecord.read(path).target_test is None and FinalRecord.read(path).calibration_s is None
    assert "target_test" in METRIC_KEYS  # a sweep may report target_test.miou
    assert "calibration_s" in METRIC_KEYS  # and each run's machine calibration


def test_per_image_confusion_round_trips_and_is_found_beside_the_final_checkpoint(tmp_path):
    rng = np.random.default_rng(0)
    last, best = rng.integers(0, 5000, (6, 19, 19)), rng.integers(0, 5000, (6, 19, 19))
    kept = PerImageConfusion(last=last, class_ids=(0, 1, 2), spec="synth:target:test", best_on_val=best)
    run = tmp_path / "run"
    kept.write(run / "segmentation" / TEST_CONFUSION)  # a run trained in stages: its last stage's folder
    _record(checkpoint="segmentation/checkpoint_last.pt").write(run / "final.json")
    back = read_test_confusion(run)
    assert np.array_equal(back.last, last) and np.array_equal(back.best_on_val, best) and back.last.dtype == np.int64
    assert (back.class_ids, back.spec) == ((0, 1, 2), "synth:target:test")
    PerImageConfusion(last=last, class_ids=(0,), spec="s").write(run / TEST_CONFUSION)
    assert read_test_confusion(run).best_on_val is None  # its own file first; no checkpoint chosen on val
    assert not list(run.glob(".*.tmp"))


def test_per_image_confusion_errors_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match=f"{tmp_path}: holds no {TEST_CONFUSION}.*--target-test"):
        read_test_confusion(tmp_path)
    (tmp_path / TEST_CONFUSION).write_text("not an archive")
    with pytest.raises(ValueError, match=f"{TEST_CONFUSION}: not a readable .npz archive"):
        read_test_confusion(tmp_path)
    np.savez(tmp_path / "other.npz", x=np.zeros(2))
    with pytest.raises(ValueError, match=r"other.npz: missing array\(s\) \['last', 'class_ids', 'spec'\]"):
        PerImageConfusion.read(tmp_path / "other.npz")
    with pytest.raises(ValueError, match=r"last must be \(N, K, K\) counts"):
        PerImageConfusion(last=-np.ones((2, 3, 3)), class_ids=(0,), spec="s").write(tmp_path / "bad.npz")


def test_final_record_errors_name_the_file(tmp_path):
    path = tmp_path / "final.json"
    path.write_text(json.dumps({"method": "pfr"}))
    with pytest.raises(ValueError, match=f"{path}: missing key.*target_miou"):
        FinalRecord.read(path)
    path.write_text("[]")
    with pytest.raises(ValueError, match="expected a JSON object"):
        FinalRecord.read(path)


def test_a_step_record_gives_the_progress_line():
    from pfrlib.engine.record import is_step_record, progress_line, step_record

    rec = step_record(100, {"seg": 0.41234, "adv": 0.6931, "other": 2.0}, elapsed=25.0)
    assert rec == {"iter": 100, "seg": 0.41234, "adv": 0.6931, "other": 2.0, "time": 25.0} and is_step_record(rec)
    assert not is_step_record({"iter": 100, "val_target_miou": 0.3})  # a periodic validation's record
    # 0.25 s per iteration so far, 200 left: about 50 s; the terms the progress bar shows, in its order
    assert progress_line(rec, 300) == "100 / 300 iterations, seg 0.412, adv 0.693, about 50 s left"
    assert progress_line(None, 300) == "0 / 300 iterations, starting"
    assert progress_line(step_record(300, {"seg": 0.2}, 150.0), 300) == "300 / 300 iterations, seg 0.2, final validation"


def test_final_json_names_the_synthstreets_benchmark_and_its_scene_seed():
    from pfrlib.config.train_config import TrainConfig
    from pfrlib.engine.record import synthstreets_record

    cfg = TrainConfig.preset("cpu")
    cfg.data.synth_seed = 3
    assert synthstreets_record(cfg.data) == {"classes": cfg.data.synth_classes, "scene_seed": 3, "shift": "full"}
    cfg.data.synth_shift = "full,camera=0"
    assert synthstreets_record(cfg.data)["shift"] == "full,camera=0"
    paper = TrainConfig.preset("paper")  # GTA5 -> Cityscapes: no SynthStreets anywhere
    assert synthstreets_record(paper.data) is None
    paper.data.target_val = "synth:target:test"
    assert synthstreets_record(paper.data) == {"classes": paper.data.synth_classes, "scene_seed": paper.data.synth_seed,
                                              "shift": "full"}


def test_the_finished_line_names_the_method_in_words():
    """A notebook prints it under the run's folder name, which carries the key: the method in words."""
    from pfrlib.engine.record import finished_line
    from pfrlib.methods import label

    line = finished_line("trained", "pfr_adv_s0", {"method": "pfr_adv", "iterations": 150, "target_miou": 0.312},
                         seconds=125.0)
    assert line == f"trained pfr_adv_s0 (2 min 05 s): {label('pfr_adv')}, 150 iterations, target mIoU 31.2"
    assert finished_line("resumed", "x", {}, seconds=1.0).startswith("resumed x (1 s): ?, ? iterations")


def test_method_stats_summarise_the_step_records_of_the_declared_keys():
    from pfrlib.engine.record import method_stats, step_record

    records = [step_record(2, {"seg": 1.0, "m": 0.25}, 1.0), {"iter": 2, "val_target_miou": 0.3},
               step_record(4, {"seg": 1.0, "m": 0.75}, 2.0), step_record(6, {"seg": 1.0}, 3.0)]
    assert method_stats(records, ("m", "absent")) == {"m": {"mean": 0.5, "last": 0.75},
                                                     "absent": {"mean": None, "last": None}}
    assert method_stats(records, ()) is None
    assert _record().method_stats is None  # a method without statistics


def test_a_runs_method_stats_are_read_from_its_metrics_file(tmp_path):
    from types import SimpleNamespace

    from pfrlib.engine.record import METRICS_JSONL, run_method_stats, step_record

    lines = [step_record(1, {"m": 0.1}, 1.0), {"iter": 1, "val_target_miou": 0.3}, step_record(2, {"m": 0.3}, 2.0)]
    (tmp_path / METRICS_JSONL).write_text("".join(json.dumps(r) + "\n" for r in lines))
    stats = run_method_stats(tmp_path, SimpleNamespace(summary_logs=("m",)))
    assert stats == {"m": {"mean": pytest.approx(0.2), "last": 0.3}}
    assert run_method_stats(tmp_path, None) is None  # no method extras: nothing is read
