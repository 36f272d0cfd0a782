"""Both stages of an input-space method (``cycada``, ``dlow``, ``tgcf_da``) as one run.

0. **the frozen source model** ``f_S`` (CyCADA's semantic consistency, TGCF-DA's semantic
   constraint): ``semantic_reference`` if given, else a ``source_only`` run of
   ``reference_iterations`` into ``OUT/reference`` (an ordinary :func:`pfrlib.train.train` run,
   reused when its configuration is the same);
1. **the translator** (:mod:`pfrlib.translation.stage1`) into ``OUT/translation``, which writes the
   translated source training set ``OUT/translation/set`` (a ``folder:`` dataset);
2. **the segmentation network**: :func:`pfrlib.train.train` with the source spec pointing at the
   translated set (validation still on the *original* source val set), method ``stage2_method``
   (CyCADA, DLOW: ``adaptsegnet``, pixel + output-space adaptation; ``source_only``: pixel-level
   only; TGCF-DA: ``mean_teacher``, :mod:`pfrlib.translation.mean_teacher`), into
   ``OUT/segmentation``.

``OUT/final.json`` is stage 2's ``final.json`` with ``method`` set to the input-space method and
a ``translation`` entry (stage 1's parameters, iterations, seconds, whether it was reused).

Command line (the segmentation options are :mod:`pfrlib.cli`'s, the translator's are
:class:`~pfrlib.translation.config.TranslationConfig`'s fields)::

    python -m pfrlib.translation --preset cpu --method cycada --out runs/cycada \
        --translation-iterations 300 --iterations 600

``--iterations`` is stage 2's, ``--translation-iterations`` stage 1's.
"""

from __future__ import annotations

import argparse
import json
import sys
import typing
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Optional

import torch

from .. import models
from ..checkpoint import CHECKPOINT_LAST, load_checkpoint
from ..cli import add_arguments, config_from_args
from ..config import TrainConfig, _coerce, _type_name, _unwrap_optional
from ..io import write_json
from ..train import resolve_device, train
from ..distributed import DistInfo
from .config import TRANSLATION_METHODS, TranslationConfig
from .mean_teacher import MEAN_TEACHER_FILE, MeanTeacherTrainer
from .stage1 import TRANSLATION_DIR, run_stage1

__all__ = ["TranslationRun", "train_translation", "stage2_config", "reference_config", "main"]

REFERENCE_DIR = "reference"
SEGMENTATION_DIR = "segmentation"


@dataclass
class TranslationRun:
    """What :func:`train_translation` returns: the run directory and ``final.json``'s content."""

    out: Path
    final: dict[str, Any]

    @property
    def target_miou(self) -> float:
        return self.final["target_miou"]


def reference_config(cfg: TrainConfig, tcfg: TranslationConfig) -> TrainConfig:
    """The ``source_only`` run that gives the frozen source model ``f_S``."""
    return cfg.replace(method="source_only", iterations=tcfg.reference_iterations,
                       out=str(Path(cfg.run.out) / REFERENCE_DIR), resume=False, overwrite=False)


def stage2_config(method: str, cfg: TrainConfig, tcfg: TranslationConfig, translated_set: str | Path) -> TrainConfig:
    """Stage 2: ``cfg`` trained by ``tcfg.stage2(method)`` on the translated source set (the mean
    teacher is ``adaptsegnet`` without its adversary, plus :class:`MeanTeacherTrainer`'s term)."""
    d = cfg.data
    stage2 = tcfg.stage2(method)
    extra = {"lambda_adv": 0.0, "lambda_adv_aux": 0.0} if stage2 == "mean_teacher" else {}
    return cfg.replace(method="adaptsegnet" if stage2 == "mean_teacher" else stage2, **extra,
                       source=f"folder:{translated_set}", source_val=d.source_val or d.source,
                       out=str(Path(cfg.run.out) / SEGMENTATION_DIR))


def _mean_teacher(tcfg: TranslationConfig) -> dict[str, float]:
    return {"mean_teacher_alpha": tcfg.mean_teacher_alpha, "mean_teacher_noise": tcfg.mean_teacher_noise,
            "lambda_consistency": tcfg.lambda_consistency}


def _reuse_or_train(cfg: TrainConfig, progress, mean_teacher: Optional[dict[str, float]] = None) -> dict[str, Any]:
    """A finished run with the same configuration in ``cfg.run.out`` is reused, else trained
    (continued from its checkpoint when ``resume``; replaced when ``overwrite``); with
    ``mean_teacher`` settings, by :class:`MeanTeacherTrainer`."""
    out = Path(cfg.run.out)
    final, saved = out / "final.json", out / "config.json"
    mt_file = out / MEAN_TEACHER_FILE
    mt_same = (json.loads(mt_file.read_text()) == mean_teacher) if mt_file.is_file() else mean_teacher is None
    if final.is_file() and saved.is_file() and not cfg.run.overwrite and mt_same:
        same = TrainConfig.from_json(saved).replace(resume=cfg.run.resume, progress=cfg.run.progress,
                                                    num_threads=cfg.run.num_threads, device=cfg.run.device)
        if same == cfg:
            progress(f"reusing the finished run in {out}")
            return json.loads(final.read_text())
    resume = (out / CHECKPOINT_LAST).is_file() and not final.is_file() and cfg.run.resume
    if mean_teacher is None:
        return train(cfg.replace(resume=resume)).final
    return MeanTeacherTrainer(cfg.replace(resume=resume), mean_teacher["mean_teacher_alpha"],
                              mean_teacher["mean_teacher_noise"], mean_teacher["lambda_consistency"]).run().final


