"""The run loop: train one method of Eq. (6) for ``iterations`` steps, validate, checkpoint.

One loop serves every method; a method is a preset of the loss weights of Eq. (6)
(:meth:`pfrlib.config.LossConfig.effective_weights`):

==============  ===========================================================================
``source_only`` ``L_seg`` on source images only (lambda_adv = lambda_pfr = 0)
``adaptsegnet`` + output-space adversarial loss (the paper's "Conventional Adapt" [10])
``pfr``         + PFR feature alignment, Eq. (2)-(4), no adversary
``pfr_adv``     the full method, Eq. (6)
``oracle``      ``L_seg`` on the *labelled target* training set: the upper bound
``clan``        CLAN's two classifiers, weight discrepancy and map-weighted adversary
``fcn_wild``    FCNs in the Wild: feature-level adversary + class-size constraint
``road``        ROAD: region discriminators + target-guided distillation
``curriculum``  Curriculum DA: target label distribution estimated on source, KL term
==============  ===========================================================================

The last four are the Table-1 baselines that change only the losses (:mod:`pfrlib.baselines`);
their discriminators join AdaptSegNet's in :attr:`Trainer.discriminators` (optimised, scheduled,
wrapped for DDP and checkpointed alike), and everything else they own (a frozen reference, an
estimator, source statistics) is ``Trainer.baseline``'s state, saved under ``"baseline"``.

What one iteration computes lives in :mod:`pfrlib.step` (:func:`~pfrlib.step.network_step`,
Eq. 1-6, and :func:`~pfrlib.step.discriminator_step`, Eq. 5). :class:`Trainer` only
orchestrates around it: it builds the networks (:func:`pfrlib.models.build_from_config`), the
datasets and their seeded streams (:mod:`pfrlib.data`), the optimisers and the poly schedule
(:mod:`pfrlib.optim`), and decides when to log, validate (:func:`pfrlib.evaluate.evaluate_model`)
and checkpoint (:mod:`pfrlib.checkpoint`).

Reproducibility: the data streams are a pure function of ``(seed, stream, position)``
(:mod:`pfrlib.data.streams`), torch / numpy / python RNG states are checkpointed, and a resumed
run continues bit-exactly on CPU.

Checkpoints are only kept when good: a checkpoint is written as ``checkpoint_pending.pt`` and
becomes ``checkpoint_last.pt`` once the next iteration's losses come back finite (weights can be
finite yet already diverged), and non-finite weights are never written. The loss terms are
checked for NaN/inf on the device every iteration and read back once per log interval; a
failure stops the run naming the first non-finite term, its iteration and the newest good
checkpoint.

Command line (:mod:`pfrlib.cli` maps every config field to an option)::

    python -m pfrlib.train --preset cpu --method pfr_adv --seed 0 --out runs/x
    python -m pfrlib.train --preset cpu --out runs/x --resume
    torchrun --standalone --nproc_per_node=2 -m pfrlib.train --preset cpu --out runs/ddp

Under ``torchrun`` every rank draws its own ``batch_size`` samples from a disjoint shard of each
stream (so the effective batch is ``world_size * batch_size``; learning rates are not rescaled),
gradients are averaged by DistributedDataParallel, validation is sharded and its confusion
matrices summed, and rank 0 alone logs and writes checkpoints.

Python: ``result = train(TrainConfig.preset("cpu", method="pfr", out="runs/y"))``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import numpy as np
import torch
from torch import Tensor, nn

from . import methods, models
from .baselines import build_baseline
from .checkpoint import (
    CHECKPOINT_BEST,
    CHECKPOINT_LAST,
    CHECKPOINT_PENDING,
    check_resume_config,
    checkpoint_iteration,
    load_checkpoint,
    prepare_run_dir,
    remove_stale_temporaries,
    rng_state,
    save_checkpoint,
    set_rng_state,
    truncate_metrics,
)
from .cli import add_arguments, config_from_args
from .config import TrainConfig
from .data.spec import build_dataset
from .data.streams import SOURCE_STREAM, TARGET_STREAM, make_stream
from .data.transforms import EvalTransform, TrainTransform, normalize
from .device import device_type, resolve_device
from .distributed import DistInfo, all_reduce_sum, barrier, cleanup, init_from_env, same_on_all_ranks
from .scoring import evaluate_model
from .io import to_jsonable
from .optim import build_discriminator_optimizer, build_optimizer, poly_factor, poly_schedule
from .record import FinalRecord
from .step import FiniteCheck, NonFiniteLossError, discriminator_step, network_step
from .translation import run as translation_run

__all__ = [
    "TrainResult",
    "Trainer",
    "NonFiniteLossError",
    "train",
    "build_segmentation_model",
    "build_dataset",
    "seed_everything",
    "poly_factor",
    "main",
    "CHECKPOINT_LAST",
    "CHECKPOINT_BEST",
]

#: The model builder moved to :func:`pfrlib.models.build_from_config` (old name kept).
build_segmentation_model = models.build_from_config

#: Files of a run that ``--overwrite`` replaces (moved aside until the new run has a checkpoint).
_RUN_FILES = ("config.json", "metrics.jsonl", "final.json", CHECKPOINT_LAST, CHECKPOINT_BEST)


@dataclass
class TrainResult:
    """What :func:`train` returns: the run directory and the content of its ``final.json``."""

    out: Path
    final: dict[str, Any]
    config: TrainConfig

    @property
    def target_miou(self) -> float:
        """Final model's target val mIoU (fraction 0..1)."""
        return self.final["target_miou"]

    @property
    def source_miou(self) -> float:
        """Final model's source val mIoU (fraction 0..1)."""
        return self.final["source_miou"]


