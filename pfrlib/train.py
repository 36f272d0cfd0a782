"""The training loop of Eq. (6): ``L_total = L_seg + lambda_adv L_adv + lambda_pfr L_pfr``.

One loop serves every method; a method is a preset of the loss weights
(:meth:`pfrlib.config.LossConfig.effective_weights`):

==============  ===========================================================================
``source_only`` ``L_seg`` on source images only (lambda_adv = lambda_pfr = 0)
``adaptsegnet`` + output-space adversarial loss (the paper's "Conventional Adapt" [10])
``pfr``         + PFR feature alignment, Eq. (2)-(4), no adversary
``pfr_adv``     the full method, Eq. (6)
``oracle``      ``L_seg`` on the *labelled target* training set: the upper bound
==============  ===========================================================================

Each iteration follows AdaptSegNet (Tsai et al. 2018, Algorithm in their Section 3.3):

1. discriminator(s) frozen; source forward, segmentation loss (Eq. 1) on logits upsampled to
   the input size (``align_corners=True``);
2. target forward, fooling loss (generator side of Eq. 5) on the target softmax;
3. PFR loss (Eq. 4) between the source stage features of step 1 and the target stage features of
   step 2 (the same forward passes; no extra forward);
4. one backward of the weighted sum (Eq. 6) and a step of the segmentation network;
5. discriminator step (discriminator side of Eq. 5) on the *detached* source and target softmax.

The multi-level option adds AdaptSegNet's auxiliary head (weight ``lambda_seg_aux`` = 0.1) with
its own discriminator (``lambda_adv_aux`` = 0.0002).

Reproducibility. Every training sample's augmentation is drawn under a seed derived from
``(seed, stream, position in the stream)``, and the order of each epoch from
``(seed, stream, epoch)``; so a stream is a pure function of the iteration count, independent of
data-loader workers, and a resumed run fast-forwards by index (no transform is re-run) and
continues bit-exactly on CPU. Torch / numpy / python RNG states are checkpointed as well.

Command line::

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
import contextlib
import inspect
import json
import math
import os
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset, Sampler

from . import losses
from .checkpoint import load_checkpoint, rng_state, save_checkpoint, set_rng_state
from .config import TrainConfig, add_arguments, config_from_args, parse_spec
from .distributed import DistInfo, all_reduce_sum, barrier, cleanup, init_from_env
from .io import atomic_write, to_jsonable, write_json

__all__ = [
    "TrainResult",
    "Trainer",
    "NonFiniteLossError",
    "train",
    "build_segmentation_model",
    "build_dataset",
    "main",
]

CHECKPOINT_LAST = "checkpoint_last.pt"
CHECKPOINT_BEST = "checkpoint_best.pt"
SOURCE_STREAM, TARGET_STREAM = 1, 2

# Run-bookkeeping fields that may differ between a run and its resumption.
_RESUME_FREE = {
    ("run", "resume"), ("run", "progress"), ("run", "num_threads"), ("run", "out"),
    ("run", "overwrite"), ("data", "num_workers"), ("run", "device"),
}


class NonFiniteLossError(FloatingPointError):
    """A loss term became NaN or infinite; training stopped and kept the last good checkpoint."""


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


# --------------------------------------------------------------------------- building blocks
def build_segmentation_model(model_cfg, load_init: bool = True) -> nn.Module:
    """``pfrlib.models.build_model`` from a :class:`~pfrlib.config.ModelConfig`.

    ``multi_level`` is passed to the builder when it accepts it; ``init`` (an AdaptSegNet /
    DeepLab ``.pth``) is loaded with ``load_adaptsegnet_weights`` when ``load_init``.
    """
    from . import models  # noqa: PLC0415

    kwargs = dict(model_cfg.model_kwargs)
    if "multi_level" in inspect.signature(models.build_model).parameters or _accepts(
        models.build_model, model_cfg.arch, "multi_level"
    ):
        kwargs.setdefault("multi_level", model_cfg.multi_level)
    elif model_cfg.multi_level:
        raise ValueError(f"multi_level: model {model_cfg.arch!r} has no auxiliary head option")
    try:
        model = models.build_model(model_cfg.arch, model_cfg.num_classes, **kwargs)
    except TypeError as err:
        raise ValueError(f"model_kwargs: build_model({model_cfg.arch!r}) rejected {kwargs}: {err}") from err
    if load_init and model_cfg.init is not None:
        models.load_adaptsegnet_weights(model, model_cfg.init)
    return model


def _accepts(build_model: Callable, arch: str, name: str) -> bool:
    """Whether ``build_model(arch, ...)`` forwards ``name`` (it may take ``**kwargs``)."""
    try:
        from . import models  # noqa: PLC0415

        registry = getattr(models, "_BUILDERS", None) or getattr(models, "BUILDERS", None)
        if isinstance(registry, dict) and arch in registry:
            return name in inspect.signature(registry[arch]).parameters
    except Exception:  # noqa: BLE001
        pass
    return False


def build_dataset(spec: str, split: str, transform, data_cfg, field_name: str, labels: bool = True):
    """``pfrlib.data.from_spec`` with SynthStreets' size/length options; errors name ``field_name``.

    ``labels=False`` opens a real dataset without its label files (adaptation methods open the
    target training set this way: its labels are never read). A split written in the spec
    (``cityscapes:/cs:val``, ``synth:target:val``) wins over ``split``.
    """
    from .data import from_spec  # noqa: PLC0415

    kind, _rest, _split = parse_spec(spec, field_name=field_name)
    kw: dict[str, Any] = {}
    if kind == "synth":
        kw["size"] = tuple(data_cfg.synth_size)
        length = data_cfg.synth_train_length if (_split or split) == "train" else data_cfg.synth_val_length
        if length is not None:
            kw["length"] = length
    elif not labels:
        kw["labels"] = False
    try:
        return from_spec(spec, split=split, transform=transform, **kw)
    except FileNotFoundError as err:
        raise FileNotFoundError(f"{field_name}: {err}") from err
    except (ValueError, TypeError) as err:
        raise ValueError(f"{field_name}: {err}") from err


def _train_transform(size, hflip: bool, normalization: str):
    from .data.transforms import TrainTransform  # noqa: PLC0415

    return TrainTransform(size=size, hflip=hflip, normalize=normalization)


def _eval_transform(size, normalization: str):
    from .data.transforms import EvalTransform  # noqa: PLC0415

    return EvalTransform(size=size, normalize=normalization)


def _seed_from(*parts: int) -> int:
    """A 63-bit seed from integers, well mixed (numpy SeedSequence)."""
    return int(np.random.SeedSequence([int(p) for p in parts]).generate_state(1, np.uint64)[0] >> 1)


class _SeededItems(Dataset):
    """``dataset[idx]`` evaluated under a per-sample seed, so augmentations depend only on the key.

    Keys are ``(index, sample_seed)`` pairs produced by :class:`_StreamSampler`. The global torch,
    numpy and python RNG states of the calling process are left untouched.
    """

    def __init__(self, dataset, with_labels: bool = True) -> None:
        self.dataset = dataset
        self.with_labels = with_labels

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, key):
        idx, sample_seed = key
        py_state, np_state = random.getstate(), np.random.get_state()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(sample_seed)
            random.seed(sample_seed)
            np.random.seed(sample_seed % 2**32)
            try:
                image, label = self.dataset[idx]
            finally:
                random.setstate(py_state)
                np.random.set_state(np_state)
        if self.with_labels:
            return image, label
        return image  # the label is dropped here: adaptation methods never see target labels


class _StreamSampler(Sampler):
    """An endless, deterministic stream of ``(index, sample_seed)`` keys for one rank.

    Global position ``p`` (0, 1, 2, ...) lies in epoch ``p // n`` at offset ``p % n`` of that
    epoch's permutation (seeded by ``(seed, stream, epoch)``); rank ``r`` of ``w`` takes the
    positions ``p = k * w + r``. ``start`` skips the first ``start`` draws of this rank, which is
    how a resumed run fast-forwards without loading a single image.
    """

    def __init__(self, n: int, seed: int, stream: int, rank: int = 0, world: int = 1, start: int = 0) -> None:
        if n < 1:
            raise ValueError("cannot stream from an empty dataset")
        self.n, self.seed, self.stream, self.rank, self.world, self.start = n, seed, stream, rank, world, start

    def __iter__(self) -> Iterator[tuple[int, int]]:
        k, epoch, perm = self.start, -1, None
        while True:
            p = k * self.world + self.rank
            e, off = divmod(p, self.n)
            if e != epoch:
                g = torch.Generator().manual_seed(_seed_from(self.seed, self.stream, 0, e))
                perm, epoch = torch.randperm(self.n, generator=g).tolist(), e
            yield perm[off], _seed_from(self.seed, self.stream, 1, p)
            k += 1

    def __len__(self) -> int:  # DataLoader only needs this for len(loader); the stream is endless
        return 2**62


def _seed_worker(worker_id: int) -> None:
    """DataLoader ``worker_init_fn``: seed numpy and python from the worker's torch seed."""
    s = torch.initial_seed() % 2**32
    np.random.seed(s)
    random.seed(s)


