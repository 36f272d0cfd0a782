"""Self-training as one run: an adapted model, then rounds of class-wise pseudo-labels
(``--method self_training``, ``pfr_adv_st``, ``adaptsegnet_st``).

``python -m pfrlib.train --preset cpu --method pfr_adv_st --out runs/st`` (``--iterations`` is each
round's, ``--st-stage1-iterations`` stage 1's; every ``self_training`` field is an option) calls
:func:`train_self_training` through :func:`pfrlib.engine.run.train`:

1. **the adapted model**: ``st_init`` if given (a ``checkpoint_last.pt`` of this project), else
   stage 1, the registry's ``stage1`` of the method (``pfr_adv`` for ``pfr_adv_st``) or the
   ``st_stage1`` field, trained by the run loop into ``OUT/stage1`` with the run's sections
   (reused when its configuration is the same, :func:`pfrlib.engine.two_stage.run.reuse_or_train`;
   with ``--stage-store DIR`` also across run folders, :mod:`pfrlib.engine.stage_store`: the runs
   of a sweep over a field of the rounds, e.g. ``st_lambda``, train one adapted model per seed);
2. **each round** ``r = 1 .. st_rounds`` into ``OUT/round_r``: the labelling model (the adapted
   model, then the previous round's) is run once over the target training split to count each
   class's confidences (:func:`pfrlib.methods.beyond.self_training.confidence_histogram`), which
   give the class thresholds (:func:`~pfrlib.methods.beyond.self_training.class_thresholds`);
   then :class:`SelfTrainingTrainer`, the run loop with the term ``st``: source Eq. (1) plus the
   cross-entropy of the target prediction against the labelling model's pseudo-labels of the same
   batch (:class:`~pfrlib.methods.beyond.self_training.SelfTraining`). The network starts from
   the labelling model (``st_start adapted``) or its own initialisation (``init``).

The pseudo-labels are made per batch by the frozen labelling model, on the very images the
student sees, rather than written once per round as image files (BDL's ``SSL.py``): the same
labels without augmentation (both presets), and no files to keep in step with a resumed stream;
one extra forward without gradients per iteration (docs/choices.md).

``OUT/config.json`` is the whole configuration; ``OUT/final.json`` is the last round's record with
``method`` set to the run's method, ``checkpoint`` pointing into ``round_R/``, and a
``self_training`` entry (stage 1's method and record, or the given checkpoint; each round's thresholds).
"""

from __future__ import annotations

import copy
import dataclasses
import sys
from pathlib import Path
from typing import Any, Callable, Optional

import torch
import torch.nn.functional as F
from torch import nn

from pfrlib import methods, models
from pfrlib.config.train_config import TrainConfig
from pfrlib.data.spec import build_dataset
from pfrlib.data.transforms import EvalTransform
from pfrlib.engine.checkpoint import CHECKPOINT_LAST, load_checkpoint
from pfrlib.engine.distributed import all_reduce_sum
from pfrlib.engine.trainer import Trainer
from pfrlib.engine.two_stage.run import reuse_or_train, stored_run_stage
from pfrlib.io import write_json
from pfrlib.methods.beyond.self_training import (CONFIDENCE_BINS, SelfTraining, SelfTrainingConfig,
    class_thresholds, confidence_histogram)

__all__ = ["SelfTrainingTrainer", "train_self_training", "stage1_method", "stage1_config", "round_config",
           "load_model_weights", "STAGE1_DIR", "round_dir"]

STAGE1_DIR = "stage1"


def round_dir(r: int) -> str:
    """The folder of round ``r`` (from 1) inside the run's output: ``round_1``, ..."""
    return f"round_{r}"


def stage1_method(cfg: TrainConfig) -> str:
    """The method stage 1 trains: the registry's ``stage1`` of ``cfg``'s method (``pfr_adv`` for
    ``pfr_adv_st``), else the ``st_stage1`` field (``self_training``)."""
    return cfg.method_info.stage1 or cfg.self_training.st_stage1


