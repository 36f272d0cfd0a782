"""pfrlib.methods.baselines: the four Table-1 baselines (CLAN, FCNs in the Wild, ROAD, Curriculum DA).

Loss terms on hand-made tensors, then each method as a run: a few iterations, bit-exact resume,
its checkpoint, the bad-input errors. (Label blindness and the 2-process torchrun runs of every
baseline are in tests/test_train.py, next to the ladder's.)
"""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from pfrlib import models
from pfrlib import methods
from pfrlib.methods.baselines.clan import CLAN
from pfrlib.methods.baselines.road import ROAD
from pfrlib.paper.step import Baseline
from pfrlib.methods.baselines.common import label_distribution, predicted_distribution
from pfrlib.methods.baselines.curriculum import Curriculum
from pfrlib.methods.baselines.fcn_wild import FCNWild
from pfrlib.methods.baselines.clan import (clan_discriminator_loss, clan_factors, discrepancy_map,
    weight_discrepancy_loss, weighted_adversarial_loss)
from pfrlib.methods.baselines.curriculum import LabelDistributionEstimator, estimator_loss, label_distribution_kl
from pfrlib.methods.baselines.fcn_wild import FeatureDiscriminator, class_size_bounds, class_size_constraint_loss
from pfrlib.methods.baselines.road import RegionDiscriminators, distillation_loss, load_reference, region_index
from pfrlib.config import ALL_METHODS, BASELINE_METHODS, METHODS
from pfrlib.config.train_config import TrainConfig
from pfrlib.engine.trainer import Trainer
from pfrlib.engine.run import train
from pfrlib.train import main
from pfrlib.models.common import ASPPClassifier
from pfrlib.models.two_classifier import TwoClassifierNet

TINY = dict(
    synth_size=(32, 64), synth_train_length=8, synth_val_length=4, batch_size=2,
    iterations=6, log_every=2, checkpoint_every=3, val_every=0, progress=False,
    model_kwargs={"widths": [8, 8, 16, 16]}, num_threads=1,
)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def tiny(tmp_path: Path, name: str, **overrides) -> TrainConfig:
    return TrainConfig.preset("cpu", **{**TINY, "out": str(tmp_path / name), **overrides})


# --------------------------------------------------------------------------- shared pieces
def test_label_distribution_counts_labelled_pixels_only():
    labels = torch.tensor([[[0, 0, 1, 255], [2, 2, 2, 255]]], dtype=torch.uint8)  # 1 x 2 x 4
    p = label_distribution(labels, 4)
    assert torch.allclose(p, torch.tensor([[2 / 6, 1 / 6, 3 / 6, 0.0]]))
    assert torch.equal(label_distribution(torch.full((1, 2, 2), 255), 3), torch.zeros(1, 3))


def test_predicted_distribution_is_the_mean_softmax():
    logits = torch.zeros(2, 3, 4, 4)
    logits[0, 1] = 100.0  # image 0: all class 1
    p = predicted_distribution(logits)
    assert torch.allclose(p[0], torch.tensor([0.0, 1.0, 0.0]), atol=1e-6)
    assert torch.allclose(p[1], torch.full((3,), 1 / 3))


# --------------------------------------------------------------------------- CLAN
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


# --------------------------------------------------------------------------- FCNs in the Wild
def test_fcn_wild_bounds_come_from_the_images_that_contain_the_class():
    sizes = torch.tensor([[0.5, 0.5, 0.0], [0.1, 0.9, 0.0], [0.3, 0.0, 0.7]])
    lo, hi = class_size_bounds(sizes, 0.0, 1.0)
    assert torch.allclose(lo, torch.tensor([0.1, 0.5, 0.7])) and torch.allclose(hi, torch.tensor([0.5, 0.9, 0.7]))
    lo, hi = class_size_bounds(torch.zeros(4, 2), 0.1, 0.9)
    assert torch.equal(lo, torch.zeros(2)) and torch.equal(hi, torch.zeros(2))  # never seen: (0, 0)