def _make_stream(dataset, seed: int, stream: int, batch_size: int, num_workers: int, dist_info: DistInfo,
                 start_iteration: int, with_labels: bool) -> Iterator:
    sampler = _StreamSampler(len(dataset), seed, stream, dist_info.rank, dist_info.world_size,
                             start=start_iteration * batch_size)
    loader = DataLoader(
        _SeededItems(dataset, with_labels),
        batch_size=batch_size,
        sampler=sampler,
        num_workers=num_workers,
        worker_init_fn=_seed_worker,
        generator=torch.Generator().manual_seed(_seed_from(seed, stream, 2)),
        drop_last=True,
        persistent_workers=False,
    )
    return iter(loader)


def seed_everything(seed: int) -> None:
    """Seed torch (CPU and CUDA), numpy and python."""
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)
    random.seed(seed)


def poly_factor(iteration: int, max_iterations: int, power: float) -> float:
    """AdaptSegNet's poly schedule: ``(1 - it / max_it) ** power``."""
    return (1.0 - min(iteration, max_iterations) / max_iterations) ** power


def _resolve_device(name: str, dist_info: DistInfo) -> torch.device:
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ValueError(f"device: {name!r} requested but CUDA is not available")
        if dist_info.enabled:
            return torch.device("cuda", dist_info.local_rank)
    return torch.device(name)


