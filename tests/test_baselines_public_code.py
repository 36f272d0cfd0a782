"""The Table-1 baselines against their public code: one block per row (``docs/baselines.md``).

Each loss check computes the term twice on the same hand-made tensors: with ``pfrlib`` and with
an independent transcription, written here from reading the public code, of the formula as that
code computes it (the file and function are named in each test's docstring; nothing is copied).
Each row's ``paper`` preset is pinned too: the schedule, heads and ASPP branches it trains.

* CLAN: RoyalVane/CLAN (``CLAN_train.py``, ``utils/loss.py``, ``model/CLAN_G.py``).
* Curriculum DA: YangZhang4065/AdaptationSeg (``train_val_FCN_DA.py``), the authors' code, which
  is for SYNTHIA -> Cityscapes with a Keras VGG-16 FCN; its label-distribution term is checked.
* FCNs in the Wild, ROAD: no public code from the authors was found (GitHub code search, the
  domain-adaptation paper lists that give code links); only the presets are pinned.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from pfrlib import models
from pfrlib.methods.baselines.clan import CLAN
from pfrlib.methods.baselines.curriculum import Curriculum
from pfrlib.methods.baselines.clan import (clan_discriminator_loss, clan_factors, discrepancy_map,
    weight_discrepancy_loss)
from pfrlib.methods.baselines.clan import focal_segmentation_loss, weighted_adversarial_loss
from pfrlib.paper.step import BaselineInputs
from pfrlib.methods.baselines.curriculum import label_distribution_kl, sharpened_distribution
from pfrlib.config.train_config import TrainConfig
from pfrlib.models.common import ASPPClassifier
from pfrlib.paper.optim import poly_schedule
from pfrlib.engine.trainer import Trainer

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def horizon(cfg: TrainConfig) -> int:
    return cfg.optim.schedule_iterations or cfg.optim.iterations


# ============================================================================ CLAN (RoyalVane/CLAN)
def clan_code_weightmap(p1, p2):
    """``CLAN_train.py``, ``weightmap``: one minus the channel dot product over the product of the
    channel 2-norms, reshaped to 1 x 1 x H x W (the code assumes batch 1)."""
    h, w = p1.shape[2], p1.shape[3]
    return 1.0 - (p1 * p2).sum(1).view(1, 1, h, w) / (p1.norm(2, 1) * p2.norm(2, 1)).view(1, 1, h, w)


def clan_code_weighted_bce(x, t, weight, alpha, beta):
    """``utils/loss.py``, ``WeightedBCEWithLogitsLoss.weighted``: the stable BCE-with-logits
    ``x - x t + m + log(exp(-m) + exp(-x - m))`` with ``m = max(-x, 0)``, then
    ``alpha * loss + beta * loss * weight``, averaged."""
    m = (-x).clamp(min=0)
    loss = x - x * t + m + ((-m).exp() + (-x - m).exp()).log()
    return (alpha * loss + beta * loss * weight).mean()


def clan_code_bce(x, t):
    """``CLAN_train.py``: ``torch.nn.BCEWithLogitsLoss()`` (mean over elements)."""
    return torch.nn.BCEWithLogitsLoss()(x, t)


def test_clan_weight_map_matches_its_code():
    """``CLAN_train.py``, ``weightmap`` on the softmax of the two upsampled target predictions."""
    g = torch.Generator().manual_seed(0)
    p1 = F.softmax(torch.randn(1, 5, 6, 7, generator=g) * 3, dim=1)
    p2 = F.softmax(torch.randn(1, 5, 6, 7, generator=g) * 3, dim=1)
    torch.testing.assert_close(discrepancy_map(p1, p2), clan_code_weightmap(p1, p2), rtol=0, atol=1e-7)


@pytest.mark.parametrize("label", [0.0, 1.0])
def test_clan_weighted_adversarial_term_matches_its_code(label):
    """``CLAN_train.py``: ``weighted_bce_loss(interp_target(D_out), label, weight_map, Epsilon,
    Lambda_local)`` (``utils/loss.py``, ``WeightedBCEWithLogitsLoss``), D's output upsampled
    bilinearly (``align_corners=True``) to the target size first; label 0 is the generator's
    fooling term, 1 the discriminator's target half."""
    g = torch.Generator().manual_seed(1)
    d_small = torch.randn(1, 1, 3, 4, generator=g) * 2
    wmap = torch.rand(1, 1, 12, 16, generator=g)
    up = F.interpolate(d_small, size=(12, 16), mode="bilinear", align_corners=True)
    code = clan_code_weighted_bce(up, torch.full_like(up, label), wmap, 0.4, 40.0)
    ours = weighted_adversarial_loss(d_small, label, wmap, epsilon=0.4, lambda_local=40.0)
    torch.testing.assert_close(ours, code, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("weighted", [False, True])
def test_clan_discriminator_loss_matches_its_code_with_the_source_half_at_the_source_size(weighted):
    """``CLAN_train.py``, "train D": ``bce_loss(interp_source(D_out_s), 0)`` plus, after
    ``PREHEAT_STEPS``, ``weighted_bce_loss(interp_target(D_out_t), 1, weight_map, ...)`` (before it,
    the plain ``bce_loss``): source and target of different sizes, as GTA5 1280x720 and
    Cityscapes 1024x512 are. The other option (``clan_d_source_size="target"``) differs there."""
    g = torch.Generator().manual_seed(2)
    d_s, d_t = torch.randn(1, 1, 3, 5, generator=g), torch.randn(1, 1, 2, 4, generator=g)
    src, tgt = (9, 17), (7, 13)
    wmap = torch.rand(1, 1, *tgt, generator=g)
    up_s = F.interpolate(d_s, size=src, mode="bilinear", align_corners=True)
    up_t = F.interpolate(d_t, size=tgt, mode="bilinear", align_corners=True)
    code_t = (clan_code_weighted_bce(up_t, torch.ones_like(up_t), wmap, 0.4, 40.0) if weighted
              else clan_code_bce(up_t, torch.ones_like(up_t)))
    code = clan_code_bce(up_s, torch.zeros_like(up_s)) + code_t
    ours = clan_discriminator_loss(d_s, d_t, wmap, 0.4, 40.0, weighted=weighted, source_size=src)
    torch.testing.assert_close(ours, code, rtol=1e-6, atol=1e-7)
    at_target = clan_discriminator_loss(d_s, d_t, wmap, 0.4, 40.0, weighted=weighted)
    assert abs(at_target.item() - code.item()) > 1e-5  # the choice is visible at unequal sizes


def test_clan_weight_discrepancy_matches_its_code_on_two_four_branch_classifiers():
    """``CLAN_train.py``, "Weight Discrepancy Loss": every parameter of ``layer5`` and ``layer6``
    flattened and concatenated in ``parameters()`` order, ``W5 . W6 / (|W5| |W6|) + 1`` (the +1
    only keeps it positive). With all four ASPP branches summed every parameter is trained."""
    torch.manual_seed(3)
    c1, c2 = ASPPClassifier(8, 5, branches_used=4), ASPPClassifier(8, 5, branches_used=4)
    w5 = torch.cat([p.view(-1) for p in c1.parameters()])
    w6 = torch.cat([p.view(-1) for p in c2.parameters()])
    code = torch.matmul(w5, w6) / (torch.norm(w5) * torch.norm(w6)) + 1
    torch.testing.assert_close(weight_discrepancy_loss(c1, c2) + 1, code, rtol=1e-6, atol=1e-7)


def clan_code_cross_entropy_2d(predict, target, gamma=2, ignore_label=255):
    """``utils/loss.py``, ``CrossEntropy2d.forward`` (batch 1, as the code trains): softmax clamped
    to [1e-9, 1 - 1e-9], the labelled pixels' true-class probabilities gathered, the focal term
    ``-(1 - p)^gamma log p`` averaged."""
    n, c, h, w = predict.shape
    prob = torch.softmax(predict, dim=1).clamp(min=1e-9, max=1 - 1e-9)
    mask = (target >= 0) * (target != ignore_label)
    t = target[mask].view(1, -1)
    pred = prob[mask.view(n, 1, h, w).repeat(1, c, 1, 1)].view(c, -1)
    probs = torch.gather(pred, dim=0, index=t)
    return (-(torch.pow(1 - probs, gamma)) * probs.log()).mean()


@pytest.mark.parametrize("gamma", [2.0, 0.0])
def test_clan_focal_segmentation_loss_matches_its_code(gamma):
    """``utils/loss.py``, ``CrossEntropy2d`` (``loss_calc`` in ``CLAN_train.py``, gamma 2): our
    ``clan_focal_gamma`` option; gamma 0 is the plain cross-entropy the rows use by default."""
    g = torch.Generator().manual_seed(8)
    logits = torch.randn(1, 5, 6, 7, generator=g) * 3
    labels = torch.randint(0, 5, (1, 6, 7), generator=g)
    labels[0, :2, :3] = 255
    code = clan_code_cross_entropy_2d(logits, labels, gamma=gamma)
    torch.testing.assert_close(focal_segmentation_loss(logits, labels, gamma), code, rtol=1e-6, atol=1e-7)
    if gamma == 0:
        torch.testing.assert_close(F.cross_entropy(logits, labels, ignore_index=255), code, rtol=1e-5, atol=1e-6)


def test_clan_classifier_module_sums_all_four_branches():
    """``model/CLAN_G.py``, ``Classifier_Module.forward``: branch 0, then every further branch
    added in a loop that runs to the end (unlike AdaptSegNet's, which returns after branch 1)."""
    torch.manual_seed(4)
    head = ASPPClassifier(6, 3, branches_used=4)
    x = torch.randn(1, 6, 9, 9)
    code = head.conv2d_list[0](x)
    for i in range(len(head.conv2d_list) - 1):
        code = code + head.conv2d_list[i + 1](x)
    torch.testing.assert_close(head(x), code)


def test_clan_preheat_and_damping_follow_its_code_over_the_paper_preset_horizon():
    """``CLAN_train.py``: ``NUM_STEPS = NUM_STEPS_STOP = 100000``, ``PREHEAT_STEPS =
    int(NUM_STEPS_STOP/20)``, the weighted loss when ``i_iter > PREHEAT_STEPS``, ``damping = 1 -
    i_iter/NUM_STEPS``; ``lr_poly`` over ``args.num_steps`` (the same 100k)."""
    cfg = TrainConfig.preset("paper", method="clan")
    num_steps = 100_000
    preheat = int(num_steps / 20)
    assert cfg.optim.iterations == num_steps and horizon(cfg) == num_steps
    for i in (0, 1, preheat - 1, preheat, preheat + 1, 50_000, num_steps - 1):
        weighted, damping = clan_factors(i, horizon(cfg), cfg.clan.clan_preheat, cfg.clan.clan_damping)
        assert weighted == (i > preheat), i
        assert damping == pytest.approx(1 - i / num_steps, abs=1e-12), i


def test_clan_learning_rates_follow_its_warm_up_then_poly():
    """``CLAN_train.py``, ``adjust_learning_rate`` / ``adjust_learning_rate_D``: ``lr_warmup(base, i,
    PREHEAT_STEPS) = base * i / PREHEAT_STEPS`` for ``i < PREHEAT_STEPS``, then ``lr_poly(base, i,
    NUM_STEPS, 0.9) = base * (1 - i / NUM_STEPS) ** 0.9``, for the network and the discriminator."""
    cfg = TrainConfig.preset("paper", method="clan")
    num_steps, preheat, power = 100_000, 5_000, 0.9

    def code_lr(base, i):
        return base * (i / preheat) if i < preheat else base * ((1 - float(i) / num_steps) ** power)

    for which, base in (("network", cfg.optim.lr), ("discriminator", cfg.optim.d_lr)):
        opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=base)
        factor = poly_schedule(opt, cfg.optim, which).lr_lambdas[0]
        for i in (0, 1, 2500, preheat - 1, preheat, preheat + 1, 60_000, num_steps - 1):
            assert base * factor(i) == pytest.approx(code_lr(base, i), rel=1e-12, abs=1e-20), (which, i)
    # without the recipe (the ladder, the cpu preset) there is no warm-up
    plain = TrainConfig.preset("paper")
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    assert plain.optim.warmup_fraction == 0 and poly_schedule(opt, plain.optim).lr_lambdas[0](0) == 1.0