def seed_everything(seed: int) -> None:
    """Seed torch (CPU and CUDA), numpy and python."""
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)
    random.seed(seed)


class Trainer:
    """One run: networks, optimisers, data streams, and when to log, validate and checkpoint.

    ``Trainer(config).run()`` trains and returns a :class:`TrainResult`; :meth:`step` runs one
    iteration (:func:`pfrlib.step.network_step` + :func:`pfrlib.step.discriminator_step`).
    """

    def __init__(self, config: TrainConfig, dist_info: Optional[DistInfo] = None,
                 prepare_output: bool = True) -> None:
        cfg = config.validate()
        self.cfg = cfg
        self.dist = dist_info or DistInfo()
        self.is_main = self.dist.is_main
        if cfg.run.num_threads is not None:
            torch.set_num_threads(cfg.run.num_threads)
        self.device = resolve_device(cfg.run.device, self.dist.local_rank if self.dist.enabled else None)
        self._set_gpu_options()
        self.out = Path(cfg.run.out)
        self.weights = cfg.effective_weights()
        self.use_adv = self.weights["adv"] > 0 or self.weights["adv_aux"] > 0
        self.use_target_images = cfg.method_info.uses_target_images
        self.multi_level = cfg.model.multi_level
        self.iteration = 0
        self.elapsed = 0.0
        self.best: Optional[dict[str, Any]] = None
        self.finite = FiniteCheck()
        self._resume_state: Optional[dict[str, Any]] = None
        self._replaced: Optional[Path] = None  # the old run --overwrite moved aside
        self._pending: Optional[int] = None  # iteration of checkpoint_pending.pt, if any
        self._resume_changes: dict[str, tuple[Any, Any]] = {}  # lr / d_lr changed on resume

        if prepare_output:
            self._prepare_output()  # unwritable / occupied output is rejected before any work

        seed_everything(cfg.run.seed)  # identical initial weights on every rank
        self.model = models.build_from_config(cfg.model)
        self.normalization = self.model.normalization
        self._build_data()
        self._check_classes()

        memory_format = torch.channels_last if self.channels_last else torch.preserve_format
        self.model.to(self.device, memory_format=memory_format)
        self.discriminators: dict[str, nn.Module] = {}
        if self.use_adv:
            keys = ("main", "aux") if self.multi_level else ("main",)
            for k in keys:
                d = models.FCDiscriminator(cfg.model.num_classes, ndf=cfg.model.ndf)
                self.discriminators[k] = d.to(self.device, memory_format=memory_format)
        # a Table-1 baseline: its discriminators join the others; its own state is self.baseline's
        self.baseline = build_baseline(cfg, self.model, self.src_train)
        if self.baseline is not None:
            for k, d in self.baseline.build_discriminators().items():
                self.discriminators[k] = d.to(self.device, memory_format=memory_format)
        self.opt = build_optimizer(self.model, cfg.optim)
        self._add_baseline_parameters()
        self.sched = poly_schedule(self.opt, cfg.optim, "network")
        self.d_opts = {k: build_discriminator_optimizer(d, cfg.optim) for k, d in self.discriminators.items()}
        self.d_scheds = {k: poly_schedule(o, cfg.optim, "discriminator") for k, o in self.d_opts.items()}

        # DistributedDataParallel wrappers (the bare modules stay in self.model / discriminators).
        self.net: nn.Module = self.model
        self.d_nets: dict[str, nn.Module] = dict(self.discriminators)
        if self.dist.enabled:
            from torch.nn.parallel import DistributedDataParallel as DDP  # noqa: PLC0415

            ids = [self.device.index] if self.device.type == "cuda" else None
            self.net = DDP(self.model, device_ids=ids)
            self.d_nets = {k: DDP(d, device_ids=ids) for k, d in self.discriminators.items()}
            if self.baseline is not None:
                for k, m in self.baseline.trainable_modules().items():
                    self.baseline.callables[k] = DDP(m, device_ids=ids)
        if cfg.run.compile:
            self.net = torch.compile(self.net)

        if prepare_output:
            self._start_output()
        if cfg.run.resume and self._resume_state is not None:
            self._load_state(self._resume_state)
            self._resume_state = None
            self._apply_resume_changes()
        self._start_streams()

    # ----------------------------------------------------------------- setup
    def _add_baseline_parameters(self) -> None:
        """A baseline's trainable modules (Curriculum's estimator) join the network's optimiser as
        one more group at the heads' learning rate (before the schedule is built)."""
        if self.baseline is None:
            return
        params = [p for m in self.baseline.trainable_modules().values() for p in m.parameters() if p.requires_grad]
        if params:
            group: dict[str, Any] = {"params": params, "lr": self.cfg.optim.lr * self.cfg.optim.head_lr_mult}
            if "repeats" in self.opt.param_groups[0]:  # RepeatedSGD: each parameter stepped once
                group["repeats"] = [1] * len(params)
            self.opt.add_param_group(group)

    def _set_gpu_options(self) -> None:
        """Resolve the ``auto`` (None) GPU options for this device and set the backend flags."""
        r, cuda = self.cfg.run, self.device.type == "cuda"
        self.bf16 = cuda if r.bf16 is None else bool(r.bf16)
        self.channels_last = cuda if r.channels_last is None else bool(r.channels_last)
        self.pin_memory = cuda if self.cfg.data.pin_memory is None else bool(self.cfg.data.pin_memory)
        if cuda:
            torch.backends.cudnn.benchmark = True if r.cudnn_benchmark is None else bool(r.cudnn_benchmark)
            tf32 = True if r.tf32 is None else bool(r.tf32)
            torch.backends.cuda.matmul.allow_tf32 = tf32
            torch.backends.cudnn.allow_tf32 = tf32

    def _prepare_output(self) -> None:
        cfg = self.cfg
        ckpt = self.out / CHECKPOINT_LAST
        if self.is_main:
            prepare_run_dir(self.out, cfg.run.resume, cfg.run.overwrite)
        if cfg.run.resume:
            if not ckpt.exists():
                raise FileNotFoundError(
                    f"resume: {str(self.out)!r} holds no {CHECKPOINT_LAST} to resume; "
                    f"drop --resume to start a new run there")
            state = load_checkpoint(ckpt)
            self._resume_changes = check_resume_config(state["config"], cfg.to_dict())
            self._resume_state = state

    def _start_output(self) -> None:
        """After every check passed: clear temporaries; a fresh run moves a replaced run aside
        (restored if this run fails before its first good checkpoint) and writes config.json."""
        if self.is_main:
            remove_stale_temporaries(self.out)
            if self._resume_state is None:
                old = [self.out / n for n in _RUN_FILES if (self.out / n).exists()]
                if old:
                    self._replaced = self.out / f".replaced-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"
                    self._replaced.mkdir()
                    for p in old:
                        p.rename(self._replaced / p.name)
                self.cfg.to_json(self.out / "config.json")
        if self.dist.enabled:
            barrier()

    def _settle_replaced(self, keep_new: bool) -> None:
        """Delete the replaced run once this one has a good checkpoint, or put it back."""
        if self._replaced is None or not self.is_main:
            return
        if keep_new:
            shutil.rmtree(self._replaced, ignore_errors=True)
        else:
            for p in self._replaced.iterdir():
                os.replace(p, self.out / p.name)
            self._replaced.rmdir()
            (self.out / CHECKPOINT_PENDING).unlink(missing_ok=True)
        self._replaced = None

    def _build_data(self) -> None:
        """Training sets give uint8 items (normalised on the device); errors name the field."""
        d = self.cfg.data
        if self.cfg.method_info.trains_on_target_labels:  # the oracle: supervised training on labelled target
            self.src_train = build_dataset(d.target, "train", TrainTransform(d.target_size, hflip=d.hflip, normalize=None),
                                           d, "target")
            if not getattr(self.src_train, "has_labels", True):
                raise ValueError(f"target: method {self.cfg.loss.method!r} needs a labelled target set, {d.target!r} has no labels")
        else:
            self.src_train = build_dataset(d.source, "train", TrainTransform(d.source_size, hflip=d.hflip, normalize=None),
                                           d, "source")
            if not getattr(self.src_train, "has_labels", True):
                raise ValueError(f"source: the source set {d.source!r} has no labels")
        self.tgt_train = None
        if self.use_target_images:  # images only: the label files are not even opened
            self.tgt_train = build_dataset(d.target, "train", TrainTransform(d.target_size, hflip=d.hflip, normalize=None),
                                           d, "target", labels=False)
        ev = EvalTransform(size=d.eval_size, normalize=None)
        self.val_sets = {
            "source": (d.source_val or d.source, build_dataset(d.source_val or d.source, "val", ev, d, "source_val")),
            "target": (d.target_val or d.target, build_dataset(d.target_val or d.target, "val", ev, d, "target_val")),
        }

    def _check_classes(self) -> None:
        k = self.cfg.model.num_classes
        model_k = getattr(self.model, "num_classes", k)
        if model_k != k:
            raise ValueError(f"num_classes: config says {k} but model {self.cfg.model.arch!r} has {model_k}")
        named = [("target" if self.cfg.method_info.trains_on_target_labels else "source", self.src_train)]
        if self.tgt_train is not None:
            named.append(("target", self.tgt_train))
        named += [(f"{k2}_val", ds) for k2, (_, ds) in self.val_sets.items()]
        for field_name, ds in named:
            ds_k = getattr(ds, "num_classes", k)
            ids = tuple(getattr(ds, "class_ids", ()))
            if ds_k != k or (ids and max(ids) >= k):
                raise ValueError(
                    f"num_classes: the model predicts {k} classes but the {field_name} dataset "
                    f"{getattr(ds, 'name', type(ds).__name__)!r} uses {ds_k} (class ids up to {max(ids) if ids else '?'})"
                )

    def _start_streams(self) -> None:
        d, seed = self.cfg.data, self.cfg.run.seed
        common = dict(num_workers=d.num_workers, rank=self.dist.rank, world_size=self.dist.world_size,
                      start_iteration=self.iteration, pin_memory=self.pin_memory, prefetch_factor=d.prefetch_factor)
        self.src_iter = make_stream(self.src_train, seed, SOURCE_STREAM, d.batch_size, with_labels=True, **common)
        self.tgt_iter = None
        if self.tgt_train is not None:
            self.tgt_iter = make_stream(self.tgt_train, seed, TARGET_STREAM, d.batch_size, with_labels=False, **common)

    # ----------------------------------------------------------------- state
    def state_dict(self) -> dict[str, Any]:
        """Everything a bit-exact resume needs."""
        return {
            "format": "pfrlib-checkpoint-1",
            "iteration": self.iteration,
            "elapsed": self.elapsed,
            "config": self.cfg.to_dict(),
            "model": self.model.state_dict(),
            "discriminators": {k: d.state_dict() for k, d in self.discriminators.items()},
            "optimizer": self.opt.state_dict(),
            "scheduler": self.sched.state_dict(),
            "d_optimizers": {k: o.state_dict() for k, o in self.d_opts.items()},
            "d_schedulers": {k: s.state_dict() for k, s in self.d_scheds.items()},
            "baseline": self.baseline.state_dict() if self.baseline is not None else {},
            "rng": rng_state(),
            "best": json.dumps(to_jsonable(self.best)),
        }

    def _load_state(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        for k, d in self.discriminators.items():
            d.load_state_dict(state["discriminators"][k])
        self.opt.load_state_dict(state["optimizer"])
        self.sched.load_state_dict(state["scheduler"])
        for k in self.d_opts:
            self.d_opts[k].load_state_dict(state["d_optimizers"][k])
            self.d_scheds[k].load_state_dict(state["d_schedulers"][k])
        if self.baseline is not None:
            self.baseline.load_state_dict(state["baseline"])
        set_rng_state(state["rng"])
        self.iteration = int(state["iteration"])
        self.elapsed = float(state["elapsed"])
        self.best = json.loads(state.get("best", "null"))

    def _apply_resume_changes(self) -> None:
        """Rescale the restored learning rates (and their schedules) to a changed ``lr`` / ``d_lr``,
        say so, and record the new configuration in ``config.json``."""
        if not self._resume_changes:
            return
        pairs = {"lr": [(self.opt, self.sched)], "d_lr": [(self.d_opts[k], self.d_scheds[k]) for k in self.d_opts]}
        for name, (old, new) in self._resume_changes.items():
            factor = float(new) / float(old)
            for opt, sched in pairs[name]:
                for group in opt.param_groups:
                    group["lr"] *= factor
                    group["initial_lr"] = group.get("initial_lr", group["lr"]) * factor
                sched.base_lrs = [b * factor for b in sched.base_lrs]
        if self.is_main:
            changes = ", ".join(f"{k} {a} -> {b}" for k, (a, b) in self._resume_changes.items())
            print(f"resume: continuing from iteration {self.iteration} with {changes}", file=sys.stderr)
            self.cfg.to_json(self.out / "config.json")

    def _state_is_finite(self) -> bool:
        """Whether every weight and optimiser state tensor is finite (one host sync)."""
        tensors = [t for t in self.model.state_dict().values() if t.is_floating_point()]
        for d in self.discriminators.values():
            tensors += [t for t in d.state_dict().values() if t.is_floating_point()]
        if self.baseline is not None:
            tensors += [t for t in self.baseline.state_dict().values() if t.is_floating_point()]
        for opt in (self.opt, *self.d_opts.values()):
            for st in opt.state.values():
                tensors += [t for t in st.values() if torch.is_tensor(t) and t.is_floating_point()]
        flags = torch.stack([torch.isfinite(t).all() for t in tensors])
        return bool(flags.all())

    def save(self, name: str = CHECKPOINT_LAST, extra: Optional[dict[str, Any]] = None) -> Optional[Path]:
        """Write a checkpoint atomically (rank 0 only); non-finite weights are never written."""
        if not self.is_main:
            return None
        if not self._state_is_finite():
            self._raise_nonfinite(f"the weights or optimiser state became non-finite by iteration {self.iteration}")
        state = self.state_dict()
        if extra:
            state.update(extra)
        return save_checkpoint(self.out / name, state)

    def _save_pending(self) -> None:
        """Write ``checkpoint_pending.pt``; :meth:`_confirm_pending` promotes it."""
        self.save(CHECKPOINT_PENDING)
        self._pending = self.iteration

    def _confirm_pending(self) -> None:
        """The model of the pending checkpoint produced finite losses: it is the newest good one."""
        if self._pending is None:
            return
        if self.is_main:
            os.replace(self.out / CHECKPOINT_PENDING, self.out / CHECKPOINT_LAST)
        self._pending = None
        self._settle_replaced(keep_new=True)

    # ----------------------------------------------------------------- one iteration
    def _images(self, x: Tensor) -> Tensor:
        """uint8 batch -> normalised float on the device (channels_last when enabled)."""
        x = normalize(x.to(self.device, non_blocking=True), self.normalization)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return x

    def step(self) -> dict[str, Tensor]:
        """One training iteration (Eq. 6 for the network, Eq. 5 for the discriminators).

        Returns the detached loss terms (device scalars): ``seg``, ``seg_aux``, ``adv``,
        ``adv_aux``, ``pfr``, ``total``, ``pfr_style_i`` / ``pfr_content_i`` per stage, ``d``,
        ``d_aux``, ``d_acc_source``, ``d_acc_target``, ``lr``. Non-finite terms are recorded in
        :attr:`finite` (checked by :meth:`check_finite`), not raised here: no host sync.
        """
        cfg = self.cfg
        self.net.train()
        xs, ys = next(self.src_iter)
        source = (self._images(xs), ys.to(self.device, non_blocking=True))
        target = self._images(next(self.tgt_iter)) if self.tgt_iter is not None else None
        lr = self.opt.param_groups[0]["lr"]
        ns = network_step(
            self.net, self.discriminators, self.opt, source, target, self.weights, cfg.loss,
            multi_level=self.multi_level, autocast=self.bf16, grad_clip=cfg.optim.grad_clip,
            clip_parameters=list(self.model.parameters()) if cfg.optim.grad_clip is not None else None,
            baseline=self.baseline, iteration=self.iteration,
            horizon=cfg.optim.schedule_iterations or cfg.optim.iterations,
        )
        self.sched.step()
        d_logs = discriminator_step(self.d_nets, self.discriminators, self.d_opts, ns.outputs, cfg.loss.gan,
                                    autocast=self.bf16) if ns.outputs else {}
        for s in self.d_scheds.values():
            s.step()
        self.iteration += 1
        out = {k: v.detach() for k, v in ns.terms.items()}
        out["total"] = ns.total.detach()
        out.update(ns.stage_terms)
        out.update(d_logs)
        guarded = {**out}
        for k in ("d_acc_source", "d_acc_target"):
            guarded.pop(k, None)
        self.finite.update(guarded, self.iteration)
        out["lr"] = torch.tensor(lr)
        return out

    def check_finite(self) -> None:
        """Read the NaN/inf record back (one sync; every rank together under torchrun) and stop the
        run naming the first non-finite term; otherwise confirm a pending checkpoint."""
        failed = self.finite.failed().to(torch.int32).reshape(1)
        if self.dist.enabled:
            if self.device.type != "cuda":
                failed = failed.cpu()
            all_reduce_sum(failed)
        if int(failed[0]) == 0:
            self._confirm_pending()
            return
        first = self.finite.first_failure()
        if first is None:
            self._raise_nonfinite("a loss term became non-finite on another rank")
        it, bad, values = first
        terms = ", ".join(f"{k!r} = {v}" for k, v in bad.items())
        what = f"non-finite loss at iteration {it}: term {terms}"
        if set(bad) == {"total"}:  # every term finite, their weighted sum not: name the culprit
            weighted = {k: abs(self.weights[k] * v) for k, v in values.items() if k in self.weights}
            if weighted:
                k = max(weighted, key=weighted.get)
                what += (f"; every term is finite but Eq. (6) overflowed: the largest weighted term is {k!r} "
                         f"({values[k]:.3g} x weight {self.weights[k]:.3g})")
        self._raise_nonfinite(what)

    def _raise_nonfinite(self, what: str) -> None:
        if self.is_main and self._pending is not None:
            (self.out / CHECKPOINT_PENDING).unlink(missing_ok=True)  # its model gave non-finite losses
        self._pending = None
        ckpt = self.out / CHECKPOINT_LAST
        kept = (f"the newest good checkpoint {ckpt} (iteration {checkpoint_iteration(ckpt)}) is kept"
                if ckpt.exists() else "no good checkpoint had been written yet")
        raise NonFiniteLossError(f"{what} (method {self.cfg.loss.method!r}); training stopped; {kept}")

    # ----------------------------------------------------------------- validation
    def validate(self, which: tuple[str, ...] = ("source", "target"), limit: Optional[int] = None) -> dict[str, Any]:
        """mIoU of the current model on the val sets (sharded over ranks, summed confusion).

        ``limit`` caps the number of images per set (periodic validation uses ``val_limit``).
        """
        results = {}
        for name in which:
            spec, ds = self.val_sets[name]
            res = evaluate_model(
                self.model, ds, device=self.device, batch_size=max(1, self.cfg.data.batch_size),
                num_workers=self.cfg.data.num_workers, limit=limit, bf16=self.bf16,
                channels_last=self.channels_last, shard=(self.dist.rank, self.dist.world_size),
            )
            if self.dist.enabled:
                all_reduce_sum(res.confusion)
            results[name] = {"spec": spec, **res.to_dict()}
        return results

    # ----------------------------------------------------------------- the loop
    def run(self) -> TrainResult:
        """Train to ``iterations``, with logging, periodic validation and checkpoints."""
        try:
            return self._run()
        except BaseException:
            self._settle_replaced(keep_new=False)  # a replaced run comes back if this one failed early
            raise

    def _run(self) -> TrainResult:
        from tqdm.auto import tqdm  # noqa: PLC0415

        cfg = self.cfg
        total_it = cfg.optim.iterations
        metrics_path = self.out / "metrics.jsonl"
        if self.is_main:
            truncate_metrics(metrics_path, self.iteration)
        bar = tqdm(total=total_it, initial=self.iteration, disable=not (self.is_main and cfg.run.progress),
                   desc=cfg.loss.method, mininterval=1.0, dynamic_ncols=True)
        t0 = time.perf_counter() - self.elapsed
        try:
            while self.iteration < total_it:
                terms = self.step()
                it = self.iteration
                bar.update(1)
                self.elapsed = time.perf_counter() - t0
                logging = it % cfg.run.log_every == 0 or it == total_it
                checkpointing = it % cfg.run.checkpoint_every == 0 or it == total_it
                if logging or checkpointing or self._pending is not None:
                    self.check_finite()  # the only host sync of the loop; confirms a pending checkpoint
                if logging:
                    rec = {"iter": it, **{k: float(v) for k, v in terms.items()}, "time": round(self.elapsed, 3)}
                    self._log(metrics_path, rec)
                    bar.set_postfix({k: f"{rec[k]:.3g}" for k in ("seg", "adv", "pfr", "d") if k in rec}, refresh=False)
                if cfg.run.val_every and it % cfg.run.val_every == 0 and it < total_it:
                    self._periodic_validation(metrics_path, it)
                    self.elapsed = time.perf_counter() - t0
                if checkpointing:
                    self.elapsed = time.perf_counter() - t0
                    self._save_pending()
        finally:
            bar.close()
        if self._pending is not None:  # the final checkpoint: confirmed by a finite forward pass
            self._confirm_final()
        final = self._final()
        self._settle_replaced(keep_new=True)
        if self.dist.enabled:
            barrier()
        return TrainResult(out=self.out, final=final, config=cfg)

    @torch.no_grad()
    def _confirm_final(self) -> None:
        """No iteration follows the last checkpoint: confirm it by its logits on one source val image."""
        _, ds = self.val_sets["source"]
        image, _ = ds[0]
        self.model.eval()
        try:
            out = self.model(self._images(image.unsqueeze(0)))
        finally:
            self.model.train()
        logits = [out.logits] + ([out.aux_logits] if out.aux_logits is not None else [])
        if not bool(torch.stack([torch.isfinite(t).all() for t in logits]).all()):
            self._raise_nonfinite(f"the model after iteration {self.iteration} gives non-finite logits")
        self.check_finite()

    def _periodic_validation(self, metrics_path: Path, it: int) -> None:
        res = self.validate(limit=self.cfg.data.val_limit)
        rec = {"iter": it, "val_source_miou": res["source"]["miou"], "val_target_miou": res["target"]["miou"]}
        self._log(metrics_path, rec)
        if self.cfg.run.keep_best and res["target"]["miou"] == res["target"]["miou"]:
            if self.best is None or res["target"]["miou"] > self.best["target_miou"]:
                self.best = {"iteration": it, "target_miou": res["target"]["miou"],
                             "source_miou": res["source"]["miou"],
                             "selected_on": res["target"]["spec"]}
                self.save(CHECKPOINT_BEST, extra={"selected_on_val": self.best})

    def _final(self) -> dict[str, Any]:
        res = self.validate()
        replicas_identical = None
        if self.dist.enabled:  # DDP must have kept every rank's copy of the weights bitwise equal
            sums = torch.stack([p.detach().double().sum() for p in self.model.parameters()])
            if self.device.type != "cuda":
                sums = sums.cpu()
            replicas_identical = same_on_all_ranks(sums)
        record = FinalRecord(
            method=self.cfg.loss.method,
            preset=self.cfg.preset_name,
            seed=self.cfg.run.seed,
            arch=self.cfg.model.arch,
            iterations=self.iteration,
            world_size=self.dist.world_size,
            replicas_identical=replicas_identical,
            effective_weights=self.weights,
            source_miou=res["source"]["miou"],
            target_miou=res["target"]["miou"],
            source_val=res["source"],
            target_val=res["target"],
            wall_time_s=round(self.elapsed, 2),
            checkpoint=CHECKPOINT_LAST,
            best_on_val=self.best,
        )
        if self.is_main:
            record.write(self.out / "final.json")
        return record.to_dict()

    def _log(self, path: Path, rec: dict[str, Any]) -> None:
        if not self.is_main:
            return
        with open(path, "a") as f:
            f.write(json.dumps(to_jsonable(rec)) + "\n")


# --------------------------------------------------------------------------- API + CLI
def train(config: TrainConfig, dist_info: Optional[DistInfo] = None) -> TrainResult:
    """Train one run described by ``config`` (the Python API; notebooks call this).

    Under ``torchrun`` (``WORLD_SIZE > 1``) the process group is joined here and left at the end.
    Returns a :class:`TrainResult` (``.final`` is the content of ``final.json``).
    """
    config.validate()
    if config.method_info.family == "translation":  # translator first, then this loop (pfrlib.translation)
        final = translation_run.train_translation(config, train_fn=train, trainer_cls=Trainer)
        return TrainResult(out=Path(config.run.out), final=final, config=config)
    own_group = False
    if dist_info is None:
        dist_info = init_from_env(device_type(config.run.device))
        own_group = dist_info.enabled
    try:
        return Trainer(config, dist_info=dist_info).run()
    finally:
        if own_group:
            cleanup()


def main(argv: Optional[list[str]] = None) -> int:
    """``python -m pfrlib.train``: see the module docstring."""
    parser = argparse.ArgumentParser(
        prog="python -m pfrlib.train",
        description=f"Train {' / '.join(methods.names('ladder'))} (Eq. 6), or a Table-1 "
                    f"baseline: {' / '.join(methods.names('baseline'))}, or an input-space row "
                    f"(translator, then network): {' / '.join(methods.names('translation'))}.",
    )
    add_arguments(parser)
    args = parser.parse_args(argv)
    try:
        if args.resume and args.config is None and args.out is not None:
            saved = Path(args.out) / "config.json"
            if saved.is_file():  # --resume continues the run in --out with its own configuration
                args.config = str(saved)
        cfg = config_from_args(args)
        result = train(cfg)
    except NonFiniteLossError as err:
        print(f"error: {err}", file=sys.stderr)
        return 3
    except (ValueError, FileNotFoundError, FileExistsError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if int(os.environ.get("RANK", "0")) == 0:
        f = result.final
        print(
            f"{f['method']}: source mIoU {100 * _nan(f['source_miou']):.1f}, "
            f"target mIoU {100 * _nan(f['target_miou']):.1f} ({f['iterations']} iterations, "
            f"{f['wall_time_s']:.0f} s) -> {result.out / 'final.json'}"
        )
    return 0


def _nan(v: Optional[float]) -> float:
    return float("nan") if v is None else float(v)


if __name__ == "__main__":
    sys.exit(main())
