"""pfrlib.methods.baselines.clan: CLAN's discrepancy map, weight discrepancy, weighted adversarial loss,
preheat and damping, on hand-made tensors; its two-classifier network."""

from __future__ import annotations

import copy
import math

import pytest
import torch
import torch.nn.functional as F

from pfrlib import models
from pfrlib.methods.baselines.clan import (MAP_STATS, WEIGHTED_MARGIN, clan_discriminator_loss, clan_factors,
                                         discrepancy_map, map_statistics, weight_discrepancy_loss,
                                         weighted_adversarial_loss)
from pfrlib.models.common import ASPPClassifier
from pfrlib.models.two_classifier import TwoClassifierNet

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_clan_discrepancy_map_is_zero_where_the_classifiers_agree():
    p1 = F.softmax(torch.randn(2, 5, 3, 4), dim=1)
    p2 = p1.clone()
    p2[:, :, 0, 0] = F.one_hot(torch.tensor([0, 1]), 5).float()  # one pixel disagrees
    p1[:, :, 0, 0] = F.one_hot(torch.tensor([2, 3]), 5).float()  # ... orthogonally
    m = discrepancy_map(p1, p2)
    assert m.shape == (2, 1, 3, 4)
    assert torch.allclose(m[:, :, 0, 0], torch.ones(2, 1))  # orthogonal one-hots: distance 1
    rest = torch.ones_like(m, dtype=torch.bool)
    rest[:, :, 0, 0] = False
    assert torch.allclose(m[rest], torch.zeros(int(rest.sum())), atol=1e-6)


def test_clan_map_statistics_are_zero_where_the_classifiers_agree():
    p = F.softmax(torch.randn(2, 4, 3, 5), dim=1)
    stats = map_statistics(discrepancy_map(p, p.clone()), epsilon=0.4, lambda_local=40.0)
    assert list(stats) == list(MAP_STATS)
    assert all(v.item() == pytest.approx(0.0, abs=1e-6) for v in stats.values())


def test_clan_map_statistics_of_a_known_disagreement_match_the_hand_computed_values():
    """20 pixels, two classes: 18 agree (M = 0); one has orthogonal one-hots (M = 1); one has
    (1/2, 1/2) against (1, 0): cos = (1/2) / (1/sqrt 2) = 1/sqrt 2, M = 1 - 1/sqrt 2 = 0.2929."""
    p1 = torch.tensor([0.7, 0.3]).view(1, 2, 1, 1).repeat(1, 1, 4, 5)
    p2 = p1.clone()
    p1[0, :, 0, 0], p2[0, :, 0, 0] = torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0])
    p1[0, :, 2, 3], p2[0, :, 2, 3] = torch.tensor([0.5, 0.5]), torch.tensor([1.0, 0.0])
    half = 1.0 - 1.0 / math.sqrt(2.0)
    stats = {k: v.item() for k, v in map_statistics(discrepancy_map(p1, p2), 0.4, 40.0).items()}
    assert stats["clan_map_mean"] == pytest.approx((1.0 + half) / 20, rel=1e-5)
    assert stats["clan_map_p95"] == pytest.approx(half, rel=1e-5)  # the 19th smallest of 20 (ceil(0.95 x 20))
    # weight 40 M + 0.4 > 2 x 0.4 where M > 0.01: the two disagreeing pixels
    assert WEIGHTED_MARGIN == 2.0 and stats["clan_map_weighted"] == pytest.approx(2 / 20)
    # with lambda_local = 1 the weight doubles only where M > 0.4: the orthogonal pixel
    assert map_statistics(discrepancy_map(p1, p2), 0.4, 1.0)["clan_map_weighted"].item() == pytest.approx(1 / 20)


def test_clan_weight_discrepancy_is_one_for_identical_classifiers():
    head = ASPPClassifier(8, 5, (1, 2))
    same = copy.deepcopy(head)
    assert weight_discrepancy_loss(head, same).item() == pytest.approx(1.0, abs=1e-6)
    neg = copy.deepcopy(head)
    for p in neg.parameters():
        p.data.neg_()
    assert weight_discrepancy_loss(head, neg).item() == pytest.approx(-1.0, abs=1e-6)
    # a frozen (unused) branch does not count
    frozen = ASPPClassifier(8, 5, (1, 2), branches_used=1)
    other = copy.deepcopy(frozen)
    other.conv2d_list[1].weight.data.normal_()
    assert weight_discrepancy_loss(frozen, other).item() == pytest.approx(1.0, abs=1e-6)


def test_clan_weighted_adversarial_loss_scales_the_plain_loss_by_the_map():
    d_out = torch.randn(2, 1, 2, 2)
    plain = F.binary_cross_entropy_with_logits(d_out, torch.zeros_like(d_out))
    zeros, ones = torch.zeros(2, 1, 2, 2), torch.ones(2, 1, 2, 2)
    assert weighted_adversarial_loss(d_out, 0.0, zeros, 1.0, 0.0).item() == pytest.approx(plain.item(), rel=1e-6)
    assert weighted_adversarial_loss(d_out, 0.0, zeros, 0.4, 40.0).item() == pytest.approx(0.4 * plain.item(), rel=1e-6)
    assert weighted_adversarial_loss(d_out, 0.0, ones, 0.4, 40.0).item() == pytest.approx(40.4 * plain.item(), rel=1e-5)
    # D's small output map is upsampled to the map's size
    big = weighted_adversarial_loss(torch.zeros(1, 1, 2, 2), 1.0, torch.zeros(1, 1, 8, 8), 1.0, 0.0)
    assert big.item() == pytest.approx(math.log(2), rel=1e-6)
    d = clan_discriminator_loss(torch.zeros(1, 1, 2, 2), torch.zeros(1, 1, 2, 2), torch.ones(1, 1, 4, 4), 0.4, 40.0,
                                weighted=True)
    assert d.item() == pytest.approx(math.log(2) * (1 + 40.4), rel=1e-5)


def test_clan_preheat_and_damping_follow_its_code():
    assert clan_factors(0, 100, 0.05, True) == (False, 1.0)
    assert clan_factors(5, 100, 0.05, True)[0] is False  # CLAN: weighted once i > PREHEAT_STEPS
    assert clan_factors(6, 100, 0.05, True) == (True, pytest.approx(0.94))
    assert clan_factors(50, 100, 0.05, False) == (True, 1.0)


def test_two_classifier_net_predicts_the_sum_of_two_different_heads():
    torch.manual_seed(0)
    net = TwoClassifierNet(models.build_model("small", 5, multi_level=True, widths=(8, 8, 16, 16)))
    out = net(torch.randn(2, 3, 32, 64))
    l1, l2 = out.head_logits
    assert torch.allclose(out.logits, l1 + l2) and out.aux_logits is not None
    h1, h2 = net.classifiers()
    assert weight_discrepancy_loss(h1, h2).item() < 0.5  # initialised apart
    keys = set(net.state_dict())
    assert any(k.startswith("classifier2.") for k in keys) and any(k.startswith("base.layer1") for k in keys)
    assert len(net.param_groups(1.0)[1]["params"]) == len([p for h in net.head_modules() for p in h.parameters()])
