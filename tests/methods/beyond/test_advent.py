"""AdvEnt (``--method advent``): ADVENT's self-information maps and adversarial terms against
hand-computed cases, its discriminators, its presets."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch import nn

from pfrlib.config.train_config import TrainConfig
from pfrlib.methods.beyond.advent import AdvEnt, AdvEntConfig, information_maps
from pfrlib.methods.beyond.entropy import self_information
from pfrlib.models.discriminator import FCDiscriminator
from pfrlib.paper.step import BaselineInputs, DiscriminatorInputs, discriminator_step

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_self_information_by_hand():
    # p = (1/2, 1/4, 1/4, 0), C = 4: -p log2 p = (1/2, 1/2, 1/2, 0); over log2(4) = 2 -> 1/4 each
    p = torch.tensor([0.5, 0.25, 0.25, 0.0]).reshape(1, 4, 1, 1)
    torch.testing.assert_close(self_information(p).flatten(), torch.tensor([0.25, 0.25, 0.25, 0.0]))
    # the paper's -p ln p, not normalised: (1/2) ln 2 = (1/4) ln 4 = 0.34657...
    h = 0.5 * math.log(2)
    torch.testing.assert_close(self_information(p, normalize=False).flatten(), torch.tensor([h, h, h, 0.0]))


class ChannelSum(nn.Module):
    """A stand-in discriminator: its logit per pixel is the sum of its input over the channels
    (times a scale of 1, so that it has a parameter to train)."""

    def __init__(self):
        super().__init__()
        self.scale = nn.Parameter(torch.ones(()))

    def forward(self, x):
        return self.scale * x.sum(dim=1, keepdim=True)


def numpy_maps(logits):
    x = logits.numpy().astype(np.float64)
    p = np.exp(x - x.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    return -p * np.log2(p + 1e-30) / np.log2(x.shape[1])


def _inputs(ls, lt, discriminators, aux_s=None, aux_t=None):
    z = torch.zeros(1)
    return BaselineInputs(out_s=SimpleNamespace(logits=ls, aux_logits=aux_s),
                          out_t=SimpleNamespace(logits=lt, aux_logits=aux_t), xs=z, ys=z, xt=z,
                          logits_s=ls, logits_t=lt, discriminators=discriminators)


def test_advent_fooling_term_and_discriminator_inputs_by_numpy():
    g = torch.Generator().manual_seed(0)
    ls, lt = torch.randn(1, 3, 4, 5, generator=g) * 2, torch.randn(1, 3, 4, 5, generator=g) * 2
    cfg = TrainConfig.preset("cpu", method="advent")
    res = AdvEnt(None, cfg).network_terms(_inputs(ls, lt, {"main": ChannelSum()}))
    # D's logit = the pixel's normalised entropy H; the fooling term is BCE towards source (0):
    # mean of log(1 + exp(H))
    ent_t = numpy_maps(lt).sum(1)
    assert math.isclose(float(res.terms["advent_adv"].detach()), np.log1p(np.exp(ent_t)).mean(), rel_tol=1e-5)
    entry = res.outputs["main"]
    assert isinstance(entry, DiscriminatorInputs) and entry.softmax is False and entry.loss is None
    np.testing.assert_allclose(entry.source.numpy(), numpy_maps(ls), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(entry.target.detach().numpy(), numpy_maps(lt), rtol=1e-5, atol=1e-7)
    assert set(res.terms) == {"advent_adv"}


def test_advent_discriminator_learns_source_zero_target_one_with_halved_halves():
    """ADVENT's ``loss_d_main / 2`` on each half: 0.5 (BCE(D(I_s), 0) + BCE(D(I_t), 1))."""
    g = torch.Generator().manual_seed(1)
    ls, lt = torch.randn(1, 3, 4, 5, generator=g), torch.randn(1, 3, 4, 5, generator=g)
    d = ChannelSum()
    opt = torch.optim.SGD(d.parameters(), lr=0.0)
    res = AdvEnt(None, TrainConfig.preset("cpu", method="advent")).network_terms(_inputs(ls, lt, {"main": d}))
    logs = discriminator_step({"main": d}, {"main": d}, {"main": opt}, res.outputs)
    hs, ht = numpy_maps(ls).sum(1), numpy_maps(lt).sum(1)
    expected = 0.5 * (np.log1p(np.exp(hs)).mean() + np.log1p(np.exp(-ht)).mean())
    assert math.isclose(float(logs["d"]), expected, rel_tol=1e-5)


def test_advent_is_multi_level_with_the_auxiliary_head():
    cfg = TrainConfig.preset("paper", method="advent", model_kwargs={"layers": [1, 1, 1, 1]})
    base = AdvEnt(None, cfg)
    ds = base.build_discriminators()
    assert set(ds) == {"main", "aux"} and all(isinstance(d, FCDiscriminator) for d in ds.values())
    g = torch.Generator().manual_seed(2)
    ls, lt, as_, at = (torch.randn(1, 19, 6, 8, generator=g) for _ in range(4))
    res = base.network_terms(_inputs(ls, lt, {"main": ChannelSum(), "aux": ChannelSum()}, as_, at))
    assert set(res.terms) == {"advent_adv", "advent_adv_aux"} and set(res.outputs) == {"main", "aux"}
    ent = numpy_maps(at).sum(1)
    assert math.isclose(float(res.terms["advent_adv_aux"].detach()), np.log1p(np.exp(ent)).mean(), rel_tol=1e-5)
    torch.testing.assert_close(information_maps(at), res.outputs["aux"].target.detach())
    assert set(AdvEnt(None, TrainConfig.preset("cpu", method="advent")).build_discriminators()) == {"main"}


def test_advent_presets_pin_advent_values():
    paper = TrainConfig.preset("paper", method="advent")
    w = paper.effective_weights()
    assert (w["advent_adv"], w["advent_adv_aux"], w["seg_aux"], w["adv"]) == (0.001, 0.0002, 0.1, 0.0)
    assert (paper.optim.iterations, paper.optim.schedule_iterations, paper.model.multi_level,
            paper.model.aspp_branches, paper.optim.d_lr, paper.optim.d_betas) == (120_000, 250_000, True, 4, 1e-4,
                                                                                (0.9, 0.99))
    assert paper.advent.advent_normalize is True
    cpu = TrainConfig.preset("cpu", method="advent")
    assert cpu.advent == AdvEntConfig.cpu() and cpu.effective_weights()["advent_adv"] == 0.002
    with pytest.raises(ValueError, match="advent_lambda_adv"):
        TrainConfig.preset("cpu", advent_lambda_adv=-1.0).validate()