def test_clan_paper_preset_is_its_code_recipe():
    """``CLAN_train.py`` constants (``LEARNING_RATE`` 2.5e-4 with 10x on ``layer5``/``layer6``,
    ``LEARNING_RATE_D`` 1e-4 with Adam (0.9, 0.99), ``MOMENTUM``, ``WEIGHT_DECAY``, batch 1, 1280x720
    and 1024x512, ``Lambda_adv`` 0.001, ``Lambda_weight`` 0.01 x 2, ``Lambda_local`` 40, ``Epsilon``
    0.4, ``mirror=True``) and ``model/CLAN_G.py`` (two classifiers on ``layer4``, no head on
    ``layer3``; ``get_1x_lr_params_NOscale`` lists the backbone as AdaptSegNet does)."""
    cfg = TrainConfig.preset("paper", method="clan").validate(check_paths=False)
    o, m, d, c = cfg.optim, cfg.model, cfg.data, cfg.clan
    assert (o.optimizer, o.lr, o.head_lr_mult, o.momentum, o.weight_decay) == ("sgd", 2.5e-4, 10.0, 0.9, 5e-4)
    assert (o.d_lr, o.d_betas, o.param_listing) == (1e-4, (0.9, 0.99), "adaptsegnet")
    assert (d.batch_size, d.source_size, d.target_size, d.hflip) == (1, (720, 1280), (512, 1024), True)
    assert (m.arch, m.classifiers, m.multi_level, m.aspp_branches) == ("deeplabv2_r101", 2, False, 4)
    assert (c.clan_lambda_adv, c.clan_lambda_weight, c.clan_lambda_local, c.clan_epsilon) == (0.001, 0.02, 40.0, 0.4)
    assert (c.clan_preheat, c.clan_damping, c.clan_d_source_size) == (0.05, True, "source")
    assert o.warmup_fraction == 0.05  # lr_warmup over PREHEAT_STEPS = NUM_STEPS_STOP / 20
    assert c.clan_focal_gamma == 0.0  # the documented choice: the engine's CE (the code's 2 is an option)
    # the user's options still win over the method's recipe
    assert TrainConfig.preset("paper", method="clan", iterations=7, multi_level=True).optim.iterations == 7


