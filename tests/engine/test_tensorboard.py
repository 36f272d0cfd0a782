"""TensorBoard events (pfrlib.engine.tensorboard): read back with TensorBoard's own event reader.

Tiny runs (SynthStreets 32x64, the small model, 6 iterations); the assertions check tags, steps
and that the values are the run's own (metrics.jsonl, final.json), not the curves' shape.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from PIL import Image

from pfrlib.config.train_config import TrainConfig
from pfrlib.data.labels import PALETTE
from pfrlib.engine.rundir import EVENTS_DIR
from pfrlib.engine.tensorboard import TensorBoardLog, scalar_tag
from pfrlib.engine.run import train

TINY = dict(
    synth_size=(32, 64), synth_train_length=8, synth_val_length=4, batch_size=2,
    iterations=6, log_every=2, checkpoint_every=3, val_every=3, progress=False,
    model_kwargs={"widths": [8, 8, 16, 16]}, num_threads=1,
)


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # conftest: one thread, restored after


def _events(run: Path) -> EventAccumulator:
    acc = EventAccumulator(str(run / EVENTS_DIR), size_guidance={"scalars": 0, "images": 0})
    acc.Reload()
    return acc


def _scalars(acc: EventAccumulator, tag: str) -> dict[int, float]:
    return {e.step: e.value for e in acc.Scalars(tag)}


def _final(run: Path) -> dict:
    final = json.loads((run / "final.json").read_text())
    final.pop("wall_time_s")
    for split in ("source_val", "target_val", "target_test"):
        final[split].pop("megapixels_per_s")
    return final


def test_a_run_writes_its_loss_terms_learning_rates_validation_and_images(tmp_path):
    cfg = TrainConfig.preset("cpu", **TINY, method="pfr_adv", multi_level=True, out=str(tmp_path / "on"))
    train(cfg)
    run = tmp_path / "on"
    acc = _events(run)
    tags = acc.Tags()
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    steps = [r for r in records if "seg" in r]
    assert [r["iter"] for r in steps] == [2, 4, 6]

    # every loss term of metrics.jsonl, under its tag, at the same iterations, with its value
    for key in ("seg", "seg_aux", "adv", "adv_aux", "pfr", "total", "d", "d_aux", "d_acc_source",
                "d_acc_target", "pfr_style_2", "pfr_content_5"):
        assert scalar_tag(key) in tags["scalars"], key
        logged = _scalars(acc, scalar_tag(key))
        assert logged == pytest.approx({r["iter"]: r[key] for r in steps}, rel=1e-6), key
    assert {"loss/seg", "loss/adv", "loss/pfr", "pfr/style_2", "pfr/content_2", "discriminator/loss",
            "discriminator/acc_target"} <= set(tags["scalars"])

    # learning rates: the network's is the one metrics.jsonl records for that iteration
    assert _scalars(acc, "lr/network") == pytest.approx({r["iter"]: r["lr"] for r in steps}, rel=1e-6)
    d_lr = _scalars(acc, "lr/discriminator_main")
    assert sorted(d_lr) == [2, 4, 6] and d_lr[2] > d_lr[4] > d_lr[6] > 0  # poly decay
    assert d_lr[2] == pytest.approx(cfg.optim.d_lr * (1 - 1 / 6) ** cfg.optim.power, rel=1e-6)

    # validation: periodic (iteration 3) and final (6); the final one is final.json's
    final = json.loads((run / "final.json").read_text())
    target = _scalars(acc, "val/target_miou")
    assert sorted(target) == [3, 6]
    assert target[6] == pytest.approx(final["target_miou"], rel=1e-6)
    assert _scalars(acc, "val/source_miou")[6] == pytest.approx(final["source_miou"], rel=1e-6)
    periodic = [r for r in records if "val_target_miou" in r]
    assert target[3] == pytest.approx(periodic[0]["val_target_miou"], rel=1e-6)
    ious = {name: v for name, v in final["target_val"]["per_class_iou"].items() if v is not None}
    assert ious
    for name, v in ious.items():
        assert _scalars(acc, f"val_target_iou/{name}")[6] == pytest.approx(v, rel=1e-6)

    # images: three target val images, each image | prediction | label, at every validation
    assert sorted(tags["images"]) == [f"val_target_images/{i}" for i in range(3)]
    for i in range(3):
        shots = acc.Images(f"val_target_images/{i}")
        assert [s.step for s in shots] == [3, 6]
        assert (shots[-1].height, shots[-1].width) == (32, 3 * 64)
        strip = np.asarray(Image.open(io.BytesIO(shots[-1].encoded_image_string)).convert("RGB"))
        image, prediction, label = strip[:, :64], strip[:, 64:128], strip[:, 128:]
        colours = {tuple(c) for c in PALETTE} | {(0, 0, 0)}
        for part in (prediction, label):  # trainIds drawn in the Cityscapes palette
            assert {tuple(c) for c in part.reshape(-1, 3)} <= colours
        assert len({tuple(c) for c in image.reshape(-1, 3)}) > len(colours)  # the photo, not a label


def test_tensorboard_false_writes_nothing_and_changes_no_number(tmp_path):
    base = dict(TINY, val_every=0, method="adaptsegnet")
    train(TrainConfig.preset("cpu", **base, out=str(tmp_path / "on")))
    train(TrainConfig.preset("cpu", **base, tensorboard=False, out=str(tmp_path / "off")))
    assert any((tmp_path / "on" / EVENTS_DIR).glob("events.out.tfevents.*"))
    assert not (tmp_path / "off" / EVENTS_DIR).exists()
    assert _final(tmp_path / "on") == _final(tmp_path / "off")
    ckpt = {name: torch.load(tmp_path / name / "checkpoint_last.pt", map_location="cpu", weights_only=True)["model"]
            for name in ("on", "off")}
    assert all(torch.equal(ckpt["on"][k], ckpt["off"][k]) for k in ckpt["on"])


def test_a_resumed_log_replaces_the_steps_past_its_start(tmp_path):
    first = TensorBoardLog(tmp_path, start=0)
    for it in range(1, 6):  # logged up to 5, then the run died; its checkpoint is at 3
        first.log_step(it, {"seg": float(it)})
    first.close()
    # a resumed run is a later process: its event file's name (seconds first, then host, pid and a
    # per-process counter that sorts as text, ".10" before ".9") sorts after the first's, and
    # TensorBoard reads the files in name order. Start it in the next second, as such a run would.
    time.sleep(1 - time.time() % 1 + 0.01)
    second = TensorBoardLog(tmp_path, start=3)
    for it in range(4, 7):
        second.log_step(it, {"seg": 10.0 * it})
    second.close()
    assert _scalars(_events(tmp_path), "loss/seg") == {1: 1.0, 2: 2.0, 3: 3.0, 4: 40.0, 5: 50.0, 6: 60.0}


def test_a_disabled_log_is_a_no_op(tmp_path):
    log = TensorBoardLog(tmp_path, enabled=False)
    log.log_step(1, {"seg": 1.0})
    log.log_validation(1, {"target": {"miou": 0.5, "per_class_iou": {"road": 0.5}}})
    log.close()
    assert not (tmp_path / EVENTS_DIR).exists()


def test_under_ddp_rank_0_alone_writes_events(tmp_path):
    repo = Path(__file__).resolve().parents[2]
    out = tmp_path / "ddp"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           "-m", "pfrlib.train", "--preset", "cpu", "--method", "adaptsegnet", "--out", str(out),
           "--synth-size", "32", "64", "--synth-train-length", "8", "--synth-val-length", "4",
           "--batch-size", "2", "--iterations", "2", "--log-every", "1", "--device", "cpu",
           "--model-kwargs", json.dumps(TINY["model_kwargs"]), "--no-progress", "--num-threads", "1"]
    env = {**os.environ, "PYTHONPATH": str(repo) + os.pathsep + os.environ.get("PYTHONPATH", ""),
           "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert len(list((out / EVENTS_DIR).glob("events.out.tfevents.*"))) == 1
    acc = _events(out)
    assert [e.step for e in acc.Scalars("loss/seg")] == [1, 2]
    assert [e.step for e in acc.Scalars("val/target_miou")] == [2]
