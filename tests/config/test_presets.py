"""pfrlib.config.presets: the paper preset matches the paper and AdaptSegNet; the methods are presets of Eq. (6)'s weights."""

from __future__ import annotations


import pytest

from pfrlib.config.train_config import TrainConfig


def test_paper_preset_matches_the_paper_and_adaptsegnet():
    cfg = TrainConfig.preset("paper")
    assert cfg.model.arch == "deeplabv2_r101"
    assert (cfg.data.source_size, cfg.data.target_size) == ((720, 1280), (512, 1024))
    o = cfg.optim
    assert (o.optimizer, o.lr, o.momentum, o.weight_decay, o.head_lr_mult) == ("sgd", 2.5e-4, 0.9, 5e-4, 10.0)
    assert (o.iterations, o.schedule_iterations, o.power) == (150_000, 250_000, 0.9)
    assert (o.d_lr, o.d_betas) == (1e-4, (0.9, 0.99))
    assert (cfg.loss.lambda_adv, cfg.loss.lambda_pfr, cfg.data.batch_size) == (0.002, 0.004, 1)
    assert (cfg.loss.lambda_seg_aux, cfg.loss.lambda_adv_aux) == (0.1, 0.0002)


@pytest.mark.parametrize("method,adv,pfr", [
    ("source_only", 0, 0), ("adaptsegnet", 0.002, 0), ("pfr", 0, 0.004), ("pfr_adv", 0.002, 0.004), ("oracle", 0, 0),
])
def test_methods_are_presets_of_the_loss_weights(method, adv, pfr):
    w = TrainConfig.preset("paper", method=method).loss.effective_weights()
    assert (w["adv"], w["pfr"], w["seg"]) == (adv, pfr, 1.0)
    assert w["adv_aux"] == (0.0002 if adv else 0.0)
