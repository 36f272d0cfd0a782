"""pfrlib.methods.translation.losses: each loss of the input-space methods on hand-made tensors, values derived by hand."""

from __future__ import annotations

import math

import pytest
import torch

from pfrlib.methods.translation import losses as L


def test_lsgan_terms_by_hand():
    d_real = torch.tensor([1.0, 0.0]).reshape(1, 1, 1, 2)
    d_fake = torch.tensor([0.0, 2.0]).reshape(1, 1, 1, 2)
    # 1/2 mean((1-1)^2, (0-1)^2) + 1/2 mean(0^2, 2^2) = 1/2 * 0.5 + 1/2 * 2
    assert L.lsgan_discriminator(d_real, d_fake).item() == pytest.approx(1.25)
    # mean((0-1)^2, (2-1)^2)
    assert L.lsgan_generator(d_fake).item() == pytest.approx(1.0)


def test_cycle_and_identity_are_mean_absolute_errors():
    x = torch.zeros(1, 3, 2, 2)
    rec = torch.zeros(1, 3, 2, 2)
    rec[0, 0, 0, 0] = 2.0
    rec[0, 1, 1, 1] = -1.0
    assert L.cycle_loss(x, rec).item() == pytest.approx(3.0 / 12)
    assert L.identity_loss(x, rec).item() == pytest.approx(3.0 / 12)
    assert L.dlow_cycle(x, rec).item() == pytest.approx(3.0 / 12)


def test_semantic_consistency_is_cross_entropy_with_ignore():
    logits = torch.zeros(1, 2, 1, 2)
    logits[0, 1, 0, 0] = math.log(3.0)  # pixel 0: p = (1/4, 3/4)
    labels = torch.tensor([[[1, 255]]])  # pixel 1 ignored
    assert L.semantic_consistency(logits, labels).item() == pytest.approx(math.log(4 / 3), rel=1e-6)


def test_dlow_weighting_by_z():
    ones, zeros = torch.ones(1, 1, 2, 2), torch.zeros(1, 1, 2, 2)
    d_s = torch.cat([ones, zeros])  # image 0 fools D_S (term 0), image 1 does not (term 1)
    d_t = torch.cat([zeros, ones])  # the reverse for D_T
    # mean_b[(1 - z) * term_S + z * term_T] = ((0.75 * 0 + 0.25 * 1) + (0 * 1 + 1 * 0)) / 2
    assert L.dlow_adversarial(d_s, d_t, torch.tensor([0.25, 1.0])).item() == pytest.approx(0.125)
    # z = 0: only D_S counts (the source domain); z = 1: only D_T (CycleGAN's G)
    assert L.dlow_adversarial(d_s, d_t, torch.zeros(2)).item() == pytest.approx(L.lsgan_generator(d_s).item())
    assert L.dlow_adversarial(d_s, d_t, torch.ones(2)).item() == pytest.approx(L.lsgan_generator(d_t).item())
    # discriminator: weight w_b on image b's least-squares terms; w = 1 is plain LSGAN
    w1 = L.dlow_discriminator(d_s, d_t, torch.ones(2))
    assert w1.item() == pytest.approx(L.lsgan_discriminator(d_s, d_t).item())
    # image 0: real term 0, fake term 0; image 1: real 1, fake 1 -> 1/2 * mean(0.5 * 0, 0.5 * 2)
    assert L.dlow_discriminator(d_s, d_t, torch.tensor([0.5, 0.5])).item() == pytest.approx(0.25)


def test_domainness_weight_by_hand():
    z = torch.tensor([0.0, 0.36, 1.0])
    assert L.domainness_weight(z).tolist() == pytest.approx([1.0, 0.8, 0.0])  # sqrt(1 - z), the default
    assert L.domainness_weight(z, "one_minus_z").tolist() == pytest.approx([1.0, 0.64, 0.0])
    assert L.domainness_weight(z, "none").tolist() == [1.0, 1.0, 1.0]
    with pytest.raises(ValueError, match="dlow_adv_weighting"):
        L.domainness_weight(z, "sqrt")


def test_ema_update_and_consistency():
    student, teacher = torch.nn.BatchNorm1d(1), torch.nn.BatchNorm1d(1)
    with torch.no_grad():
        teacher.weight.fill_(1.0)
        student.weight.fill_(3.0)
        student.running_mean.fill_(5.0)
    L.ema_update(teacher, student, alpha=0.9)
    assert teacher.weight.item() == pytest.approx(0.9 * 1 + 0.1 * 3)
    assert teacher.running_mean.item() == 5.0  # buffers copied
    with pytest.raises(ValueError, match="alpha"):
        L.ema_update(teacher, student, alpha=1.5)
    s = torch.zeros(1, 2, 1, 1)
    t = torch.zeros(1, 2, 1, 1)
    t[0, 1] = math.log(3.0)  # p_t = (1/4, 3/4), p_s = (1/2, 1/2)
    assert L.consistency_loss(s, t).item() == pytest.approx(0.0625)
    assert L.consistency_loss(t, t).item() == 0.0