def test_clan_paper_network_has_two_four_branch_classifiers_on_the_last_stage_and_no_auxiliary_head():
    """``model/CLAN_G.py``, ``ResNet.__init__``: ``layer5`` and ``layer6`` are both
    ``Classifier_Module(2048, [6, 12, 18, 24], ...)`` on ``layer4``; built tiny (one block a stage)."""
    cfg = TrainConfig.preset("paper", method="clan", model_kwargs={"layers": [1, 1, 1, 1]})
    net = models.build_from_config(cfg.model, load_init=False)
    heads = net.classifiers()
    assert len(heads) == 2 and net.base.layer5 is None
    for head in heads:
        assert head.branches_used == 4 and head.dilations == (6, 12, 18, 24)
        assert head.conv2d_list[0].in_channels == 2048
        assert all(p.requires_grad for p in head.parameters())
    out = net(torch.randn(1, 3, 33, 33))
    assert out.aux_logits is None
    torch.testing.assert_close(out.logits, out.head_logits[0] + out.head_logits[1])


@pytest.mark.parametrize("xs_size,xt_size", [((40, 72), (32, 64)), ((32, 57), (35, 70))])
def test_clan_step_trains_d_with_its_source_half_at_the_source_size(xs_size, xt_size):
    """The wiring of ``CLAN.network_terms``: the discriminator loss it hands the step takes D's
    source output to the source label size and the target half to the target size
    (``interp_source``, ``interp_target`` in ``CLAN_train.py``: the fixed sizes, also when the
    inputs were rescaled by ``__scale__``, the second case)."""
    torch.manual_seed(5)
    cfg = TrainConfig.preset("cpu", method="clan", model_kwargs={"widths": [8, 8, 16, 16]})
    net = models.build_from_config(cfg.model)
    clan = CLAN(net, cfg)
    d = clan.build_discriminators()
    xs, xt = torch.randn(1, 3, *xs_size), torch.randn(1, 3, *xt_size)
    ys = torch.randint(0, 19, (1, 40, 72))
    out_s, out_t = net(xs), net(xt)
    up = lambda t, size: F.interpolate(t, size=size, mode="bilinear", align_corners=True)  # noqa: E731
    inp = BaselineInputs(out_s, out_t, xs, ys, xt, up(out_s.logits, (40, 72)), up(out_t.logits, (32, 64)), d,
                         iteration=0, horizon=100)
    loss = clan.network_terms(inp).outputs["main"].loss
    d_s, d_t = torch.randn(1, 1, 2, 3), torch.randn(1, 1, 2, 3)
    up_s = F.interpolate(d_s, size=(40, 72), mode="bilinear", align_corners=True)
    up_t = F.interpolate(d_t, size=(32, 64), mode="bilinear", align_corners=True)
    code = clan_code_bce(up_s, torch.zeros_like(up_s)) + clan_code_bce(up_t, torch.ones_like(up_t))
    torch.testing.assert_close(loss(d_s, d_t), code, rtol=1e-6, atol=1e-7)


