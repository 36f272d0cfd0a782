"""The run loop: train one method of Eq. (6) for ``iterations`` steps, validate, checkpoint.

One loop serves every method of the registry :mod:`pfrlib.methods`: the ablation ladder, each a
preset of the loss weights of Eq. (6) (:meth:`pfrlib.config.TrainConfig.effective_weights`), and
the Table-1 baselines that change only the losses (:mod:`pfrlib.methods.baselines`), whose
discriminators join AdaptSegNet's in :attr:`Trainer.discriminators` and whose own state is
``Trainer.baseline``'s.

:class:`Trainer` is the loop and nothing else. What one iteration computes is
:mod:`pfrlib.paper.step` (:func:`~pfrlib.paper.step.network_step`, Eq. 1-6, and
:func:`~pfrlib.paper.step.discriminator_step`, Eq. 5); what a run is built from (device options,
datasets, networks, optimisers) is :mod:`pfrlib.engine.setup`; its folder (one writer, the
pending/good checkpoints, ``--overwrite``, ``--resume``, a full disk) is
:class:`pfrlib.engine.rundir.RunDirectory`; the NaN watchdog is :mod:`pfrlib.engine.watchdog`. The loop
decides when to log, validate (:func:`pfrlib.engine.scoring.evaluate_model`) and checkpoint. At the
end it scores the last model, and the checkpoint chosen on target val (``keep_best``), on the
target test set (``target_test``; :func:`pfrlib.engine.scoring.score_on_test`), and keeps each
test image's confusion matrix (:data:`pfrlib.engine.record.TEST_CONFUSION`).

Reproducibility: the data streams are a pure function of ``(seed, stream, position)``
(:mod:`pfrlib.data.streams`), torch / numpy / python RNG states are checkpointed, and a resumed
run continues bit-exactly on CPU. The loss terms are checked for NaN/inf on the device every
iteration and read back once per log interval and around each checkpoint: a checkpoint becomes
the newest good one only once the next losses came back finite.

Python: ``result = train(TrainConfig.preset("cpu", method="pfr", out="runs/y"))``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from pfrlib import models
from pfrlib.engine.checkpoint import (CHECKPOINT_BEST, CHECKPOINT_LAST, CHECKPOINT_PENDING, load_states, rng_state,
    set_rng_state, states_of, weights_copy)
from pfrlib.config.train_config import TrainConfig
from pfrlib.data.transforms import normalize
from pfrlib.config.device import device_type, resolve_device
from pfrlib.engine.distributed import (DistInfo, all_reduce_sum, barrier, cleanup, init_from_env, joined,
                                      replicas_identical)
from pfrlib.io import to_jsonable
from pfrlib.engine.record import (PROGRESS_TERMS, FinalRecord, PerImageConfusion, current_calibration,
                                  run_method_stats, step_record, synthstreets_record)
from pfrlib.engine.setup import (build_networks, build_train_data, check_classes, device_options, TrainData,
    make_streams, rescale_learning_rates, seed_everything)
from pfrlib.engine.rundir import RunDirectory, RunFinished
from pfrlib.engine.scoring import evaluate_model, score_on_test
from pfrlib.methods.baselines import build_baseline
from pfrlib.paper.step import Baseline, StepExtras, discriminator_step, network_step
from pfrlib.engine.watchdog import FiniteCheck, NonFiniteLossError, all_finite
from pfrlib.engine.tensorboard import TensorBoardLog

__all__ = ["TrainResult", "Trainer", "train_loop"]



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


class Trainer:
    """One run's loop: step, log, validate, checkpoint. ``Trainer(config).run()`` trains and returns
    a :class:`TrainResult`; :meth:`step` runs one iteration. The run directory is taken before any
    work (a finished run resumed raises :class:`~pfrlib.engine.rundir.RunFinished`); with
    ``prepare_output=False`` there is none: the trainer can :meth:`step`, not :meth:`run`."""

    def __init__(self, config: TrainConfig, dist_info: Optional[DistInfo] = None,
                 prepare_output: bool = True) -> None:
        self.cfg = cfg = config.validate()
        self.dist = dist_info or DistInfo()
        self.is_main = self.dist.is_main
        if cfg.run.num_threads is not None:
            torch.set_num_threads(cfg.run.num_threads)
        self.device = resolve_device(cfg.run.device, self.dist.local_rank if self.dist.enabled else None)
        gpu = device_options(cfg, self.device)
        self.bf16, self.channels_last, self.pin_memory = gpu.bf16, gpu.channels_last, gpu.pin_memory
        self.out = Path(cfg.run.out)
        self.weights = cfg.effective_weights()
        self.use_adv = self.weights["adv"] > 0 or self.weights["adv_aux"] > 0
        self.multi_level = cfg.model.multi_level
        self.iteration, self.elapsed = 0, 0.0
        self.best: Optional[dict[str, Any]] = None  # the best periodic validation (keep_best)
        self.finite = FiniteCheck()
        # an unwritable, occupied or busy output is refused before any work
        self.rundir = RunDirectory(cfg, is_main=self.is_main) if prepare_output else None
        try:
            self._build()
        except BaseException:
            if self.rundir is not None:
                self.rundir.fail()  # a refused run leaves the folder as it found it
            raise

    def _build(self) -> None:
        """The parts of :mod:`pfrlib.engine.setup`, in the order the RNGs are drawn; then the run
        directory starts and a resume restores its checkpoint."""
        cfg = self.cfg
        seed_everything(cfg.run.seed)  # identical initial weights on every rank
        model = models.build_from_config(cfg.model)
        self.normalization = model.normalization
        data = self.train_data()
        check_classes(cfg, model, data)
        self.src_train, self.tgt_train, self.val_sets, self.test_set = data.source, data.target, data.val, data.test
        nets = build_networks(cfg, model, self.device, self.dist, self.use_adv, self.channels_last,
                              self.build_baseline)
        self.model, self.discriminators, self.baseline = nets.model, nets.discriminators, nets.baseline
        self.net, self.d_nets = nets.net, nets.d_nets  # DDP / compiled wrappers (or the same modules)
        self.opt, self.sched, self.d_opts, self.d_scheds = nets.opt, nets.sched, nets.d_opts, nets.d_scheds
        if self.rundir is not None:
            self.rundir.start()
            if self.dist.enabled:
                barrier()
            if self.rundir.resume_state is not None:
                self._load_state(self.rundir.resume_state)
                self.rundir.resume_state = None
                rescale_learning_rates(nets, self.rundir.resume_changes)
        self.src_iter, self.tgt_iter = make_streams(cfg, self.src_train, self.tgt_train, self.dist, self.iteration,
                                                    self.pin_memory)

    # ----------------------------------------------------------------- hooks a method's trainer overrides
    def train_data(self) -> TrainData:
        """The training and validation sets (DLOW's stage 2 adds each source image's weight)."""
        return build_train_data(self.cfg)

    def build_baseline(self, model: nn.Module) -> Optional[Baseline]:
        """The method's extra terms and networks, made once the model is on its device and before
        the optimiser: the registry's baseline for ``--method`` (or none); TGCF-DA's stage 2 makes
        its mean teacher."""
        if self.cfg.method_info.self_training:
            raise ValueError(f"method: {self.cfg.loss.method!r} is trained round by round by "
                             f"pfrlib.engine.two_stage.self_training (pfrlib.engine.run.train)")
        return build_baseline(self.cfg, model, self.src_train)

    # ----------------------------------------------------------------- state
    def _parts(self) -> dict[str, Any]:
        """The stateful parts of the run, by their checkpoint keys."""
        return {"model": self.model, "discriminators": self.discriminators, "optimizer": self.opt,
                "scheduler": self.sched, "d_optimizers": self.d_opts, "d_schedulers": self.d_scheds,
                "baseline": self.baseline}

    def state_dict(self) -> dict[str, Any]:
        """Everything a bit-exact resume needs."""
        return {"format": "pfrlib-checkpoint-1", "iteration": self.iteration, "elapsed": self.elapsed,
                "config": self.cfg.to_dict(), **states_of(self._parts()), "rng": rng_state(),
                "best": json.dumps(to_jsonable(self.best))}

    def _load_state(self, state: dict[str, Any]) -> None:
        load_states(self._parts(), state)
        set_rng_state(state["rng"])
        self.iteration, self.elapsed = int(state["iteration"]), float(state["elapsed"])
        self.best = json.loads(state.get("best", "null"))

    def save(self, name: str = CHECKPOINT_LAST, extra: Optional[dict[str, Any]] = None) -> Optional[Path]:
        """A checkpoint (rank 0; ``CHECKPOINT_PENDING`` waits for the next finite losses); never non-finite."""
        state = None
        if self.is_main:
            state = {**self.state_dict(), **(extra or {})}
            if not all_finite(state):
                self._stop(f"the weights or optimiser state became non-finite by iteration {self.iteration}")
        if name == CHECKPOINT_PENDING:
            return self.rundir.save_pending(self.iteration, state)
        return self.rundir.save(name, state)

    # ----------------------------------------------------------------- one iteration
    def _images(self, x: Tensor) -> Tensor:
        """uint8 batch -> normalised float on the device (channels_last when enabled)."""
        x = normalize(x.to(self.device, non_blocking=True), self.normalization)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return x

    def step_extras(self, item_extras: list[Tensor]) -> StepExtras:
        """The method's hooks and the run's options for this iteration's :func:`network_step`.

        ``item_extras`` are what the source stream gives beyond ``(image, label)`` (a method's
        own data, e.g. DLOW's per-image weights); the ladder and the baselines have none. A
        method's trainer overrides this to add its own (:mod:`pfrlib.engine.two_stage`)."""
        cfg = self.cfg
        return StepExtras(
            baseline=self.baseline, iteration=self.iteration, horizon=cfg.optim.schedule_iterations or cfg.optim.iterations,
            target_size=cfg.data.target_size if cfg.data.image_scales else None,  # CLAN's rescaled inputs
            autocast=self.bf16, grad_clip=cfg.optim.grad_clip,
            clip_parameters=list(self.model.parameters()) if cfg.optim.grad_clip is not None else None)

    def step(self) -> dict[str, Tensor]:
        """One training iteration (Eq. 6 for the network, Eq. 5 for the discriminators).

        Returns the detached loss terms (device scalars): ``seg``, ``seg_aux``, ``adv``, ``adv_aux``,
        ``pfr``, ``total``, ``pfr_style_i`` / ``pfr_content_i`` per stage, ``d``, ``d_aux``, ``d_acc_source``,
        ``d_acc_target``, ``lr``. Non-finite terms are recorded in :attr:`finite` (checked by :meth:`check_finite`)."""
        cfg = self.cfg
        self.net.train()
        xs, ys, *weights = next(self.src_iter)  # a weighted set (DLOW) adds each image's weight
        xt = next(self.tgt_iter).to(self.device, non_blocking=True) if self.tgt_iter is not None else None
        if self.baseline is not None and xt is not None:  # a method's restyled source batch (FDA, hist_match)
            xs = self.baseline.source_images(xs.to(self.device, non_blocking=True), xt)
        source = (self._images(xs), ys.to(self.device, non_blocking=True))
        target = self._images(xt) if xt is not None and (self.baseline is None or self.baseline.forwards_target) else None
        lr = self.opt.param_groups[0]["lr"]
        ns = network_step(self.net, self.discriminators, self.opt, source, target, self.weights, cfg.loss,
                          self.step_extras(weights))
        self.sched.step()
        d_logs = discriminator_step(self.d_nets, self.discriminators, self.d_opts, ns.outputs, cfg.loss.gan,
                                    autocast=self.bf16) if ns.outputs else {}
        for s in self.d_scheds.values():
            s.step()
        self.iteration += 1
        out = {**{k: v.detach() for k, v in ns.terms.items()}, "total": ns.total.detach(), **ns.stage_terms, **d_logs}
        self.finite.update({k: v for k, v in out.items() if k not in ("d_acc_source", "d_acc_target")}, self.iteration)
        out["lr"] = torch.tensor(lr)
        return out

    def check_finite(self) -> None:
        """One sync: stop naming the first non-finite term (all ranks), else confirm a pending checkpoint."""
        what = self.finite.verdict(self.weights, all_reduce_sum if self.dist.enabled else None)
        if what is not None:
            self._stop(what)
        if self.rundir is not None:
            self.rundir.confirm_pending()

    def _stop(self, what: str) -> None:
        kept = self.rundir.discard_pending() if self.rundir is not None else "nothing is saved without a run directory"
        raise NonFiniteLossError(f"{what} (method {self.cfg.loss.method!r}); training stopped; {kept}")

    # ----------------------------------------------------------------- validation
    def validate(self, which: tuple[str, ...] = ("source", "target"), limit: Optional[int] = None) -> dict[str, Any]:
        """mIoU of the current model on the val sets (sharded over ranks, summed confusion); ``limit``
        caps the images per set (periodic validation uses ``val_limit``)."""
        results = {}
        for name in which:
            spec, ds = self.val_sets[name]
            res = evaluate_model(self.model, ds, limit=limit, **self._eval_options())
            if self.dist.enabled:  # summed on the device: nccl reduces CUDA tensors only
                res.confusion = all_reduce_sum(res.confusion.to(self.device)).cpu()
            results[name] = {"spec": spec, **res.to_dict()}
        return results

    def _eval_options(self) -> dict[str, Any]:
        """How this run scores a model: its device options, and this rank's share (``rank::world_size``)."""
        d = self.cfg.data
        return dict(device=self.device, batch_size=max(1, d.batch_size), num_workers=d.num_workers, bf16=self.bf16,
                    channels_last=self.channels_last, shard=(self.dist.rank, self.dist.world_size))

    # ----------------------------------------------------------------- the loop
    def run(self) -> TrainResult:
        """Train to ``iterations``, with logging, periodic validation and checkpoints."""
        if self.rundir is None:
            raise ValueError("Trainer(prepare_output=False) has no run directory: it can step(), not run()")
        try:
            return self._run()
        except BaseException:
            self.rundir.fail()  # a run it replaced comes back if this one stopped before a good checkpoint
            raise

    def _run(self) -> TrainResult:
        cfg, rundir = self.cfg, self.rundir
        total_it = cfg.optim.iterations
        bar = tqdm(total=total_it, initial=self.iteration, disable=not (self.is_main and cfg.run.progress),
                   desc=cfg.loss.method, mininterval=1.0, dynamic_ncols=True)
        t0 = time.perf_counter() - self.elapsed
        self.board = TensorBoardLog(
            self.out, enabled=self.is_main and cfg.run.tensorboard, start=self.iteration, model=self.model,
            schedulers={"network": self.sched, **{f"discriminator_{k}": s for k, s in self.d_scheds.items()}},
            samples=self.val_sets["target"][1], device=self.device, bf16=self.bf16)
        try:
            while self.iteration < total_it:
                terms = self.step()
                it = self.iteration
                bar.update(1)
                self.elapsed = time.perf_counter() - t0
                logging = it % cfg.run.log_every == 0 or it == total_it
                checkpointing = it % cfg.run.checkpoint_every == 0 or it == total_it
                if logging or checkpointing or rundir.pending is not None:
                    self.check_finite()  # the only host sync of the loop; confirms a pending checkpoint
                if logging:
                    rec = step_record(it, terms, self.elapsed)
                    rundir.log(rec)
                    self.board.log_step(it, rec)
                    bar.set_postfix({k: f"{rec[k]:.3g}" for k in PROGRESS_TERMS if k in rec}, refresh=False)
                if cfg.run.val_every and it % cfg.run.val_every == 0 and it < total_it:
                    self._periodic_validation(it)
                    self.elapsed = time.perf_counter() - t0
                if checkpointing:
                    self.elapsed = time.perf_counter() - t0
                    self.save(CHECKPOINT_PENDING)
        finally:
            bar.close()
        if rundir.pending is not None:  # the final checkpoint: confirmed by a finite forward pass
            self._confirm_final()
        record, confusion = self._final()
        self.board.close()
        rundir.finish(record, confusion)
        if self.dist.enabled:
            barrier()
        return TrainResult(out=self.out, final=record.to_dict(), config=cfg)

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
        if not all_finite([out.logits] + ([out.aux_logits] if out.aux_logits is not None else [])):
            self._stop(f"the model after iteration {self.iteration} gives non-finite logits")
        self.check_finite()

    def _periodic_validation(self, it: int) -> None:
        res = self.validate(limit=self.cfg.data.val_limit)
        self.board.log_validation(it, res)
        self.rundir.log({"iter": it, "val_source_miou": res["source"]["miou"], "val_target_miou": res["target"]["miou"]})
        if self.cfg.run.keep_best and res["target"]["miou"] == res["target"]["miou"]:
            if self.best is None or res["target"]["miou"] > self.best["target_miou"]:
                self.best = {"iteration": it, "target_miou": res["target"]["miou"],
                             "source_miou": res["source"]["miou"], "selected_on": res["target"]["spec"]}
                self.save(CHECKPOINT_BEST, extra={"selected_on_val": self.best})

    def _final(self) -> tuple[FinalRecord, Optional[PerImageConfusion]]:
        """The run's ``final.json``: the final model's validation and test scores (with those of the
        checkpoint chosen on val), and what produced it; and the test images' confusion matrices."""
        res, cfg = self.validate(), self.cfg
        self.board.log_validation(self.iteration, res)
        test, best, confusion = None, self.best, None
        if self.test_set is not None:  # the last model, and the checkpoint chosen on val (never on test)
            chosen = None if self.best is None else weights_copy(self.model, self.out / CHECKPOINT_BEST, self.is_main)
            reduce = all_reduce_sum if self.dist.enabled else None
            test, chosen_test, confusion = score_on_test(self.model, chosen, self.test_set, reduce, **self._eval_options())
            best = best if chosen_test is None else {**best, "target_test": chosen_test}
        # under DDP every rank's copy of the weights must have stayed bitwise equal
        replicas = replicas_identical(self.model.parameters(), self.device) if self.dist.enabled else None
        return FinalRecord(
            method=cfg.loss.method, preset=cfg.preset_name, seed=cfg.run.seed, arch=cfg.model.arch,
            iterations=self.iteration, world_size=self.dist.world_size, replicas_identical=replicas,
            effective_weights=self.weights, source_miou=res["source"]["miou"], target_miou=res["target"]["miou"],
            source_val=res["source"], target_val=res["target"], wall_time_s=round(self.elapsed, 2),
            checkpoint=CHECKPOINT_LAST, target_test=test, best_on_val=best, calibration_s=current_calibration(),
            synthstreets=synthstreets_record(cfg.data),  # rank 0 writes metrics.jsonl and final.json
            method_stats=run_method_stats(self.out, self.baseline) if self.is_main else None), confusion


# --------------------------------------------------------------------------- API + CLI
def train_loop(config: TrainConfig, dist_info: Optional[DistInfo] = None) -> TrainResult:
    """Train one run of the loop of Eq. (6) described by ``config`` (any method but the two-stage
    ones, which :func:`pfrlib.engine.run.train` dispatches).

    Under ``torchrun`` (``WORLD_SIZE > 1``) the process group is joined here and left at the end,
    unless the caller had joined it (then the caller leaves it: several runs in one launch).
    Returns a :class:`TrainResult` (``.final`` is the content of ``final.json``). ``--resume`` of
    a run that already finished says so and returns its result without training or writing.
    """
    config.validate()
    if config.method_info.self_training:
        raise ValueError(f"method: {config.loss.method!r} trains an adapted model and rounds of pseudo-labels; "
                         f"start it with pfrlib.engine.run.train (python -m pfrlib.train)")
    own_group = False
    if dist_info is None:
        callers_group = joined()
        dist_info = init_from_env(device_type(config.run.device))
        own_group = dist_info.enabled and not callers_group
    try:
        return Trainer(config, dist_info=dist_info).run()
    except RunFinished as done:
        if dist_info.is_main:
            print(done, file=sys.stderr)
        return TrainResult(out=done.out, final=done.final, config=config)
    finally:
        if own_group:
            cleanup()
