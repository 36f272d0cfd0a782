"""What RepeatedSGD reproduces: PyTorch 0.4's SGD on a duplicated parameter list, not today's.

A small module has one tensor listed once and one listed four times (as AdaptSegNet lists a
shortcut convolution). Three optimisers take the same three steps:

* an explicit replay of PyTorch 0.4's ``SGD.step`` over the duplicated list (one momentum buffer
  per tensor, in ``state[p]``, from its first listing on; weight decay added into ``p.grad`` in
  place, as 0.4 did);
* :class:`pfrlib.paper.optim.RepeatedSGD` with repeat counts 1 and 4;
* today's ``torch.optim.SGD`` given the duplicated list.

Then the optimiser the ``paper`` preset builds: AdaptSegNet's listing on the multi-level DeepLab
(330 listed tensors for 120 trainable ones), RepeatedSGD against an independent loop, the
``unique`` listing as plain ``torch.optim.SGD``, and one step of the paper preset with either.
"""

from __future__ import annotations

import copy
import warnings

import pytest
import torch

from pfrlib import models
from pfrlib.config.train_config import TrainConfig
from pfrlib.engine.trainer import Trainer
from pfrlib.paper.optim import RepeatedSGD, adaptsegnet_repeats, build_optimizer

LR, M = 0.1, 0.9

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _module():
    torch.manual_seed(0)
    once = torch.nn.Parameter(torch.randn(3, 4))
    four = torch.nn.Parameter(torch.randn(4, 2))
    return once, four


def _loss(once, four):
    x = torch.linspace(-1, 1, 12).reshape(4, 3)
    return ((x @ once @ four).tanh() ** 2).sum() + 0.1 * (four ** 2).sum()


def _replay_04(params, listed, wd, steps, inplace_wd=True):
    """PyTorch 0.4's ``SGD.step`` (momentum, no dampening) over ``listed`` (with duplicates)."""
    state = {}
    for _ in range(steps):
        for p in params:
            p.grad = None
        _loss(*params).backward()
        with torch.no_grad():
            for p in listed:
                d_p = p.grad
                if wd != 0:
                    if inplace_wd:
                        d_p.add_(p, alpha=wd)  # 0.4: in place, the next listing sees it again
                    else:
                        d_p = d_p.add(p, alpha=wd)
                buf = state.get(id(p))
                if buf is None:
                    buf = state[id(p)] = d_p.clone()
                else:
                    buf.mul_(M).add_(d_p)
                p.add_(buf, alpha=-LR)
    return [p.detach().clone() for p in params]


def _run(make_opt, params, steps):
    opt = make_opt(params)
    for _ in range(steps):
        opt.zero_grad()
        _loss(*params).backward()
        opt.step()
    return [p.detach().clone() for p in params]


def _repeated(params, wd):
    return RepeatedSGD([{"params": list(params), "repeats": [1, 4]}], lr=LR, momentum=M, weight_decay=wd)


def _torch_sgd(params, wd):
    once, four = params
    with warnings.catch_warnings():  # "duplicate parameters ... will cause an error in the future"
        warnings.simplefilter("ignore")
        return torch.optim.SGD([once, four, four, four, four], lr=LR, momentum=M, weight_decay=wd, foreach=False)


def _rel(a, b, start):
    return float((a - b).norm() / (b - start).norm())


@pytest.mark.parametrize("wd", [0.0, 5e-4])
def test_repeated_sgd_is_pytorch_04_sgd_on_the_duplicated_list(wd):
    start = [p.detach().clone() for p in _module()]
    p04 = _module()
    replay = _replay_04(p04, [p04[0], *[p04[1]] * 4], wd, steps=3)
    p04b = _module()
    replay_no_inplace = _replay_04(p04b, [p04b[0], *[p04b[1]] * 4], wd, steps=3, inplace_wd=False)
    repeated = _run(lambda ps: _repeated(ps, wd), _module(), steps=3)
    # 0.4's order of updates with one shared buffer: RepeatedSGD gives it exactly ...
    assert all(torch.equal(a, b) for a, b in zip(repeated, replay_no_inplace))
    # ... and 0.4's in-place weight decay on the gradient is the one (small) thing left out:
    # 1.3e-3 of the 4x tensor's displacement here (where |g| is not much larger than wd |p|)
    diff = _rel(repeated[1], replay[1], start[1])
    assert (diff == 0) if wd == 0 else (0 < diff < 1e-2)


def test_todays_torch_sgd_starts_a_buffer_per_duplicate_on_the_first_step():
    once0, four0 = (p.detach().clone() for p in _module())
    ps = _module()
    _loss(*ps).backward()
    g_four = ps[1].grad.clone()
    one_repeated = _run(lambda p: _repeated(p, 0.0), _module(), steps=1)
    one_torch = _run(lambda p: _torch_sgd(p, 0.0), _module(), steps=1)
    # first step, weight decay 0, one gradient g: 0.4 / RepeatedSGD move the 4x tensor by
    # lr g (1 + 1.9 + 2.71 + 3.439); today's SGD by 4 lr g (four fresh buffers)
    factor_04 = sum(sum(M ** j for j in range(k + 1)) for k in range(4))
    torch.testing.assert_close(four0 - one_repeated[1], LR * factor_04 * g_four, rtol=1e-5, atol=1e-7)
    torch.testing.assert_close(four0 - one_torch[1], 4 * LR * g_four, rtol=1e-5, atol=1e-7)
    assert _rel(one_torch[1], one_repeated[1], four0) == pytest.approx(1 - 4 / factor_04, rel=1e-4)  # 0.558
    # the tensor listed once is stepped alike by both
    assert torch.equal(one_torch[0], one_repeated[0]) and not torch.equal(one_torch[0], once0)
    # and the trajectories stay apart: from the second step on today's SGD shares a buffer, but
    # starts it from one listing's gradient instead of 0.4's accumulated one
    three_repeated = _run(lambda p: _repeated(p, 5e-4), _module(), steps=3)
    three_torch = _run(lambda p: _torch_sgd(p, 5e-4), _module(), steps=3)
    assert _rel(three_torch[1], three_repeated[1], four0) > 0.1


