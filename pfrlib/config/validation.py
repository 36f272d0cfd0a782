"""Validation of a training configuration: bad values are rejected before any work starts.

Every error is one line naming the field and what was expected. Fields with a closed set of
values are checked against their choices (:func:`pfrlib.config.fields.choices`); the Table-1
baselines' sections validate themselves (``CLANConfig.validate``, ...).
"""

from __future__ import annotations

import math
from dataclasses import fields
from pathlib import Path

from pfrlib import methods
from pfrlib.data.spec import parse_spec
from pfrlib.data.synthstreets.dataset import SHIFT_TYPES
from pfrlib.config.device import check_device_name
from pfrlib.paper.losses import PFR_STAGES
from pfrlib.config.fields import field_choices, one_of
from pfrlib.io import check_writable_folder

__all__ = ["validate", "pfr_stages_problem"]


def pfr_stages_problem(stages) -> str | None:
    """Why ``stages`` cannot be a ``pfr_stages`` value (``None`` when it can): it must be a
    non-empty list or tuple of stages out of :data:`pfrlib.paper.losses.PFR_STAGES` (a notebook's
    parameter of stage subsets is checked with it too)."""
    if (not isinstance(stages, (list, tuple)) or not stages
            or any(isinstance(s, bool) or s not in PFR_STAGES for s in stages)):
        return f"must be a non-empty subset of {PFR_STAGES}, got {stages!r}"
    return None


