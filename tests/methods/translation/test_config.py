"""pfrlib.methods.translation.config: the translation stage's schedule and its hyper-parameters, bad values named."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from pfrlib.config.train_config import TrainConfig
from pfrlib.methods.translation.config import TranslationConfig

REPO = Path(__file__).resolve().parents[3]


def test_linear_decay_schedule():
    c = TranslationConfig.preset("cpu", translation_iterations=10, translation_decay_start=0.5)
    assert [c.decay_factor(i) for i in (0, 5, 7, 10)] == pytest.approx([1.0, 1.0, 0.6, 0.0])


def test_bad_hyper_parameters_are_named(tmp_path):
    for field, value in (("translation_lr", -1.0), ("gen_filters", 0), ("pool_size", -1),
                         ("lambda_cycle", float("nan")), ("translation_decay_start", 2.0),
                         ("dlow_z_sampling", "linear"), ("stage2_method", "pfr"),
                         ("dlow_adv_weighting", "sqrt"), ("gen_upsampling", "deconv"),
                         ("dlow_source_identity", "yes")):
        with pytest.raises(ValueError, match=field):
            TranslationConfig.preset("cpu", **{field: value}).validate()
    with pytest.raises(ValueError, match="unknown field"):
        TranslationConfig.preset("cpu", gen_filterz=3)
    with pytest.raises(ValueError, match="gen_blocks must be"):  # through the run's configuration
        TrainConfig.preset("cpu", method="cycada", gen_blocks=-1).validate()
    proc = subprocess.run([sys.executable, "-m", "pfrlib.train", "--method", "cycada", "--out",
                           str(tmp_path / "x"), "--translation-lr", "0"], capture_output=True, text=True,
                          cwd=REPO)
    assert proc.returncode == 2 and "translation_lr must be" in proc.stderr
    assert not (tmp_path / "x").exists()