def _upsample(logits: Tensor, size) -> Tensor:
    """Bilinear upsampling of (B, K, h, w) logits to ``size`` with ``align_corners=True`` (AdaptSegNet)."""
    if tuple(logits.shape[-2:]) == tuple(size):
        return logits
    return F.interpolate(logits, size=tuple(size), mode="bilinear", align_corners=True)


def _set_requires_grad(module: nn.Module, flag: bool) -> None:
    for p in module.parameters():
        p.requires_grad_(flag)


def _d_accuracy(d_src: Tensor, d_tgt: Tensor, kind: str) -> tuple[Tensor, Tensor]:
    """Fraction of discriminator outputs on the right side of the decision threshold."""
    thr = 0.0 if kind == "bce" else 0.5  # logits vs least-squares outputs
    src_label, tgt_label = losses.SOURCE_LABEL, losses.TARGET_LABEL
    acc_s = ((d_src > thr) == (src_label > 0.5)).float().mean()
    acc_t = ((d_tgt > thr) == (tgt_label > 0.5)).float().mean()
    return acc_s, acc_t


# --------------------------------------------------------------------------- trainer
class Trainer:
    """Holds the networks, optimisers, data streams and bookkeeping of one run.

    ``Trainer(config).run()`` trains and returns a :class:`TrainResult`; :meth:`step` runs one
    iteration (used by ``benchmarks/step_time.py``).
    """

    def __init__(self, config: TrainConfig, dist_info: Optional[DistInfo] = None,
                 prepare_output: bool = True) -> None:
        cfg = config.validate()
        self.cfg = cfg
        self.dist = dist_info or DistInfo()
        self.is_main = self.dist.is_main
        if cfg.run.num_threads is not None:
            torch.set_num_threads(cfg.run.num_threads)
        self.device = _resolve_device(cfg.run.device, self.dist)
        self.out = Path(cfg.run.out)
        self.weights = cfg.loss.effective_weights()
        method = cfg.loss.method
        self.use_adv = self.weights["adv"] > 0 or self.weights["adv_aux"] > 0
        self.use_pfr = self.weights["pfr"] > 0
        self.use_target_images = method in ("adaptsegnet", "pfr", "pfr_adv")
        self.multi_level = cfg.model.multi_level
        self.iteration = 0
        self.elapsed = 0.0
        self.best: Optional[dict[str, Any]] = None
        self._resume_state: Optional[dict[str, Any]] = None

        if prepare_output:
            self._prepare_output()  # unwritable / occupied output is rejected before any work
        # (config.json is written by _start_output once the data and model checks have passed)

        # Networks (seeded: identical initial weights on every rank).
        seed_everything(cfg.run.seed)
        self.model = build_segmentation_model(cfg.model)
        self.normalization = getattr(self.model, "normalization", "imagenet")

        # Data (errors name the config field).
        self._build_data()
        self._check_classes()

        self.model.to(self.device)
        if cfg.run.channels_last:
            self.model.to(memory_format=torch.channels_last)
        self.discriminators: dict[str, nn.Module] = {}
        if self.use_adv:
            from .models import FCDiscriminator  # noqa: PLC0415

            self.discriminators["main"] = FCDiscriminator(cfg.model.num_classes, ndf=cfg.model.ndf).to(self.device)
            if self.multi_level:
                self.discriminators["aux"] = FCDiscriminator(cfg.model.num_classes, ndf=cfg.model.ndf).to(self.device)
        self._build_optimizers()

        # DistributedDataParallel wrappers (the bare modules stay in self.model / discriminators).
        self.net: nn.Module = self.model
        self.d_nets: dict[str, nn.Module] = dict(self.discriminators)
        if self.dist.enabled:
            from torch.nn.parallel import DistributedDataParallel as DDP  # noqa: PLC0415

            ids = [self.device.index] if self.device.type == "cuda" else None
            self.net = DDP(self.model, device_ids=ids)
            self.d_nets = {k: DDP(d, device_ids=ids) for k, d in self.discriminators.items()}

        if prepare_output:
            self._start_output()
        if cfg.run.resume and self._resume_state is not None:
            self._load_state(self._resume_state)
            self._resume_state = None
        self._start_streams()

    # ----------------------------------------------------------------- setup
    def _prepare_output(self) -> None:
        cfg = self.cfg
        ckpt = self.out / CHECKPOINT_LAST
        if self.is_main:
            try:
                self.out.mkdir(parents=True, exist_ok=True)
                probe = self.out / f".write-probe-{os.getpid()}"
                probe.write_text("ok")
                probe.unlink()
            except OSError as err:
                raise OSError(f"out: output directory {str(self.out)!r} is not writable: {err}") from None
            occupied = ckpt.exists() or (self.out / "final.json").exists()
            if occupied and not (cfg.run.resume or cfg.run.overwrite):
                raise FileExistsError(
                    f"out: {str(self.out)!r} already holds a run; pass --resume to continue it, "
                    f"--overwrite to replace it, or choose another --out"
                )
        if cfg.run.resume and ckpt.exists():
            state = load_checkpoint(ckpt)
            self._check_resume_config(state["config"])
            self._resume_state = state

    def _start_output(self) -> None:
        """A fresh run: remove a replaced run's files and write ``config.json`` (after all checks)."""
        if self.is_main and self._resume_state is None:
            for name in ("metrics.jsonl", "final.json", CHECKPOINT_LAST, CHECKPOINT_BEST):
                (self.out / name).unlink(missing_ok=True)
            self.cfg.to_json(self.out / "config.json")
        if self.dist.enabled:
            barrier()

    def _check_resume_config(self, saved: dict[str, Any]) -> None:
        now = self.cfg.to_dict()
        diffs = []
        for section, values in saved.items():
            if not isinstance(values, dict):
                continue
            for key, value in values.items():
                if (section, key) in _RESUME_FREE:
                    continue
                if json.dumps(value) != json.dumps(now.get(section, {}).get(key)):
                    diffs.append(f"{key} (run: {value!r}, now: {now.get(section, {}).get(key)!r})")
        if diffs:
            raise ValueError(
                "resume: the configuration differs from the run being resumed in " + "; ".join(diffs)
            )

    def _build_data(self) -> None:
        cfg, d = self.cfg, self.cfg.data
        norm = self.normalization
        oracle = cfg.loss.method == "oracle"
        if oracle:  # the upper bound: supervised training on the labelled target set
            self.src_train = build_dataset(d.target, "train", _train_transform(d.target_size, d.hflip, norm), d, "target")
            if not getattr(self.src_train, "has_labels", True):
                raise ValueError(f"target: method 'oracle' needs a labelled target set, {d.target!r} has no labels")
        else:
            self.src_train = build_dataset(d.source, "train", _train_transform(d.source_size, d.hflip, norm), d, "source")
            if not getattr(self.src_train, "has_labels", True):
                raise ValueError(f"source: the source set {d.source!r} has no labels")
        self.tgt_train = None
        if self.use_target_images:  # images only: the label files are not even opened
            self.tgt_train = build_dataset(d.target, "train", _train_transform(d.target_size, d.hflip, norm), d,
                                           "target", labels=False)
        ev = _eval_transform(d.eval_size, norm)
        self.val_sets = {
            "source": (d.source_val or d.source, build_dataset(d.source_val or d.source, "val", ev, d, "source_val")),
            "target": (d.target_val or d.target, build_dataset(d.target_val or d.target, "val", ev, d, "target_val")),
        }

    def _check_classes(self) -> None:
        k = self.cfg.model.num_classes
        model_k = getattr(self.model, "num_classes", k)
        if model_k != k:
            raise ValueError(f"num_classes: config says {k} but model {self.cfg.model.arch!r} has {model_k}")
        named = [("source" if self.cfg.loss.method != "oracle" else "target", self.src_train)]
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

    def _build_optimizers(self) -> None:
        cfg, o = self.cfg, self.cfg.optim
        if "head_lr_mult" in inspect.signature(self.model.param_groups).parameters:
            groups = self.model.param_groups(o.lr, head_lr_mult=o.head_lr_mult)
        else:  # the contract's param_groups(lr) gives the heads 10x lr: rescale to head_lr_mult
            groups = self.model.param_groups(o.lr)
            for g in groups:
                if not math.isclose(g["lr"], o.lr) and math.isclose(g["lr"], 10 * o.lr):
                    g["lr"] = o.lr * o.head_lr_mult
        if o.optimizer == "sgd":
            self.opt = torch.optim.SGD(groups, lr=o.lr, momentum=o.momentum, weight_decay=o.weight_decay)
        else:
            self.opt = torch.optim.Adam(groups, lr=o.lr, betas=tuple(o.betas), weight_decay=o.weight_decay)
        horizon = o.schedule_iterations or o.iterations
        power = o.power

        def g_factor(it: int) -> float:
            return poly_factor(it, horizon, power) if o.schedule == "poly" else 1.0

        def d_factor(it: int) -> float:
            return poly_factor(it, horizon, power) if o.d_schedule == "poly" else 1.0

        self.sched = torch.optim.lr_scheduler.LambdaLR(self.opt, g_factor)
        self.d_opts: dict[str, torch.optim.Optimizer] = {}
        self.d_scheds: dict[str, Any] = {}
        for k, d in self.discriminators.items():
            self.d_opts[k] = torch.optim.Adam(d.parameters(), lr=o.d_lr, betas=tuple(o.d_betas))
            self.d_scheds[k] = torch.optim.lr_scheduler.LambdaLR(self.d_opts[k], d_factor)

    def _start_streams(self) -> None:
        d, seed = self.cfg.data, self.cfg.run.seed
        self.src_iter = _make_stream(self.src_train, seed, SOURCE_STREAM, d.batch_size, d.num_workers,
                                     self.dist, self.iteration, with_labels=True)
        self.tgt_iter = None
        if self.tgt_train is not None:
            self.tgt_iter = _make_stream(self.tgt_train, seed, TARGET_STREAM, d.batch_size, d.num_workers,
                                         self.dist, self.iteration, with_labels=False)

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
        set_rng_state(state["rng"])
        self.iteration = int(state["iteration"])
        self.elapsed = float(state["elapsed"])
        self.best = json.loads(state.get("best", "null"))

    def save(self, name: str = CHECKPOINT_LAST, extra: Optional[dict[str, Any]] = None) -> Optional[Path]:
        """Write a checkpoint atomically (rank 0 only)."""
        if not self.is_main:
            return None
        state = self.state_dict()
        if extra:
            state.update(extra)
        return save_checkpoint(self.out / name, state)

    # ----------------------------------------------------------------- one iteration
    def _autocast(self):
        if self.cfg.run.bf16:
            return torch.autocast(device_type=self.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def _to_device(self, x: Tensor) -> Tensor:
        x = x.to(self.device, non_blocking=True)
        if self.cfg.run.channels_last and x.dim() == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        return x

    def step(self) -> dict[str, Tensor]:
        """One training iteration (Eq. 6 for the network, Eq. 5 for the discriminators).

        Returns the detached loss terms (scalars): ``seg``, ``seg_aux``, ``adv``, ``adv_aux``,
        ``pfr``, ``pfr_style_i`` / ``pfr_content_i`` per stage, ``total``, ``d``, ``d_aux``,
        ``d_acc_source``, ``d_acc_target``, ``lr``. Raises :class:`NonFiniteLossError`.
        """
        cfg, w = self.cfg, self.weights
        kind = cfg.loss.gan
        self.net.train()
        self.opt.zero_grad(set_to_none=True)
        for d in self.discriminators.values():
            _set_requires_grad(d, False)  # frozen while the segmentation network learns

        terms: dict[str, Tensor] = {}
        logs: dict[str, Tensor] = {}

        # 1. source forward, Eq. (1)
        xs, ys = next(self.src_iter)
        xs, ys = self._to_device(xs), ys.to(self.device, non_blocking=True)
        with self._autocast():
            out_s = self.net(xs)
        logits_s = _upsample(out_s.logits.float(), xs.shape[-2:])
        terms["seg"] = losses.segmentation_loss(logits_s, ys)
        aux_s = None
        if self.multi_level:
            aux_s = _upsample(out_s.aux_logits.float(), xs.shape[-2:])
            terms["seg_aux"] = losses.segmentation_loss(aux_s, ys)

        # 2. target forward, fooling side of Eq. (5)
        logits_t = aux_t = None
        if self.tgt_iter is not None:
            xt = self._to_device(next(self.tgt_iter))
            with self._autocast():
                out_t = self.net(xt)
            if self.use_adv:
                logits_t = _upsample(out_t.logits.float(), xt.shape[-2:])
                d_out = self.discriminators["main"](F.softmax(logits_t, dim=1))
                terms["adv"] = losses.generator_loss(d_out, kind)
                if self.multi_level:
                    aux_t = _upsample(out_t.aux_logits.float(), xt.shape[-2:])
                    d_aux = self.discriminators["aux"](F.softmax(aux_t, dim=1))
                    terms["adv_aux"] = losses.generator_loss(d_aux, kind)
            # 3. PFR, Eq. (4), on the stage features of the two forwards above
            if self.use_pfr:
                feats_s = [f.float() for f in out_s.features]
                if cfg.loss.pfr_detach_source:
                    feats_s = [f.detach() for f in feats_s]
                pfr = losses.pfr_loss(
                    feats_s,
                    [f.float() for f in out_t.features],
                    stages=tuple(cfg.loss.pfr_stages),
                    style_weight=cfg.loss.style_weight,
                    content_weight=cfg.loss.content_weight,
                    gram_normalize=cfg.loss.gram_normalize,
                    content_form=cfg.loss.content_form,
                    style_pairing=cfg.loss.style_pairing,
                )
                terms["pfr"] = pfr.total
                for s, v in pfr.style.items():
                    logs[f"pfr_style_{s}"] = v
                for s, v in pfr.content.items():
                    logs[f"pfr_content_{s}"] = v

        # 4. Eq. (6) and the network step
        total = sum(w[k] * v for k, v in terms.items())
        self._guard({**terms, "total": total})
        total.backward()
        if cfg.optim.grad_clip is not None:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.optim.grad_clip)
        lr = self.opt.param_groups[0]["lr"]
        self.opt.step()
        self.sched.step()

        # 5. discriminator step(s) on detached softmax outputs, Eq. (5)
        if self.use_adv:
            pairs = [("main", logits_s, logits_t)]
            if self.multi_level:
                pairs.append(("aux", aux_s, aux_t))
            for k, ls, lt in pairs:
                d, d_net, opt = self.discriminators[k], self.d_nets[k], self.d_opts[k]
                _set_requires_grad(d, True)
                opt.zero_grad(set_to_none=True)
                d_src = d_net(F.softmax(ls.detach(), dim=1))
                d_tgt = d_net(F.softmax(lt.detach(), dim=1))
                loss_d = losses.discriminator_loss(d_src, d_tgt, kind)
                name = "d" if k == "main" else "d_aux"
                self._guard({name: loss_d})
                loss_d.backward()
                opt.step()
                self.d_scheds[k].step()
                logs[name] = loss_d.detach()
                if k == "main":
                    acc_s, acc_t = _d_accuracy(d_src.detach(), d_tgt.detach(), kind)
                    logs["d_acc_source"], logs["d_acc_target"] = acc_s, acc_t

        self.iteration += 1
        out = {k: v.detach() for k, v in terms.items()}
        out["total"] = total.detach()
        out.update(logs)
        out["lr"] = torch.tensor(lr)
        return out

    def _guard(self, terms: dict[str, Tensor]) -> None:
        """The NaN/inf guard: one check per call; on failure name the offending loss term."""
        values = torch.stack([v.detach().float().reshape(()) for v in terms.values()])
        finite = torch.isfinite(values).all()
        if self.dist.enabled:  # every rank stops together (a lone raise would hang the others)
            flag = (~finite).to(torch.int32).reshape(1)
            if self.device.type != "cuda":
                flag = flag.cpu()
            finite = all_reduce_sum(flag)[0] == 0
        if bool(finite):
            return
        bad = [k for k, v in terms.items() if not bool(torch.isfinite(v.detach()).all())] or ["(on another rank)"]
        ckpt = self.out / CHECKPOINT_LAST
        kept = (
            f"the last good checkpoint {ckpt} (iteration {self._checkpoint_iteration(ckpt)}) is kept"
            if ckpt.exists() else "no checkpoint had been written yet"
        )
        raise NonFiniteLossError(
            f"non-finite loss at iteration {self.iteration + 1}: term "
            + ", ".join(f"{k!r} = {float(terms[k].detach().float().reshape(-1)[0])}" if k in terms else k
                        for k in bad)
            + f" (method {self.cfg.loss.method!r}); training stopped; {kept}"
        )

    @staticmethod
    def _checkpoint_iteration(path: Path) -> Any:
        try:
            return int(torch.load(path, map_location="cpu", weights_only=True)["iteration"])
        except Exception:  # noqa: BLE001
            return "?"

    # ----------------------------------------------------------------- validation
    def validate(self, which: tuple[str, ...] = ("source", "target"), limit: Optional[int] = None) -> dict[str, Any]:
        """mIoU of the current model on the val sets (sharded over ranks, summed confusion).

        ``limit`` caps the number of images per set (periodic validation uses ``val_limit``).
        """
        from .evaluate import evaluate_model  # noqa: PLC0415

        results = {}
        for name in which:
            spec, ds = self.val_sets[name]
            res = evaluate_model(
                self.model, ds, device=self.device, batch_size=max(1, self.cfg.data.batch_size),
                limit=limit, bf16=self.cfg.run.bf16,
                channels_last=self.cfg.run.channels_last, shard=(self.dist.rank, self.dist.world_size),
            )
            if self.dist.enabled:
                all_reduce_sum(res.confusion)
            results[name] = {"spec": spec, **res.to_dict()}
        return results

    # ----------------------------------------------------------------- the loop
    def run(self) -> TrainResult:
        """Train to ``iterations``, with logging, periodic validation and checkpoints."""
        from tqdm.auto import tqdm  # noqa: PLC0415

        cfg = self.cfg
        total_it = cfg.optim.iterations
        metrics_path = self.out / "metrics.jsonl"
        if self.is_main:
            _truncate_metrics(metrics_path, self.iteration)
        bar = tqdm(total=total_it, initial=self.iteration, disable=not (self.is_main and cfg.run.progress),
                   desc=cfg.loss.method, mininterval=1.0, dynamic_ncols=True)
        t0 = time.perf_counter() - self.elapsed
        try:
            while self.iteration < total_it:
                terms = self.step()
                it = self.iteration
                bar.update(1)
                self.elapsed = time.perf_counter() - t0
                if it % cfg.run.log_every == 0 or it == total_it:
                    rec = {"iter": it, **{k: float(v) for k, v in terms.items()}, "time": round(self.elapsed, 3)}
                    self._log(metrics_path, rec)
                    bar.set_postfix({k: f"{rec[k]:.3g}" for k in ("seg", "adv", "pfr", "d") if k in rec}, refresh=False)
                if cfg.run.val_every and it % cfg.run.val_every == 0 and it < total_it:
                    self._periodic_validation(metrics_path, it)
                    self.elapsed = time.perf_counter() - t0
                if it % cfg.run.checkpoint_every == 0 or it == total_it:
                    self.elapsed = time.perf_counter() - t0
                    self.save(CHECKPOINT_LAST)
        finally:
            bar.close()
        if self.iteration == total_it and self.is_main and not (self.out / CHECKPOINT_LAST).exists():
            self.save(CHECKPOINT_LAST)
        final = self._final()
        if self.dist.enabled:
            barrier()
        return TrainResult(out=self.out, final=final, config=cfg)

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
        final = {
            "method": self.cfg.loss.method,
            "preset": self.cfg.preset_name,
            "seed": self.cfg.run.seed,
            "arch": self.cfg.model.arch,
            "iterations": self.iteration,
            "world_size": self.dist.world_size,
            "effective_weights": self.weights,
            "source_miou": res["source"]["miou"],
            "target_miou": res["target"]["miou"],
            "source_val": res["source"],
            "target_val": res["target"],
            "wall_time_s": round(self.elapsed, 2),
            "checkpoint": CHECKPOINT_LAST,
            "note": "mIoU are fractions (0..1) of the final model; 'best_on_val' (if any) was selected "
                    "on the target val set and is optimistic.",
            "best_on_val": self.best,
        }
        if self.is_main:
            write_json(self.out / "final.json", final)
        return final

    def _log(self, path: Path, rec: dict[str, Any]) -> None:
        if not self.is_main:
            return
        with open(path, "a") as f:
            f.write(json.dumps(to_jsonable(rec)) + "\n")


def _truncate_metrics(path: Path, iteration: int) -> None:
    """Drop records after ``iteration`` (written by a run killed after its last checkpoint)."""
    if not path.exists():
        return
    keep = []
    for line in path.read_text().splitlines():
        try:
            rec = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line cut by the kill
        if rec.get("iter", 0) <= iteration:
            keep.append(line)
    text = "".join(line + "\n" for line in keep)
    atomic_write(path, lambda f: f.write(text), mode="w")


# --------------------------------------------------------------------------- API + CLI
def train(config: TrainConfig, dist_info: Optional[DistInfo] = None) -> TrainResult:
    """Train one run described by ``config`` (the Python API; notebooks call this).

    Under ``torchrun`` (``WORLD_SIZE > 1``) the process group is joined here and left at the end.
    Returns a :class:`TrainResult` (``.final`` is the content of ``final.json``).
    """
    config.validate()
    own_group = False
    if dist_info is None:
        dev = config.run.device
        dev_type = "cuda" if (dev.startswith("cuda") or (dev == "auto" and torch.cuda.is_available())) else "cpu"
        dist_info = init_from_env(dev_type)
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
        description="Train source_only / adaptsegnet / pfr / pfr_adv / oracle (Eq. 6).",
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