def stage1_config(cfg: TrainConfig) -> TrainConfig:
    """Stage 1: ``cfg``'s run trained by :func:`stage1_method` for ``st_stage1_iterations`` into
    ``OUT/stage1`` (its ``self_training`` section reset to the defaults: the rounds' settings do
    not change the adapted model, which is reused across them)."""
    st = cfg.self_training
    s1 = cfg.replace(method=stage1_method(cfg), iterations=st.st_stage1_iterations or cfg.optim.iterations,
                     out=str(Path(cfg.run.out) / STAGE1_DIR))
    return dataclasses.replace(s1, self_training=SelfTrainingConfig())


def round_config(cfg: TrainConfig, r: int) -> TrainConfig:
    """Round ``r``: ``cfg`` itself, into ``OUT/round_r``."""
    return cfg.replace(out=str(Path(cfg.run.out) / round_dir(r)))


def load_model_weights(model: nn.Module, path: str | Path, field: str) -> None:
    """Load the ``model`` weights of checkpoint ``path`` into ``model``; one line naming ``field``
    and the file when it is not a checkpoint of this network."""
    state = load_checkpoint(path)["model"]
    try:
        model.load_state_dict(state)
    except RuntimeError as err:
        first = str(err).strip().splitlines()
        detail = " ".join(line.strip() for line in first[1:3]) if len(first) > 1 else first[0]
        raise ValueError(f"{field}: checkpoint {path} does not fit the network this run builds "
                         f"({detail[:300]}); train it with the same arch, model_kwargs and multi_level") from None


def _images_only(items: list) -> torch.Tensor:
    """A batch of the images of ``(image, label)`` items (the target's labels are never read)."""
    return torch.stack([item[0] for item in items])


class SelfTrainingTrainer(Trainer):
    """The run loop with the pseudo-label term: one round of self-training.

    ``teacher_checkpoint`` is the labelling model (a ``checkpoint_last.pt``); the network starts
    from it (``st_start adapted``) or from its own initialisation. The class thresholds are
    counted over the target training split before the first iteration (every rank counts its
    share; the counts are summed) and saved with the run (the baseline's ``thresholds``), so a
    resumed round does not count them again.
    """

    def __init__(self, config: TrainConfig, teacher_checkpoint: str | Path, **kwargs: Any) -> None:
        if not config.method_info.self_training:
            raise ValueError(f"method: the self-training trainer trains a self-training method, got "
                             f"{config.loss.method!r}")
        self.teacher_checkpoint = Path(teacher_checkpoint)
        super().__init__(config, **kwargs)

    def build_baseline(self, model: nn.Module) -> SelfTraining:
        st = self.cfg.self_training
        field = "st_init" if st.st_init is not None and self.teacher_checkpoint == Path(st.st_init) else "teacher"
        teacher = copy.deepcopy(model)  # this network, on its device (no random number drawn)
        load_model_weights(teacher, self.teacher_checkpoint, field)
        teacher.eval().requires_grad_(False)
        if st.st_start == "adapted":
            model.load_state_dict(teacher.state_dict())
        resuming = self.rundir is not None and self.rundir.resume_state is not None
        k = self.cfg.model.num_classes
        thresholds = torch.zeros(k) if resuming else class_thresholds(
            self.count_confidences(teacher), st.st_percentile, st.st_max_threshold, st.st_thresholds)
        return SelfTraining(teacher, thresholds).to(self.device)

    @torch.no_grad()
    def count_confidences(self, teacher: nn.Module) -> torch.Tensor:
        """The labelling model's :func:`~pfrlib.methods.beyond.self_training.confidence_histogram`
        over the target training split, at ``target_size`` without augmentation (this rank's
        share; summed over the ranks)."""
        d = self.cfg.data
        ds = build_dataset(d.target, "train", EvalTransform(size=d.target_size, normalize=None), d, "target",
                           labels=False)
        share = torch.utils.data.Subset(ds, range(self.dist.rank, len(ds), self.dist.world_size))
        loader = torch.utils.data.DataLoader(share, batch_size=max(1, d.batch_size), num_workers=d.num_workers,
                                             collate_fn=_images_only)
        hist = torch.zeros(self.cfg.model.num_classes, CONFIDENCE_BINS, dtype=torch.int64, device=self.device)
        for images in loader:
            x = self._images(images)
            with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16):
                logits = teacher(x).logits
            logits = F.interpolate(logits.float(), size=x.shape[-2:], mode="bilinear", align_corners=True)
            hist += confidence_histogram(F.softmax(logits, dim=1))
        if self.dist.enabled:  # every rank reaches this, also one whose share is empty
            all_reduce_sum(hist)
        if not bool(hist.any()):
            raise ValueError(f"target: the target training split of {d.target!r} has no images to pseudo-label")
        return hist


