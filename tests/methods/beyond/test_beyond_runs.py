"""The methods beyond Table 1 in the run loop: each trains a tiny run (with and without the
auxiliary head), checkpoints its discriminators, and resumes bit-exactly (FDA's swap included)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from pfrlib import methods
from pfrlib.config.train_config import TrainConfig
from pfrlib.engine.run import train
from pfrlib.engine.trainer import Trainer
from interrupt import stop_at

pytestmark = pytest.mark.usefixtures("one_torch_thread")

BEYOND = [m.name for m in methods.methods("beyond") if not m.self_training]  # one run loop (self-training: test_self_training.py)
TINY = dict(synth_size=(32, 64), synth_train_length=8, synth_val_length=4, batch_size=2, iterations=6, log_every=1,
            checkpoint_every=3, val_every=0, progress=False, model_kwargs={"widths": [8, 8, 16, 16]}, num_threads=1,
            fda_beta=0.1)


def tiny(tmp_path: Path, name: str, **overrides) -> TrainConfig:
    return TrainConfig.preset("cpu", **{**TINY, "out": str(tmp_path / name), **overrides})


@pytest.mark.parametrize("multi_level", [False, True])
@pytest.mark.parametrize("method", BEYOND)
def test_each_trains_logs_its_terms_and_keeps_its_discriminators(tmp_path, method, multi_level):
    result = train(tiny(tmp_path, method, method=method, multi_level=multi_level))
    assert result.final["method"] == method and 0.0 <= result.final["target_miou"] <= 1.0
    last = json.loads((result.out / "metrics.jsonl").read_text().splitlines()[-1])
    own = {"minent": ["minent"], "advent": ["advent_adv", "d"], "fda": ["fda_ent"], "hist_match": []}[method]
    if multi_level and method in ("minent", "advent"):
        own += {"minent": ["minent_aux"], "advent": ["advent_adv_aux", "d_aux"]}[method]
    assert all(math.isfinite(last[k]) for k in own + ["seg", "total"]), last
    ckpt = torch.load(result.out / "checkpoint_last.pt", map_location="cpu", weights_only=True)
    expected = {"advent": {"main", "aux"} if multi_level else {"main"}}.get(method, set())
    assert set(ckpt["discriminators"]) == expected


@pytest.mark.parametrize("method", BEYOND)
def test_each_resumes_bit_exactly(tmp_path, method, monkeypatch):
    cfg = dict(method=method, iterations=6, checkpoint_every=3, fda_entropy_start=2)
    whole = train(tiny(tmp_path, "whole", **cfg))
    stop_at(monkeypatch, Trainer, 4, lambda: train(tiny(tmp_path, "cut", **cfg)))
    train(tiny(tmp_path, "cut", resume=True, **cfg))
    a = torch.load(whole.out / "checkpoint_last.pt", map_location="cpu", weights_only=True)
    b = torch.load(tmp_path / "cut" / "checkpoint_last.pt", map_location="cpu", weights_only=True)
    assert all(torch.equal(a["model"][k], b["model"][k]) for k in a["model"])
    for k in a["discriminators"]:
        assert all(torch.equal(v, b["discriminators"][k][n]) for n, v in a["discriminators"][k].items())
    strip = lambda p: [{k: v for k, v in json.loads(l).items() if k != "time"} for l in p.read_text().splitlines()]  # noqa: E731
    assert strip(whole.out / "metrics.jsonl") == strip(tmp_path / "cut" / "metrics.jsonl")