def test_fcn_wild_constraint_is_zero_inside_the_bounds_and_a_hinge_outside():
    alpha, beta = torch.tensor([0.2, 0.1]), torch.tensor([0.6, 0.3])
    present = torch.ones(1, 2, dtype=torch.bool)
    inside = torch.tensor([[0.5, 0.2]])
    assert class_size_constraint_loss(inside, alpha, beta, present).item() == 0.0
    outside = torch.tensor([[0.1, 0.5]], requires_grad=True)  # 0.1 below, 0.2 above
    loss = class_size_constraint_loss(outside, alpha, beta, present)
    assert loss.item() == pytest.approx(0.1 + 0.2)
    loss.backward()
    assert torch.equal(outside.grad, torch.tensor([[-1.0, 1.0]]))  # pushes both back inside
    absent = torch.tensor([[True, False]])
    assert class_size_constraint_loss(outside.detach(), alpha, beta, absent).item() == pytest.approx(0.1)


def test_feature_discriminator_keeps_the_resolution():
    d = FeatureDiscriminator(16, ndf=8)
    assert d(torch.randn(2, 16, 8, 16)).shape == (2, 1, 8, 16)
    with pytest.raises(ValueError, match="f:"):
        d(torch.randn(2, 15, 8, 16))


# --------------------------------------------------------------------------- ROAD
def test_road_regions_tile_the_map():
    idx = region_index(4, 6, 2)
    assert idx.tolist() == [[0, 0, 0, 1, 1, 1], [0, 0, 0, 1, 1, 1], [2, 2, 2, 3, 3, 3], [2, 2, 2, 3, 3, 3]]
    assert set(region_index(8, 16, 3).unique().tolist()) == set(range(9))


def test_road_each_region_is_judged_by_its_own_discriminator():
    torch.manual_seed(0)
    d = RegionDiscriminators(4, grid=2, hidden=3)
    f = torch.randn(1, 4, 4, 4)
    before = d(f)
    with torch.no_grad():
        d.classifier.weight[0].add_(1.0)  # region 0's classifier only (groups: 3 hidden units each)
        d.classifier.bias[0].add_(1.0)
    after = d(f)
    changed = (after != before)[0, 0]
    region0 = region_index(4, 4, 2) == 0
    assert changed[region0].all() and not changed[~region0].any()


def test_road_distillation_is_half_the_mean_squared_difference():
    f = torch.randn(2, 3, 4, 4)
    assert distillation_loss(f, f).item() == 0.0
    assert distillation_loss(f + 2.0, f).item() == pytest.approx(2.0)


def test_road_reference_is_frozen_and_can_be_loaded(tmp_path):
    net = models.build_model("small", 5, multi_level=False, widths=(8, 8, 16, 16))
    ref = load_reference(net, None)
    assert not any(p.requires_grad for p in ref.parameters()) and not ref.training
    with torch.no_grad():
        for p in net.parameters():
            p.add_(1.0)
    torch.save({"model": net.state_dict()}, tmp_path / "ckpt.pt")
    loaded = load_reference(net, str(tmp_path / "ckpt.pt"))
    assert all(torch.equal(a, b) for a, b in zip(loaded.state_dict().values(), net.state_dict().values()))
    assert not torch.equal(ref.state_dict()["stem.0.weight"], net.state_dict()["stem.0.weight"])
    other = models.build_model("small", 5, multi_level=False, widths=(8, 8, 16, 32))
    torch.save({"model": other.state_dict()}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="road_reference"):
        load_reference(net, str(tmp_path / "other.pt"))


# --------------------------------------------------------------------------- Curriculum
def test_curriculum_kl_is_zero_when_the_prediction_matches_the_estimate():
    p = torch.tensor([[0.5, 0.5, 0.0], [0.2, 0.3, 0.5]])
    assert label_distribution_kl(p, p).item() == pytest.approx(0.0, abs=1e-6)
    q = torch.tensor([[0.25, 0.25, 0.5], [0.2, 0.3, 0.5]])
    expected = 0.5 * (0.5 * math.log(2) * 2)  # image 0: 2 x 0.5 log(0.5 / 0.25); image 1: 0; batch mean
    assert label_distribution_kl(p, q).item() == pytest.approx(expected, rel=1e-5)
    assert estimator_loss(p.clamp_min(1e-12).log(), p).item() == pytest.approx(0.0, abs=1e-6)


def test_curriculum_estimator_outputs_a_distribution():
    est = LabelDistributionEstimator(16, 5)
    q = est(torch.randn(3, 16, 4, 8)).exp()
    assert q.shape == (3, 5) and torch.allclose(q.sum(1), torch.ones(3))