def validate(cfg, check_paths: bool = True) -> None:
    """Check the five core sections of ``cfg`` (a :class:`~pfrlib.config.TrainConfig`).

    Checks the choices (method, architecture, optimiser/schedule/loss names), dataset kinds and
    (if ``check_paths``) that dataset roots and the init file exist, non-negative lambdas and
    weights, positive sizes and counts, and that the network has the classifiers the method
    trains. Model-vs-data checks (class counts) happen in :mod:`pfrlib.train` once the datasets
    are built.
    """
    d, m, o, l, r = cfg.data, cfg.model, cfg.optim, cfg.loss, cfg.run
    for section in (d, m, o, l, r):  # fields with a closed set of values (method, arch, gan, ...)
        for f in fields(section):
            allowed = field_choices(f)
            if allowed is not None and not isinstance(getattr(section, f.name), tuple):
                one_of(f.name, getattr(section, f.name), allowed)
    for name in ("source", "target", "source_val", "target_val", "target_test"):
        spec = getattr(d, name)
        if spec is None:
            continue
        kind, root, split = parse_spec(spec, field_name=name)
        if name == "target_test" and kind == "cityscapes" and split in (None, "test"):
            raise ValueError(f"target_test: {spec!r} is Cityscapes' test split, whose labels are not public (its "
                             f"benchmark server scores test predictions); pass --target-test none (no test "
                             f"scoring) or a labelled set of the target domain that target_val does not use, "
                             f"e.g. folder:/path")
        if check_paths and kind != "synth" and not Path(root).exists():
            raise FileNotFoundError(
                f"{name}: dataset root {root!r} (from spec {spec!r}) does not exist; "
                f"pass --{name.replace('_', '-')} {kind}:/path/to/{kind}"
            )
    for name in ("lambda_seg_aux", "lambda_adv", "lambda_adv_aux", "lambda_pfr", "style_weight", "content_weight"):
        v = getattr(l, name)
        if not (v >= 0) or v != v or v == float("inf"):
            raise ValueError(f"{name} must be a finite number >= 0, got {v}")
    why = pfr_stages_problem(l.pfr_stages)
    if why:
        raise ValueError(f"pfr_stages {why}")
    for name in ("lr", "d_lr"):
        v = getattr(o, name)
        if not (v > 0 and math.isfinite(v)):
            raise ValueError(f"{name} must be a finite number > 0, got {v}")
    for name in ("momentum", "weight_decay", "power", "head_lr_mult"):
        v = getattr(o, name)
        if not (v >= 0 and math.isfinite(v)):
            raise ValueError(f"{name} must be a finite number >= 0, got {v}")
    for name in ("betas", "d_betas"):
        v = getattr(o, name)
        if not all(0 <= b < 1 for b in v):
            raise ValueError(f"{name} must be two numbers in [0, 1), got {v}")
    if o.iterations < 1:
        raise ValueError(f"iterations must be >= 1, got {o.iterations}")
    if o.schedule_iterations is not None and o.schedule_iterations < o.iterations:
        raise ValueError(
            f"schedule_iterations ({o.schedule_iterations}) must be >= iterations ({o.iterations}) or None"
        )
    if o.grad_clip is not None and not (o.grad_clip > 0 and math.isfinite(o.grad_clip)):
        raise ValueError(f"grad_clip must be a finite number > 0 or None, got {o.grad_clip}")
    if d.batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {d.batch_size}")
    if d.num_workers < 0:
        raise ValueError(f"num_workers must be >= 0, got {d.num_workers}")
    if d.prefetch_factor is not None and d.prefetch_factor < 1:
        raise ValueError(f"prefetch_factor must be >= 1 or None, got {d.prefetch_factor}")
    for name in ("source_size", "target_size", "eval_size", "synth_size"):
        size = getattr(d, name)
        if size is not None and (len(size) != 2 or min(size) < 1):
            raise ValueError(f"{name} must be (H, W) with positive entries, got {size}")
    if d.image_scales is not None:
        if not d.image_scales or not all(math.isfinite(f) and f > 0 for f in d.image_scales):
            raise ValueError(f"image_scales must be a non-empty tuple of finite factors > 0 or None, got {d.image_scales}")
        if d.target_size is None:
            raise ValueError("image_scales: needs target_size, the fixed size target predictions are upsampled to")
        if d.batch_size != 1:
            raise ValueError(f"image_scales: each image gets its own size, so batch_size must be 1, got {d.batch_size}")
    try:
        SHIFT_TYPES[d.synth_classes].parse(d.synth_shift)
    except (ValueError, KeyError) as err:
        raise ValueError(f"synth_shift: {err}") from None
    for name in ("synth_train_length", "synth_val_length", "val_limit"):
        v = getattr(d, name)
        if v is not None and v < 1:
            raise ValueError(f"{name} must be >= 1 or None, got {v}")
    if m.num_classes < 1:
        raise ValueError(f"num_classes must be >= 1, got {m.num_classes}")
    if m.ndf < 1:
        raise ValueError(f"ndf must be >= 1, got {m.ndf}")
    if not 0 <= o.warmup_fraction <= 1:
        raise ValueError(f"warmup_fraction must be a fraction of the schedule in [0, 1] (0 = no warm-up), "
                         f"got {o.warmup_fraction}")
    if m.aspp_branches is not None and not 1 <= m.aspp_branches <= 4:
        raise ValueError(f"aspp_branches must be 1..4 (2: AdaptSegNet's code, 4: the full ASPP) or None, "
                         f"got {m.aspp_branches}")
    if m.aspp_branches is not None and m.arch == "small":
        raise ValueError("aspp_branches: arch 'small' has no four-branch ASPP head (it sums its head_dilations); "
                         "leave aspp_branches unset")
    if check_paths and m.init is not None and not Path(m.init).is_file():
        raise FileNotFoundError(f"init: initial weights file {m.init!r} does not exist")
    for name in ("log_every", "checkpoint_every"):
        if getattr(r, name) < 1:
            raise ValueError(f"{name} must be >= 1, got {getattr(r, name)}")
    if r.val_every < 0:
        raise ValueError(f"val_every must be >= 0 (0 = only at the end), got {r.val_every}")
    if r.num_threads is not None and r.num_threads < 1:
        raise ValueError(f"num_threads must be >= 1 or None, got {r.num_threads}")
    if r.stage_store is not None and check_paths:  # a folder, or one that can be made: said before any stage trains
        try:
            check_writable_folder(r.stage_store, "stage_store", "a folder of shared stages (made if missing)")
        except OSError as err:
            raise ValueError(str(err)) from None
    check_device_name(r.device)
    if not r.out:
        raise ValueError("out must name an output directory")
    wanted = methods.get(l.method).classifiers
    if m.classifiers != wanted:
        raise ValueError(
            f"classifiers: method {l.method!r} trains {wanted} classifier(s), "
            f"got classifiers={m.classifiers} (leave it out: giving --method sets it)")