def test_clan_paper_preset_rescales_its_inputs_as_its_code_and_the_cpu_preset_does_not():
    """``dataset/gta5_dataset.py`` and ``dataset/cityscapes_dataset.py``, ``__scale__`` (both built
    with ``scale=True`` in ``CLAN_train.py``): ``r = random.random()``; 1.1 if ``r > 0.7``, 0.8 if
    ``r < 0.3``, else 1.0: the factors drawn uniformly from ``image_scales`` in that proportion."""
    scales = TrainConfig.preset("paper", method="clan").validate(check_paths=False).data.image_scales
    assert sorted(set(scales)) == [0.8, 1.0, 1.1]
    assert {f: scales.count(f) / len(scales) for f in set(scales)} == {0.8: 0.3, 1.0: 0.4, 1.1: 0.3}
    assert TrainConfig.preset("cpu", method="clan").data.image_scales is None
    assert TrainConfig.preset("paper").data.image_scales is None  # the other rows' recipe


def test_clan_paper_preset_runs_one_iteration_at_a_tiny_size_with_rescaled_inputs(tmp_path):
    """CLAN's ``paper`` recipe (DeepLab-v2 with one block a stage, four-branch heads, 33 x 65
    labels) for one iteration on SynthStreets: each input is ``int(33 f) x int(65 f)`` for ``f``
    of its factors, the losses are finite and D judges both halves at the fixed 33 x 65 (the
    source labels' size and ``target_size``), not at the rescaled inputs' sizes."""
    cfg = TrainConfig.preset("paper", method="clan", source="synth:source", target="synth:target",
                             source_size=(33, 65), target_size=(33, 65), eval_size=(33, 65), synth_size=(40, 80),
                             synth_train_length=4, synth_val_length=2, iterations=1, num_workers=0, device="cpu",
                             model_kwargs={"layers": [1, 1, 1, 1]}, out=str(tmp_path / "clan"), progress=False,
                             num_threads=1, seed=10)
    tr = Trainer(cfg, prepare_output=False)
    seen = []
    judged = []
    tr.net.register_forward_pre_hook(lambda _m, args: seen.append(tuple(args[0].shape[-2:])))
    tr.discriminators["main"].register_forward_pre_hook(lambda _m, args: judged.append(tuple(args[0].shape[-2:])))
    logs = tr.step()
    allowed = {(int(33 * f), int(65 * f)) for f in cfg.data.image_scales}
    assert len(seen) == 2 and set(seen) <= allowed and allowed == {(26, 52), (33, 65), (36, 71)}
    assert seen == [(26, 52), (36, 71)]  # seed 10 draws 0.8 (source), 1.1 (target): the check below can fail
    assert len(judged) == 3 and set(judged) == {(33, 65)}  # the fooling term, then D's two halves
    assert all(torch.isfinite(v).all() for v in logs.values())
    assert {"seg", "clan_adv", "clan_discrepancy", "d"} <= set(logs)