# --------------------------------------------------------------------------- configuration
def test_every_baseline_is_a_method_with_its_terms():
    classes = {m: methods.get(m).baseline for m in BASELINE_METHODS}
    assert classes == {"clan": CLAN, "fcn_wild": FCNWild, "road": ROAD, "curriculum": Curriculum}
    assert all(issubclass(c, Baseline) for c in classes.values())
    assert all(methods.get(m).baseline is None for m in METHODS)
    assert set(ALL_METHODS) == set(METHODS) | set(BASELINE_METHODS)
    assert not set(BASELINE_METHODS) & set(METHODS)  # METHODS stays the ladder of Eq. (6)
    expected = {"clan": {"clan_adv", "clan_discrepancy"}, "fcn_wild": {"fcn_adv", "fcn_constraint"},
                "road": {"road_adv", "road_distill"}, "curriculum": {"curriculum_kl", "curriculum_estimator"}}
    for preset in ("cpu", "paper"):
        for m in BASELINE_METHODS:
            cfg = TrainConfig.preset(preset, method=m)
            w = cfg.effective_weights()
            assert expected[m] <= set(w) and w["adv"] == 0 and w["pfr"] == 0
            assert cfg.model.classifiers == (2 if m == "clan" else 1)
    paper = TrainConfig.preset("paper", method="clan").clan
    assert (paper.clan_lambda_adv, paper.clan_lambda_local, paper.clan_epsilon) == (0.001, 40.0, 0.4)
    # a config file (explicit classifiers) keeps its value; the method decides otherwise
    cfg = TrainConfig.preset("cpu", method="clan")
    assert TrainConfig.from_dict(cfg.to_dict()).model.classifiers == 2
    assert cfg.replace(method="pfr").model.classifiers == 1


@pytest.mark.parametrize("preset", ["cpu", "paper"])
def test_a_config_saved_before_the_baselines_still_equals_its_preset(preset):
    """A config.json without the baseline sections (written before they existed) reads back as
    the same configuration: missing fields take its preset's values, so finished runs are reused."""
    cfg = TrainConfig.preset(preset, method="pfr_adv", seed=3)
    old = cfg.to_dict()
    for section in ("clan", "fcn_wild", "road", "curriculum"):
        del old[section]
    del old["model"]["classifiers"]
    assert TrainConfig.from_dict(old) == cfg


@pytest.mark.parametrize("args,field", [
    (["--method", "clan", "--clan-lambda-local", "-1"], "clan_lambda_local"),
    (["--method", "clan", "--clan-preheat", "2"], "clan_preheat"),
    (["--method", "clan", "--clan-d-source-size", "middle"], "clan_d_source_size"),
    (["--method", "clan", "--clan-focal-gamma", "-1"], "clan_focal_gamma"),
    (["--method", "clan", "--warmup-fraction", "1.5"], "warmup_fraction"),
    (["--method", "curriculum", "--curriculum-prediction", "hard"], "curriculum_prediction"),
    (["--method", "clan", "--aspp-branches", "4"], "aspp_branches"),
    (["--method", "clan", "--classifiers", "1"], "classifiers"),
    (["--method", "pfr", "--classifiers", "2"], "classifiers"),
    (["--method", "fcn_wild", "--fcn-lower-quantile", "0.9", "--fcn-upper-quantile", "0.1"], "fcn_lower_quantile"),
    (["--method", "fcn_wild", "--fcn-stat-images", "0"], "fcn_stat_images"),
    (["--method", "fcn_wild", "--fcn-lambda-constraint", "nan"], "fcn_lambda_constraint"),
    (["--method", "road", "--road-grid", "0"], "road_grid"),
    (["--method", "road", "--road-reference", "/nonexistent/ref.pt"], "road_reference"),
    (["--method", "road", "--road-lambda-distill", "-0.1"], "road_lambda_distill"),
    (["--method", "curriculum", "--curriculum-start", "-1"], "curriculum_start"),
    (["--method", "curriculum", "--curriculum-lambda", "inf"], "curriculum_lambda"),
])
def test_bad_baseline_hyperparameters_are_rejected_naming_the_field(tmp_path, capsys, args, field):
    out = tmp_path / "bad"
    assert main(["--preset", "cpu", "--out", str(out), "--no-progress", *args]) == 2
    assert field in capsys.readouterr().err
    assert not (out / "metrics.jsonl").exists()


