"""What RepeatedSGD reproduces: PyTorch 0.4's SGD on a duplicated parameter list, not today's.

A small module has one tensor listed once and one listed four times (as AdaptSegNet lists a
shortcut convolution). Three optimisers take the same three steps:

* an explicit replay of PyTorch 0.4's ``SGD.step`` over the duplicated list (one momentum buffer
  per tensor, in ``state[p]``, from its first listing on; weight decay added into ``p.grad`` in
  place, as 0.4 did);
* :class:`pfrlib.paper.optim.RepeatedSGD` with repeat counts 1 and 4;
* today's ``torch.optim.SGD`` given the duplicated list.
"""

from __future__ import annotations

import warnings

import pytest
import torch

from pfrlib.paper.optim import RepeatedSGD

LR, M = 0.1, 0.9


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