# ============================================================ Curriculum DA (YangZhang4065/AdaptationSeg)
def curriculum_code_layout_loss_hard(target_dist, logits):
    """``train_val_FCN_DA.py``, ``layout_loss_hard`` (Keras; ``K.epsilon()`` = 1e-7): logits
    clipped to [-30, 30], softmax over the classes, divided by the per-pixel maximum, to the power
    5, averaged over the pixels, normalised by (sum + eps); then Keras' ``categorical_crossentropy``
    (renormalise the prediction, clip it to [eps, 1 - eps], ``-sum target * log``), batch mean."""
    eps = 1e-7
    p = torch.softmax(logits.clamp(-30.0, 30.0), dim=1)
    b = (p / p.max(dim=1, keepdim=True).values) ** 5.0
    q = b.mean(dim=(2, 3))
    q = q / (q.sum(dim=1, keepdim=True) + eps)
    q = (q / q.sum(dim=1, keepdim=True)).clamp(eps, 1 - eps)
    return (-(target_dist * q.log()).sum(dim=1)).mean()


def test_curriculum_label_distribution_term_matches_the_authors_code_up_to_the_estimates_entropy():
    """``train_val_FCN_DA.py``, ``layout_loss_hard``: our KL to the sharpened prediction is its
    cross-entropy minus the estimate's entropy (a constant for the network): equal values after
    adding it back, equal gradients with respect to the logits."""
    g = torch.Generator().manual_seed(6)
    est = torch.softmax(torch.randn(2, 6, generator=g), dim=1)
    logits = (torch.randn(2, 6, 5, 7, generator=g) * 3).requires_grad_(True)
    ours = label_distribution_kl(est, sharpened_distribution(logits))
    code = curriculum_code_layout_loss_hard(est, logits)
    entropy = -(est * est.log()).sum(dim=1).mean()
    torch.testing.assert_close(ours + entropy, code, rtol=1e-5, atol=1e-6)
    (g_ours,) = torch.autograd.grad(ours, logits)
    (g_code,) = torch.autograd.grad(code, logits)
    torch.testing.assert_close(g_ours, g_code, rtol=1e-4, atol=1e-7)


