"""What one run is built from, before its first iteration: device options, datasets, networks,
optimisers and their schedules.

:class:`pfrlib.engine.trainer.Trainer` calls these in a fixed order (the order the random number
generators are drawn in: model, then datasets, then discriminators), so that a run is a pure
function of its configuration and seed:

1. :func:`seed_everything`, :func:`pfrlib.config.device.resolve_device`, :func:`device_options` (bf16,
   channels_last, pinned memory; the ``auto`` choices resolved for the device);
2. the segmentation network (:func:`pfrlib.models.build_from_config`);
3. :func:`build_train_data`: the training sets (uint8 items, normalised on the device), the
   two val sets and the target test set (``target_test``), then :func:`check_classes`: model and
   every dataset agree on the classes;
4. :func:`build_networks`: the output-space discriminators of Eq. (5), a Table-1 baseline's
   extras (:mod:`pfrlib.methods.baselines`), the optimisers with the poly schedule (:mod:`pfrlib.paper.optim`)
   and, under ``torchrun``, the DistributedDataParallel wrappers.

:func:`rescale_learning_rates` is what a resume with a changed ``lr`` / ``d_lr`` does to the
restored optimisers (:mod:`pfrlib.engine.rundir` decides whether that change is allowed and records it).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Optional

import numpy as np
import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel as DDP

from pfrlib import models
from pfrlib.paper.step import Baseline
from pfrlib.config.train_config import TrainConfig
from pfrlib.data.spec import build_dataset
from pfrlib.data.streams import SOURCE_STREAM, TARGET_STREAM, make_stream
from pfrlib.data.transforms import EvalTransform, TrainTransform
from pfrlib.engine.distributed import DistInfo
from pfrlib.paper.optim import build_discriminator_optimizer, build_optimizer, poly_schedule
from pfrlib.models.discriminator import FCDiscriminator

__all__ = ["seed_everything", "DeviceOptions", "device_options", "TrainData", "build_train_data", "check_classes", "make_streams", "Networks", "build_networks",
           "rescale_learning_rates"]


def seed_everything(seed: int) -> None:
    """Seed torch (CPU and CUDA), numpy and python."""
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)
    random.seed(seed)


@dataclass(frozen=True)
class DeviceOptions:
    """The GPU options of a run, resolved for its device (``None`` in the config = on for CUDA)."""

    bf16: bool
    channels_last: bool
    pin_memory: bool


def device_options(cfg: TrainConfig, device: torch.device) -> DeviceOptions:
    """Resolve the ``auto`` (None) GPU options for ``device`` and set the cuDNN / TF32 flags."""
    r, cuda = cfg.run, device.type == "cuda"
    if cuda:
        torch.backends.cudnn.benchmark = True if r.cudnn_benchmark is None else bool(r.cudnn_benchmark)
        tf32 = True if r.tf32 is None else bool(r.tf32)
        torch.backends.cuda.matmul.allow_tf32 = tf32
        torch.backends.cudnn.allow_tf32 = tf32
    return DeviceOptions(
        bf16=cuda if r.bf16 is None else bool(r.bf16),
        channels_last=cuda if r.channels_last is None else bool(r.channels_last),
        pin_memory=cuda if cfg.data.pin_memory is None else bool(cfg.data.pin_memory),
    )


@dataclass
class TrainData:
    """The datasets of a run: ``source`` (labelled; the target train set for the oracle),
    ``target`` (images only, or None when the method uses no target images), ``val``
    (``{"source" | "target": (spec, dataset)}``) and ``test`` (``(spec, dataset)`` of
    ``target_test``, or None)."""

    source: Any
    target: Optional[Any]
    val: dict[str, tuple[str, Any]]
    test: Optional[tuple[str, Any]] = None


def build_train_data(cfg: TrainConfig) -> TrainData:
    """Training sets give uint8 items (normalised on the device); errors name the field. With
    ``image_scales`` (CLAN's rescaling) each image alone is rescaled, its label keeps its size."""
    d, method = cfg.data, cfg.method_info
    kw = dict(hflip=d.hflip, normalize=None, image_scales=d.image_scales)
    if method.trains_on_target_labels:  # the oracle: supervised training on labelled target
        source = build_dataset(d.target, "train", TrainTransform(d.target_size, **kw), d, "target")
        if not getattr(source, "has_labels", True):
            raise ValueError(f"target: method {method.name!r} needs a labelled target set, {d.target!r} has no labels")
    else:
        source = build_dataset(d.source, "train", TrainTransform(d.source_size, **kw), d, "source")
        if not getattr(source, "has_labels", True):
            raise ValueError(f"source: the source set {d.source!r} has no labels")
    target = None
    if method.uses_target_images:  # images only: the label files are not even opened
        target = build_dataset(d.target, "train", TrainTransform(d.target_size, **kw), d, "target", labels=False)
    ev = EvalTransform(size=d.eval_size, normalize=None)
    val = {
        "source": (d.source_val or d.source, build_dataset(d.source_val or d.source, "val", ev, d, "source_val")),
        "target": (d.target_val or d.target, build_dataset(d.target_val or d.target, "val", ev, d, "target_val")),
    }
    # built with the others so that a missing test set stops the run before it trains, not after
    test = None
    if d.target_test is not None:
        test = (d.target_test, build_dataset(d.target_test, "test", ev, d, "target_test"))
    return TrainData(source=source, target=target, val=val, test=test)


def check_classes(cfg: TrainConfig, model: nn.Module, data: TrainData) -> None:
    """The model and every dataset of the run agree on the number of classes (one line if not)."""
    k = cfg.model.num_classes
    model_k = getattr(model, "num_classes", k)
    if model_k != k:
        raise ValueError(f"num_classes: config says {k} but model {cfg.model.arch!r} has {model_k}")
    named = [("target" if cfg.method_info.trains_on_target_labels else "source", data.source)]
    if data.target is not None:
        named.append(("target", data.target))
    named += [(f"{k2}_val", ds) for k2, (_, ds) in data.val.items()]
    if data.test is not None:
        named.append(("target_test", data.test[1]))
    for field_name, ds in named:
        ds_k = getattr(ds, "num_classes", k)
        ids = tuple(getattr(ds, "class_ids", ()))
        if ds_k != k or (ids and max(ids) >= k):
            raise ValueError(
                f"num_classes: the model predicts {k} classes but the {field_name} dataset "
                f"{getattr(ds, 'name', type(ds).__name__)!r} uses {ds_k} (class ids up to {max(ids) if ids else '?'})"
            )


def make_streams(cfg: TrainConfig, source: Any, target: Optional[Any], dist: DistInfo, start_iteration: int,
                 pin_memory: bool) -> tuple[Any, Optional[Any]]:
    """The seeded batch streams of the source (images, labels) and target (images) training sets,
    from ``start_iteration`` on, this rank's shard (:func:`pfrlib.data.streams.make_stream`)."""
    d, seed = cfg.data, cfg.run.seed
    common = dict(num_workers=d.num_workers, rank=dist.rank, world_size=dist.world_size,
                  start_iteration=start_iteration, pin_memory=pin_memory, prefetch_factor=d.prefetch_factor)
    src = make_stream(source, seed, SOURCE_STREAM, d.batch_size, with_labels=True, **common)
    tgt = None if target is None else make_stream(target, seed, TARGET_STREAM, d.batch_size, with_labels=False,
                                                  **common)
    return src, tgt


@dataclass
class Networks:
    """The trainable parts of a run and their optimisers.

    ``model`` and ``discriminators`` are the bare modules (checkpointed, evaluated); ``net`` and
    ``d_nets`` the ones the step calls (DistributedDataParallel / ``torch.compile`` wrappers, or
    the same modules). ``baseline`` is a Table-1 baseline's own state (or None).
    """

    model: nn.Module
    discriminators: dict[str, nn.Module]
    baseline: Optional[Baseline]
    opt: torch.optim.Optimizer
    sched: Any
    d_opts: dict[str, torch.optim.Optimizer]
    d_scheds: dict[str, Any]
    net: nn.Module
    d_nets: dict[str, nn.Module]


def build_networks(cfg: TrainConfig, model: nn.Module, device: torch.device, dist: DistInfo,
                   use_adv: bool, channels_last: bool,
                   make_baseline: Callable[[nn.Module], Optional[Baseline]]) -> Networks:
    """Move ``model`` to ``device``; build the discriminators (AdaptSegNet's, one per output level
    when ``use_adv``, then a baseline's), the baseline, the optimisers and schedules, and the DDP
    wrappers under torchrun. ``make_baseline(model)`` makes the method's baseline (or returns
    ``None``): :meth:`pfrlib.engine.trainer.Trainer.build_baseline`, which a method's trainer
    overrides."""
    memory_format = torch.channels_last if channels_last else torch.preserve_format
    model.to(device, memory_format=memory_format)
    discriminators: dict[str, nn.Module] = {}
    if use_adv:
        for k in ("main", "aux") if cfg.model.multi_level else ("main",):
            d = FCDiscriminator(cfg.model.num_classes, ndf=cfg.model.ndf)
            discriminators[k] = d.to(device, memory_format=memory_format)
    # a Table-1 baseline: its discriminators join the others; its own state is the baseline's
    baseline = make_baseline(model)
    if baseline is not None:
        for k, d in baseline.build_discriminators().items():
            discriminators[k] = d.to(device, memory_format=memory_format)
    opt = build_optimizer(model, cfg.optim)
    _add_baseline_parameters(opt, baseline, cfg)
    sched = poly_schedule(opt, cfg.optim, "network")
    d_opts = {k: build_discriminator_optimizer(d, cfg.optim) for k, d in discriminators.items()}
    d_scheds = {k: poly_schedule(o, cfg.optim, "discriminator") for k, o in d_opts.items()}

    net: nn.Module = model
    d_nets: dict[str, nn.Module] = dict(discriminators)
    if dist.enabled:
        ids = [device.index] if device.type == "cuda" else None
        net = DDP(model, device_ids=ids)
        d_nets = {k: DDP(d, device_ids=ids) for k, d in discriminators.items()}
        if baseline is not None:
            for k, m in baseline.trainable_modules().items():
                baseline.callables[k] = DDP(m, device_ids=ids)
    if cfg.run.compile:
        net = torch.compile(net, backend=cfg.run.compile_backend)
    return Networks(model=model, discriminators=discriminators, baseline=baseline, opt=opt, sched=sched,
                    d_opts=d_opts, d_scheds=d_scheds, net=net, d_nets=d_nets)


def _add_baseline_parameters(opt: torch.optim.Optimizer, baseline: Optional[Baseline], cfg: TrainConfig) -> None:
    """A baseline's trainable modules (Curriculum's estimator) join the network's optimiser as
    one more group at the heads' learning rate (before the schedule is built)."""
    if baseline is None:
        return
    params = [p for m in baseline.trainable_modules().values() for p in m.parameters() if p.requires_grad]
    if params:
        group: dict[str, Any] = {"params": params, "lr": cfg.optim.lr * cfg.optim.head_lr_mult}
        if "repeats" in opt.param_groups[0]:  # RepeatedSGD: each parameter stepped once
            group["repeats"] = [1] * len(params)
        opt.add_param_group(group)


def rescale_learning_rates(nets: Networks, changes: Mapping[str, tuple[Any, Any]]) -> None:
    """Scale the restored learning rates (and their schedules' base rates) of the network
    (``"lr"``) and of the discriminators (``"d_lr"``) by ``new / old`` for each
    ``{name: (old, new)}`` in ``changes``: the poly schedule continues from where it was."""
    pairs = {"lr": [(nets.opt, nets.sched)], "d_lr": [(nets.d_opts[k], nets.d_scheds[k]) for k in nets.d_opts]}
    for name, (old, new) in changes.items():
        factor = float(new) / float(old)
        for opt, sched in pairs[name]:
            for group in opt.param_groups:
                group["lr"] *= factor
                group["initial_lr"] = group.get("initial_lr", group["lr"]) * factor
            sched.base_lrs = [b * factor for b in sched.base_lrs]