def _load_reference(cfg: TrainConfig, path: str, device: torch.device) -> torch.nn.Module:
    """The frozen ``f_S``: stage 2's architecture with the weights of a checkpoint of this project."""
    model = models.build_from_config(cfg.model, load_init=False)
    model.load_state_dict(load_checkpoint(path)["model"])
    return model.to(device).eval().requires_grad_(False)


def train_translation(method: str, cfg: TrainConfig, tcfg: TranslationConfig, *, stop_at: Optional[int] = None,
                      progress=lambda s: print(s, file=sys.stderr)) -> TranslationRun:
    """Train ``method`` (one of :data:`TRANSLATION_METHODS`) in both stages into ``cfg.run.out``.

    ``cfg`` is the segmentation stage's configuration (its ``method`` is replaced by
    ``tcfg.stage2_method``); ``stop_at`` interrupts stage 1 after that iteration's checkpoint
    (tests), returning ``final = {"stopped_at": n}``.
    """
    if method not in TRANSLATION_METHODS:
        raise ValueError(f"method: expected one of {TRANSLATION_METHODS}, got {method!r}")
    cfg = cfg.validate()
    tcfg = tcfg.validate()
    if cfg.run.num_threads is not None:
        torch.set_num_threads(cfg.run.num_threads)
    device = resolve_device(cfg.run.device, DistInfo())
    out = Path(cfg.run.out)
    out.mkdir(parents=True, exist_ok=True)
    reference = None
    if tcfg.needs_reference(method):
        path = tcfg.semantic_reference
        if path is None:
            progress(f"stage 0: the frozen source model ({tcfg.reference_iterations} iterations of source_only)")
            _reuse_or_train(reference_config(cfg, tcfg), progress)
            path = str(out / REFERENCE_DIR / CHECKPOINT_LAST)
        elif not Path(path).is_file():
            raise FileNotFoundError(f"semantic_reference: checkpoint {path!r} does not exist")
        reference = _load_reference(cfg, path, device)
    progress(f"stage 1: {method} translator, {tcfg.translation_iterations} iterations")
    stage1 = run_stage1(method, tcfg, cfg.data, cfg.run.seed, out, reference, device,
                        overwrite=cfg.run.overwrite, stop_at=stop_at, progress=progress)
    if "stopped_at" in stage1:
        return TranslationRun(out=out, final=stage1)
    stage2 = tcfg.stage2(method)
    progress(f"stage 2: {stage2} on the translated set, {cfg.optim.iterations} iterations")
    final = _reuse_or_train(stage2_config(method, cfg, tcfg, stage1["set"]), progress,
                            _mean_teacher(tcfg) if stage2 == "mean_teacher" else None)
    final = {**final, "method": method, "stage2_method": stage2,
             "translation": {"iterations": stage1["iterations"], "parameters": stage1["parameters"],
                             "seconds": stage1["seconds"], "reused": stage1["reused"],
                             "directory": TRANSLATION_DIR, "config": tcfg.to_dict()}}
    write_json(out / "final.json", final)
    return TranslationRun(out=out, final=final)


# --------------------------------------------------------------------------- command line
def add_translation_arguments(parser: argparse.ArgumentParser) -> None:
    """One ``--option`` per :class:`TranslationConfig` field (default: the preset's value)."""
    group = parser.add_argument_group("translation (stage 1)")
    hints = typing.get_type_hints(TranslationConfig)
    for f in fields(TranslationConfig):
        base, optional = _unwrap_optional(hints[f.name])
        nargs = "+" if typing.get_origin(base) is tuple else None
        group.add_argument("--" + f.name.replace("_", "-"), dest=f.name, default=None, nargs=nargs,
                           metavar=f.name.upper(), help=f"{_type_name(hints[f.name])}")


def configs_from_args(args: argparse.Namespace) -> tuple[str, TrainConfig, TranslationConfig]:
    """``(method, segmentation config, translation config)`` from parsed arguments."""
    method = args.method
    if method not in TRANSLATION_METHODS:
        raise ValueError(f"method: expected one of {TRANSLATION_METHODS}, got {method!r}")
    hints = typing.get_type_hints(TranslationConfig)
    overrides = {f.name: _coerce(getattr(args, f.name), hints[f.name], f.name)
                 for f in fields(TranslationConfig) if getattr(args, f.name, None) is not None}
    args.method = None
    cfg = config_from_args(args)
    return method, cfg, TranslationConfig.preset(args.preset, **overrides)


def main(argv: Optional[list[str]] = None) -> int:
    """``python -m pfrlib.translation``: see the module docstring."""
    parser = argparse.ArgumentParser(prog="python -m pfrlib.translation",
                                     description=f"Train an input-space method of Table 1: {', '.join(TRANSLATION_METHODS)}.")
    add_arguments(parser)
    add_translation_arguments(parser)
    args = parser.parse_args(argv)
    try:
        method, cfg, tcfg = configs_from_args(args)
        result = train_translation(method, cfg, tcfg)
    except (ValueError, FileNotFoundError, FileExistsError, OSError, FloatingPointError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    f = result.final
    print(f"{method}: source mIoU {100 * f['source_miou']:.1f}, target mIoU {100 * f['target_miou']:.1f} "
          f"(stage 1 {f['translation']['iterations']}, stage 2 {f['iterations']} iterations) -> "
          f"{result.out / 'final.json'}")
    return 0