def test_curriculum_paper_preset_uses_the_codes_term_weight_and_single_classifier():
    """``train_val_FCN_DA.py``: ``loss_weights={'output': 1., 'output_2': 0.1}`` (the layout loss at
    0.1); one output head (``FCN_da.py``'s VGG-16 FCN has no auxiliary classifier). Its schedule
    (SGD 1e-5, 4 + 4 images at 320x640, SYNTHIA) belongs to that FCN: the engine's stays."""
    cfg = TrainConfig.preset("paper", method="curriculum").validate(check_paths=False)
    assert cfg.effective_weights()["curriculum_kl"] == 0.1
    assert (cfg.curriculum.curriculum_prediction, cfg.model.multi_level, cfg.model.aspp_branches) == \
        ("sharpened", False, None)
    assert (cfg.optim.iterations, horizon(cfg)) == (150_000, 250_000)
    # the Curriculum module reads the option: the sharpened prediction enters its term
    torch.manual_seed(7)
    cpu = TrainConfig.preset("cpu", method="curriculum", curriculum_prediction="sharpened",
                             model_kwargs={"widths": [8, 8, 16, 16]})
    assert Curriculum(models.build_from_config(cpu.model), cpu).prediction == "sharpened"
    assert TrainConfig.preset("cpu", method="curriculum").curriculum.curriculum_prediction == "mean"


# ===================================================== FCNs in the Wild, ROAD: no public code found
@pytest.mark.parametrize("method", ["fcn_wild", "road"])
def test_rows_without_public_code_keep_the_engine_recipe_with_one_classifier(method):
    """No public code of FCNs in the Wild (Hoffman et al., 2016) or ROAD (Chen, Li, Van Gool,
    2018) was found; their papers' networks have one classifier and no auxiliary head, so the
    ``paper`` preset drops AdaptSegNet's and keeps the rest of its recipe (``docs/baselines.md``)."""
    cfg = TrainConfig.preset("paper", method=method).validate(check_paths=False)
    base = TrainConfig.preset("paper")
    assert (cfg.model.multi_level, cfg.model.classifiers, cfg.model.aspp_branches) == (False, 1, None)
    assert (cfg.optim, cfg.data) == (base.optim, base.data)


def test_aspp_branches_has_one_place_to_be_set():
    """``--aspp-branches`` is its own field: giving it in ``model_kwargs`` as well is refused,
    naming the field; unset, DeepLab-v2 keeps AdaptSegNet's two branches."""
    cfg = TrainConfig.preset("paper", method="clan", model_kwargs={"layers": [1, 1, 1, 1], "aspp_branches": 2})
    with pytest.raises(ValueError, match="aspp_branches"):
        models.build_from_config(cfg.model, load_init=False)
    plain = TrainConfig.preset("paper", model_kwargs={"layers": [1, 1, 1, 1]})
    assert models.build_from_config(plain.model, load_init=False).layer6.branches_used == 2
