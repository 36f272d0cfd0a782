"""MinEnt (``--method minent``): ADVENT's entropy loss against hand-computed cases, its terms, its presets."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from pfrlib.config.train_config import TrainConfig
from pfrlib.methods.beyond.entropy import entropy_loss, entropy_map
from pfrlib.methods.beyond.minent import MinEnt, MinEntConfig
from pfrlib.paper.step import BaselineInputs

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def probs(*pixels):
    """1 x C x 1 x N probabilities from N per-pixel distributions."""
    return torch.tensor(pixels, dtype=torch.float32).T.reshape(1, len(pixels[0]), 1, len(pixels))


def test_entropy_loss_by_hand():
    # C = 4, log2(4) = 2. Pixel 1: (1/2, 1/2, 0, 0) -> 1 bit -> 1/2. Pixel 2: one-hot -> 0.
    # Pixel 3: uniform -> 2 bits -> 1. Pixel 4: (1/2, 1/4, 1/4, 0) -> 1.5 bits -> 3/4.
    p = probs((0.5, 0.5, 0, 0), (1, 0, 0, 0), (0.25, 0.25, 0.25, 0.25), (0.5, 0.25, 0.25, 0))
    torch.testing.assert_close(entropy_map(p), torch.tensor([[[0.5, 0.0, 1.0, 0.75]]]))
    # ADVENT's code: the sum over classes and pixels over (n h w log2 C): (0.5 + 0 + 1 + 0.75) / 4
    torch.testing.assert_close(entropy_loss(p), torch.tensor(2.25 / 4))
    # the paper's: summed over the pixels (mean over a batch of one)
    torch.testing.assert_close(entropy_loss(p, "sum"), torch.tensor(2.25))
    # a batch of two images: the sum is per image, then averaged
    two = torch.cat([p, probs((1, 0, 0, 0), (1, 0, 0, 0), (1, 0, 0, 0), (1, 0, 0, 0))])
    torch.testing.assert_close(entropy_loss(two, "sum"), torch.tensor(2.25 / 2))
    torch.testing.assert_close(entropy_loss(two), torch.tensor(2.25 / 8))
    with pytest.raises(ValueError, match="reduction"):
        entropy_loss(p, "max")


def _inputs(logits_t, aux_t=None):
    out_t = SimpleNamespace(logits=logits_t, aux_logits=aux_t)
    z = torch.zeros(1)
    return BaselineInputs(out_s=None, out_t=out_t, xs=z, ys=z, xt=z, logits_s=z, logits_t=logits_t,
                          discriminators={})


def numpy_minent(logits):
    """ADVENT's ``entropy_loss(F.softmax(pred))``, written with numpy."""
    x = logits.numpy().astype(np.float64)
    p = np.exp(x - x.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    n, c, h, w = x.shape
    return -(p * np.log2(p + 1e-30)).sum() / (n * h * w * np.log2(c))


def test_minent_terms_match_a_numpy_transcription_main_and_aux():
    g = torch.Generator().manual_seed(0)
    lt = torch.randn(2, 5, 6, 7, generator=g) * 2
    aux = torch.randn(2, 5, 6, 7, generator=g)
    cfg = TrainConfig.preset("cpu", method="minent")
    base = MinEnt(None, cfg)
    t = base.network_terms(_inputs(lt)).terms
    assert set(t) == {"minent"}  # no auxiliary head, no aux term
    assert math.isclose(float(t["minent"]), numpy_minent(lt), rel_tol=1e-5)
    t = base.network_terms(_inputs(lt, aux)).terms
    assert math.isclose(float(t["minent_aux"]), numpy_minent(aux), rel_tol=1e-5)


def test_minent_gradient_makes_the_target_prediction_more_confident():
    logits = torch.tensor([[[[0.3]], [[0.1]], [[-0.2]]]], requires_grad=True)
    base = MinEnt(None, TrainConfig.preset("cpu", method="minent"))
    base.network_terms(_inputs(logits)).terms["minent"].backward()
    with torch.no_grad():
        stepped = logits - 1.0 * logits.grad
    assert float(entropy_loss(torch.softmax(stepped, 1))) < float(entropy_loss(torch.softmax(logits.detach(), 1)))
    assert int(stepped.argmax()) == int(logits.argmax()) == 0  # the leading class gains


def test_minent_presets_pin_advent_values():
    paper = TrainConfig.preset("paper", method="minent")
    w = paper.effective_weights()
    assert (w["minent"], w["minent_aux"], w["seg_aux"], w["adv"]) == (0.001, 0.0002, 0.1, 0.0)
    assert (paper.optim.iterations, paper.optim.schedule_iterations, paper.model.multi_level,
            paper.model.aspp_branches, paper.minent.minent_reduction) == (120_000, 250_000, True, 4, "mean")
    cpu = TrainConfig.preset("cpu", method="minent")
    assert cpu.minent == MinEntConfig.cpu() and cpu.effective_weights()["minent"] == 0.002
    assert type(cpu.minent).__module__ == MinEnt.__module__
    with pytest.raises(ValueError, match="minent_reduction"):
        TrainConfig.preset("cpu", minent_reduction="max").validate()