# --------------------------------------------------------------------------- AdaptSegNet's SGD listing
def test_adaptsegnet_listing_counts_on_the_multi_level_deeplab():
    net = models.build_model("deeplabv2_r101", 19, multi_level=True)
    reps = adaptsegnet_repeats(net.backbone_modules())
    names = {id(p): n for n, p in net.named_parameters()}
    by_name = {names[id(p)]: r for p, r in reps.items()}
    assert by_name["conv1.weight"] == 1
    for n, r in by_name.items():
        if n == "conv1.weight":
            continue
        expected = 4 if ".downsample." in n else 3
        assert r == expected, (n, r)
    assert sum(1 for n in by_name if ".downsample." in n) == 4
    # AdaptSegNet lists 330 tensors for the 120 trainable ones (104 backbone + 16 head tensors)
    heads = [p for m in net.head_modules() for p in m.parameters()]
    assert len(by_name) + len(heads) == 120
    assert sum(by_name.values()) + len(heads) == 330
    # branches 3-4 of each ASPP head are never summed: not trained (DDP needs every trainable
    # parameter to get a gradient), but still in the state_dict for AdaptSegNet checkpoints
    used = [p for m in net.head_modules() for p in m.parameters() if p.requires_grad]
    assert len(used) == 8 and "layer6.conv2d_list.3.weight" in net.state_dict()


def _sgd_loop(params, grads, repeats, lr, m, wd, bufs):
    """The independent reference: the SGD update applied r times in a row, one momentum buffer."""
    out = []
    for p, g, r, i in zip(params, grads, repeats, range(len(params))):
        p = p.clone()
        for _ in range(r):
            d = g + wd * p
            bufs[i] = d.clone() if bufs[i] is None else m * bufs[i] + d
            p = p - lr * bufs[i]
        out.append(p)
    return out


def test_repeated_sgd_matches_an_independent_loop_on_deeplab():
    torch.manual_seed(0)
    net = models.build_model("deeplabv2_r101", 5, multi_level=True, layers=(2, 1, 1, 1))
    cfg = TrainConfig.preset("paper").optim
    opt = build_optimizer(net, cfg)
    assert isinstance(opt, RepeatedSGD)
    backbone, heads = opt.param_groups
    assert heads["lr"] == pytest.approx(10 * backbone["lr"]) and set(heads["repeats"]) == {1}
    assert set(backbone["repeats"]) == {1, 3, 4}
    params = [p for g in opt.param_groups for p in g["params"]]
    repeats = [r for g in opt.param_groups for r in g["repeats"]]
    lrs = [g["lr"] for g in opt.param_groups for _ in g["params"]]
    bufs = [None] * len(params)
    x = torch.randn(1, 3, 33, 33)
    for _ in range(2):  # two steps: the second one reuses the momentum buffers
        before = [p.detach().clone() for p in params]
        opt.zero_grad()
        out = net(x)
        (out.logits.square().mean() + out.aux_logits.square().mean()).backward()
        grads = [p.grad.clone() for p in params]
        expected = []
        for i, (b, g, r, lr) in enumerate(zip(before, grads, repeats, lrs)):
            sub = [bufs[i]]
            expected.append(_sgd_loop([b], [g], [r], lr, cfg.momentum, cfg.weight_decay, sub)[0])
            bufs[i] = sub[0]
        opt.step()
        for p, e in zip(params, expected):
            torch.testing.assert_close(p.detach(), e, rtol=1e-6, atol=1e-9)


def test_unique_listing_is_torch_sgd_and_differs_from_adaptsegnet():
    torch.manual_seed(0)
    net_a = models.build_model("deeplabv2_r101", 5, multi_level=False, layers=(1, 1, 1, 1))
    net_u = copy.deepcopy(net_a)
    cfg = TrainConfig.preset("paper").optim
    opt_a = build_optimizer(net_a, cfg)
    opt_u = build_optimizer(net_u, TrainConfig.preset("paper", param_listing="unique").optim)
    assert type(opt_u) is torch.optim.SGD
    x = torch.randn(1, 3, 33, 33)
    for net, opt in ((net_a, opt_a), (net_u, opt_u)):
        net(x).logits.square().mean().backward()
        opt.step()
    conv = "layer1.0.conv1.weight"
    pa, pu, p0 = (dict(n.named_parameters())[conv] for n in (net_a, net_u, net_a))
    assert not torch.equal(pa, pu)
    assert torch.equal(dict(net_a.named_parameters())["layer6.conv2d_list.0.bias"],
                       dict(net_u.named_parameters())["layer6.conv2d_list.0.bias"])  # heads: once in both


@pytest.mark.parametrize("listing", ["adaptsegnet", "unique"])
def test_paper_preset_trains_with_either_listing(tmp_path, listing):
    cfg = TrainConfig.preset(
        "paper", method="pfr_adv", source="synth:source", target="synth:target", source_val="synth:source",
        target_val="synth:target", synth_size=(48, 64), source_size=(48, 64), target_size=(48, 64),
        eval_size=(48, 64), iterations=2, synth_train_length=4, synth_val_length=2, device="cpu", num_workers=0,
        model_kwargs={"layers": [1, 1, 1, 1]}, progress=False, out=str(tmp_path / listing), param_listing=listing)
    tr = Trainer(cfg, prepare_output=False)
    terms = tr.step()
    assert torch.isfinite(terms["total"])
