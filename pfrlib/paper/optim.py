"""Optimisers and the poly learning-rate schedule of AdaptSegNet, which the paper follows.

The paper states no optimiser settings: it adopts AdaptSegNet's setting (Sec. 3.1, "the same
setting as the method in [10]"), whose training script uses SGD with momentum 0.9 and weight
decay 5e-4 at 2.5e-4 (10x on the heads), the poly schedule ``(1 - it / 250k) ** 0.9`` stopped at
150k iterations, and Adam for the discriminators (values in ``OptimConfig`` and the presets).

* :func:`build_optimizer` - SGD (or Adam) over the segmentation network: the backbone at ``lr``,
  the classifier heads at ``head_lr_mult * lr`` (AdaptSegNet's ``optim_parameters``).
* :func:`build_discriminator_optimizer` - Adam for an output-space discriminator.
* :func:`poly_factor` / :func:`poly_schedule` - ``lr_t = lr * (1 - t / T) ** power``, set from
  the closed form each iteration (``LambdaLR``) as AdaptSegNet does.
* :func:`adaptsegnet_repeats` and :class:`RepeatedSGD` - AdaptSegNet's SGD update as its code
  runs it: its nested ``modules()`` / ``parameters()`` loop lists a backbone tensor once per
  enclosing module (3x bottleneck convs, 4x shortcut convs), and PyTorch 0.4's SGD stepped each
  listing with one shared momentum buffer per tensor (``OptimConfig.param_listing``).

Why the listing is reproduced, how PyTorch 0.4's SGD differs from today's given a duplicated
list, and why ``LambdaLR`` rather than ``PolynomialLR``: docs/choices.md, "The optimiser:
AdaptSegNet's parameter listing and PyTorch 0.4's SGD".
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Iterable

import torch
from torch import Tensor, nn

__all__ = [
    "OPTIMIZERS",
    "SCHEDULES",
    "PARAM_LISTINGS",
    "adaptsegnet_repeats",
    "RepeatedSGD",
    "build_optimizer",
    "build_discriminator_optimizer",
    "poly_factor",
    "poly_schedule",
]

#: ``OptimConfig.optimizer`` values (:func:`build_optimizer`).
OPTIMIZERS: tuple[str, ...] = ("sgd", "adam")
#: ``OptimConfig.schedule`` / ``d_schedule`` values (:func:`poly_schedule`).
SCHEDULES: tuple[str, ...] = ("poly", "constant")
#: ``OptimConfig.param_listing`` values.
PARAM_LISTINGS: tuple[str, ...] = ("adaptsegnet", "unique")


def adaptsegnet_repeats(modules: Iterable[nn.Module]) -> dict[Tensor, int]:
    """How many times AdaptSegNet's nested ``modules()`` / ``parameters()`` loop lists each tensor.

    Args:
        modules: the walked modules in order (e.g. ``model.backbone_modules()``).

    Returns:
        ``{parameter: count}`` for the parameters with ``requires_grad``, in first-listed order.
        For DeepLab-v2: 1 for ``conv1``, 3 for a bottleneck conv, 4 for a shortcut conv.
    """
    counts: Counter = Counter()
    order: dict[int, Tensor] = {}
    for module in modules:
        for sub in module.modules():
            for p in sub.parameters():
                if p.requires_grad:
                    counts[id(p)] += 1
                    order.setdefault(id(p), p)
    return {p: counts[i] for i, p in order.items()}


class RepeatedSGD(torch.optim.Optimizer):
    """SGD with momentum and weight decay where a parameter may be stepped ``r`` times per step.

    Param groups are ordinary groups plus a ``repeats`` list (one positive int per parameter,
    default 1). Each :meth:`step` applies, to every parameter with a gradient, ``r`` sequential
    SGD updates (PyTorch's formula, no dampening, no Nesterov) sharing one momentum buffer from
    the first of them on: PyTorch 0.4's ``SGD`` given the tensor listed ``r`` times (what
    AdaptSegNet ran), apart from 0.4's in-place weight decay on the gradient. It is *not* what
    today's ``torch.optim.SGD`` does with a duplicated list (a fresh buffer per duplicate on the
    first step; see docs/choices.md). With every ``r = 1`` it is ``torch.optim.SGD``'s update.
    Tensors are updated with the multi-tensor ``torch._foreach_*`` ops, one batch per repeat
    index over distinct tensors, so there is never an aliased entry in a kernel's list.
    """

    def __init__(self, params: Iterable[Any], lr: float, momentum: float = 0.0, weight_decay: float = 0.0) -> None:
        if not lr > 0:
            raise ValueError(f"lr must be > 0, got {lr}")
        super().__init__(params, dict(lr=lr, momentum=momentum, weight_decay=weight_decay))
        for group in self.param_groups:
            reps = group.setdefault("repeats", [1] * len(group["params"]))
            if len(reps) != len(group["params"]) or any(int(r) < 1 for r in reps):
                raise ValueError("repeats: expected one positive count per parameter of the group")

    @torch.no_grad()
    def step(self, closure=None):  # noqa: D102 (torch.optim.Optimizer.step)
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            lr, m, wd = group["lr"], group["momentum"], group["weight_decay"]
            live = [(p, int(r)) for p, r in zip(group["params"], group["repeats"]) if p.grad is not None]
            for k in range(max((r for _, r in live), default=0)):
                params = [p for p, r in live if r > k]
                grads = [p.grad for p in params]
                if wd != 0:
                    d = torch._foreach_add(grads, params, alpha=wd)
                else:
                    d = [g.clone() for g in grads]
                if m != 0:
                    bufs = []
                    for p, dp in zip(params, d):
                        state = self.state[p]
                        buf = state.get("momentum_buffer")
                        if buf is None:
                            buf = state["momentum_buffer"] = dp.clone()
                        else:
                            buf.mul_(m).add_(dp)
                        bufs.append(buf)
                    d = bufs
                torch._foreach_add_(params, d, alpha=-lr)
        return loss


def build_optimizer(model: nn.Module, optim_cfg: Any) -> torch.optim.Optimizer:
    """The segmentation network's optimiser from an :class:`pfrlib.config.OptimConfig`.

    Two groups: ``model.backbone_modules()`` at ``lr`` and ``model.head_modules()`` at
    ``head_lr_mult * lr``, only parameters with ``requires_grad`` (frozen BN parameters and unused
    ASPP branches are left out: no update, no weight decay). ``optimizer="sgd"`` with
    ``param_listing="adaptsegnet"`` gives :class:`RepeatedSGD` with AdaptSegNet's repeat counts
    on the backbone (see docs/choices.md); ``"unique"`` gives ``torch.optim.SGD``.
    ``optimizer="adam"`` ignores ``param_listing`` (the ``cpu`` preset).
    """
    o = optim_cfg
    groups = model.param_groups(o.lr, head_lr_mult=o.head_lr_mult)
    if o.optimizer == "adam":
        return torch.optim.Adam(groups, lr=o.lr, betas=tuple(o.betas), weight_decay=o.weight_decay)
    if o.optimizer != "sgd":
        raise ValueError(f"optimizer: unknown value {o.optimizer!r}; expected one of {OPTIMIZERS}")
    if o.param_listing == "unique":
        return torch.optim.SGD(groups, lr=o.lr, momentum=o.momentum, weight_decay=o.weight_decay)
    if o.param_listing != "adaptsegnet":
        raise ValueError(f"param_listing: unknown value {o.param_listing!r}; expected one of {PARAM_LISTINGS}")
    repeats = adaptsegnet_repeats(model.backbone_modules())
    for g in groups:
        g["repeats"] = [repeats.get(p, 1) for p in g["params"]]
    return RepeatedSGD(groups, lr=o.lr, momentum=o.momentum, weight_decay=o.weight_decay)


def build_discriminator_optimizer(discriminator: nn.Module, optim_cfg: Any) -> torch.optim.Optimizer:
    """Adam for an output-space discriminator (AdaptSegNet: lr 1e-4, betas (0.9, 0.99))."""
    return torch.optim.Adam(discriminator.parameters(), lr=optim_cfg.d_lr, betas=tuple(optim_cfg.d_betas))


def poly_factor(iteration: int, max_iterations: int, power: float) -> float:
    """AdaptSegNet's ``lr_poly`` factor: ``(1 - it / max_it) ** power`` (``it`` capped at ``max_it``)."""
    return (1.0 - min(iteration, max_iterations) / max_iterations) ** power


def poly_schedule(optimizer: torch.optim.Optimizer, optim_cfg: Any, which: str = "network"
                  ) -> torch.optim.lr_scheduler.LambdaLR:
    """The learning-rate schedule of the network (``which="network"``: ``schedule``) or of a
    discriminator (``"discriminator"``: ``d_schedule``): poly over ``schedule_iterations`` (or
    ``iterations``), or constant. With ``warmup_fraction > 0`` the factor is ``it / W`` for
    ``it < W = int(warmup_fraction * horizon)`` first (CLAN's ``lr_warmup`` over its
    ``PREHEAT_STEPS``, then its ``lr_poly`` at ``it``; on both schedules)."""
    o = optim_cfg
    horizon = o.schedule_iterations or o.iterations
    kind = o.schedule if which == "network" else o.d_schedule
    power = o.power
    warmup = int(getattr(o, "warmup_fraction", 0.0) * horizon)
    if kind == "poly":
        base = lambda it: poly_factor(it, horizon, power)  # noqa: E731
    else:
        base = lambda it: 1.0  # noqa: E731
    if warmup > 0:
        return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda it: it / warmup if it < warmup else base(it))
    return torch.optim.lr_scheduler.LambdaLR(optimizer, base)