# --------------------------------------------------------------------------- runs
@pytest.mark.parametrize("method", BASELINE_METHODS)
def test_each_baseline_trains_and_its_checkpoint_evaluates(tmp_path, method):
    from pfrlib.engine.checkpoint import load_model

    result = train(tiny(tmp_path, method, method=method, multi_level=True))
    final = result.final
    assert final["method"] == method and final["iterations"] == 6
    assert 0.0 <= final["target_miou"] <= 1.0
    recs = [json.loads(line) for line in (result.out / "metrics.jsonl").read_text().splitlines()]
    terms = {k for k, v in result.config.effective_weights().items() if v > 0} - {"seg_aux"}
    assert all(math.isfinite(recs[-1][t]) for t in terms | {"seg", "seg_aux", "total"})
    ckpt = torch.load(result.out / "checkpoint_last.pt", map_location="cpu", weights_only=True)
    trainer_keys = {"clan": {"main"}, "fcn_wild": {"feature"}, "road": {"regions"}, "curriculum": set()}[method]
    assert set(ckpt["discriminators"]) == trainer_keys
    if method in ("road", "curriculum", "fcn_wild"):
        assert ckpt["baseline"]  # reference network / estimator / class-size bounds
    # the checkpoint loads as an ordinary segmentation network (CLAN: the two heads' sum)
    model, _ = load_model(result.out / "checkpoint_last.pt")
    x = torch.randn(1, 3, 32, 64)
    with torch.no_grad():
        out = model(x)
    assert out.logits.shape[1] == 19
    if method == "clan":
        assert torch.allclose(out.logits, out.head_logits[0] + out.head_logits[1])


class _Interrupt(Exception):
    pass


@pytest.mark.parametrize("method", BASELINE_METHODS)
def test_each_baseline_resumes_bit_exactly(tmp_path, method, monkeypatch):
    """Stop a run after its iteration-3 checkpoint, resume it, compare with an uninterrupted run
    (every weight, discriminator, the baseline's own state, and the logged losses)."""
    cfg = dict(method=method, hflip=True, iterations=6, checkpoint_every=3, log_every=1,
               curriculum_start=2, clan_preheat=0.3)
    whole = train(tiny(tmp_path, "whole", **cfg))

    real_step = Trainer.step

    def step_then_stop(self):
        if self.iteration == 4:
            raise _Interrupt
        return real_step(self)

    monkeypatch.setattr(Trainer, "step", step_then_stop)
    with pytest.raises(_Interrupt):
        train(tiny(tmp_path, "cut", **cfg))
    monkeypatch.setattr(Trainer, "step", real_step)
    cut = tmp_path / "cut"
    assert torch.load(cut / "checkpoint_last.pt", map_location="cpu", weights_only=True)["iteration"] == 3
    train(tiny(tmp_path, "cut", resume=True, **cfg))
    a = torch.load(whole.out / "checkpoint_last.pt", map_location="cpu", weights_only=True)
    b = torch.load(cut / "checkpoint_last.pt", map_location="cpu", weights_only=True)
    for part in ("model", "baseline"):
        assert a[part].keys() == b[part].keys()
        assert all(torch.equal(a[part][k], b[part][k]) for k in a[part]), part
    for k in a["discriminators"]:
        assert all(torch.equal(v, b["discriminators"][k][n]) for n, v in a["discriminators"][k].items())
    strip = lambda p: [{k: v for k, v in json.loads(l).items() if k != "time"} for l in p.read_text().splitlines()]  # noqa: E731
    assert strip(whole.out / "metrics.jsonl") == strip(cut / "metrics.jsonl")


def test_curriculum_estimator_is_trained_with_the_network(tmp_path):
    tr = Trainer(tiny(tmp_path, "c", method="curriculum"), prepare_output=False)
    before = tr.baseline.estimator.linear.weight.detach().clone()
    assert len(tr.opt.param_groups) == 3  # backbone, heads, the estimator
    tr.step()
    assert not torch.equal(before, tr.baseline.estimator.linear.weight)


def test_road_reference_stays_fixed_while_the_network_trains(tmp_path):
    tr = Trainer(tiny(tmp_path, "r", method="road"), prepare_output=False)
    ref0 = {k: v.clone() for k, v in tr.baseline.reference.state_dict().items()}
    assert all(torch.equal(ref0[k], v) for k, v in tr.model.state_dict().items())  # the initial weights
    for _ in range(2):
        tr.step()
    assert all(torch.equal(ref0[k], v) for k, v in tr.baseline.reference.state_dict().items())
    assert not all(torch.equal(ref0[k], v) for k, v in tr.model.state_dict().items())