def train_self_training(cfg: TrainConfig, *,
                        progress: Callable[[str], None] = lambda s: print(s, file=sys.stderr)) -> dict[str, Any]:
    """Train ``cfg.loss.method`` (a self-training method) into ``cfg.run.out``: stage 1 (unless
    ``st_init``), then ``st_rounds`` rounds. Returns the content of ``OUT/final.json``.

    Bad input (an ``st_init`` that is missing or does not fit the network, a stage-1 method that
    cannot be one) is refused with one line before anything is written."""
    if not cfg.method_info.self_training:
        raise ValueError(f"method: expected a self-training method {tuple(m.name for m in methods.methods() if m.self_training)}, "
                         f"got {cfg.loss.method!r}")
    cfg = cfg.validate()
    st = cfg.self_training
    if cfg.run.num_threads is not None:
        torch.set_num_threads(cfg.run.num_threads)
    if st.st_init is not None:  # the given model must load into this run's network
        load_model_weights(models.build_from_config(cfg.model, load_init=False), st.st_init, "st_init")
    else:
        stage1_config(cfg).validate()
    out = Path(cfg.run.out)
    out.mkdir(parents=True, exist_ok=True)
    if not (out / "final.json").is_file():  # a finished run keeps its config.json until this one replaces it
        cfg.to_json(out / "config.json")
    record: dict[str, Any] = {"rounds": st.st_rounds, "start": st.st_start}
    stored: dict[str, Any] = {}
    if st.st_init is not None:
        teacher = Path(st.st_init)
        record["init"] = str(teacher)
    else:
        s1 = stage1_config(cfg)
        progress(f"stage 1: {s1.loss.method}, {s1.optim.iterations} iterations")
        final1, stored["adapted"] = stored_run_stage(s1, progress)
        teacher = out / STAGE1_DIR / CHECKPOINT_LAST
        record["stage1"] = {"method": s1.loss.method, "iterations": final1["iterations"],
                            "target_miou": final1["target_miou"], "source_miou": final1["source_miou"],
                            "directory": STAGE1_DIR}

    thresholds = []
    final: dict[str, Any] = {}
    for r in range(1, st.st_rounds + 1):
        rc = round_config(cfg, r)
        progress(f"round {r}/{st.st_rounds}: self-training from {teacher}, {cfg.optim.iterations} iterations")
        final = reuse_or_train(rc, progress, own=(lambda c, t=teacher: SelfTrainingTrainer(c, t), None))
        teacher = out / round_dir(r) / CHECKPOINT_LAST
        saved = load_checkpoint(teacher)["baseline"]["thresholds"]
        thresholds.append([round(float(v), 6) for v in saved])
    record["thresholds"] = thresholds
    last = round_dir(st.st_rounds)
    final = {**final, "method": cfg.loss.method, "checkpoint": f"{last}/{final['checkpoint']}",
             "self_training": record}
    if cfg.run.stage_store is not None:  # stage 1's store entry, and whether it was linked from there
        final["stage_store"] = stored
    cfg.to_json(out / "config.json")  # with its final.json: a failed retrain never pairs a new config with an old result
    write_json(out / "final.json", final)
    return final
