"""Both stages of an input-space method (``cycada``, ``dlow``, ``tgcf_da``) as one run.

``python -m pfrlib.train --preset cpu --method cycada --out runs/cycada`` (``--iterations`` is
stage 2's, ``--translation-iterations`` stage 1's; every ``translation`` config field is an
option) calls :func:`train_translation` through :func:`pfrlib.engine.trainer.train`, which passes itself
and its ``Trainer`` in (the run loop imports this module, not the other way round):

0. **the frozen source model** ``f_S`` (CyCADA's semantic consistency, TGCF-DA's semantic
   constraint): ``semantic_reference`` if given, else a ``source_only`` run of
   ``reference_iterations`` into ``OUT/reference`` (reused when its configuration is the same);
1. **the translator** (:mod:`pfrlib.engine.two_stage.stage1`) into ``OUT/translation``, which writes the
   translated source training set ``OUT/translation/set`` (a ``folder:`` dataset);
2. **the segmentation network** on the translated set (validation still on the *original*
   source val set), by ``stage2_method`` (CyCADA, DLOW: ``adaptsegnet``, pixel + output-space
   adaptation, DLOW's adversarial term weighted by each image's domainness,
   :mod:`pfrlib.engine.two_stage.domainness`; ``source_only``: pixel-level only; TGCF-DA:
   ``mean_teacher``, :mod:`pfrlib.engine.two_stage.mean_teacher`), into ``OUT/segmentation``.

``OUT/config.json`` is the whole configuration; ``OUT/final.json`` is stage 2's record with
``method`` set to the input-space method, ``checkpoint`` pointing into ``segmentation/``, and a
``translation`` entry (stage 1's parameters, iterations, seconds, whether it was reused).

With ``--stage-store DIR`` (``RunConfig.stage_store``), stages 0 and 1 are also shared across run
folders (:mod:`pfrlib.engine.stage_store`): TGCF-DA's runs that differ only in a stage-2 field
(``STAGE2_FIELDS``, e.g. ``lambda_consistency``) train one translator; ``final.json``'s
``stage_store`` names each stage's entry and whether it was linked from there.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path
from typing import Any, Callable, Optional

import torch

from pfrlib import models
from pfrlib.engine.checkpoint import CHECKPOINT_LAST, load_checkpoint
from pfrlib.config.train_config import TrainConfig
from pfrlib.config.device import resolve_device
from pfrlib.io import file_sha256, write_json
from pfrlib.methods.translation.config import TRANSLATION_METHODS, TranslationConfig
from pfrlib.engine.two_stage.domainness import DomainnessTrainer
from pfrlib.engine.two_stage.mean_teacher import MEAN_TEACHER_FILE, MeanTeacherTrainer
from pfrlib.engine.trainer import train_loop
from pfrlib.engine.rundir import CONFIG_FILE, RUN_FILES
from pfrlib.engine.stage_store import StageStore, run_stage_key, translator_key
from pfrlib.engine.two_stage.stage1 import TRANSLATION_DIR, run_stage1, stage1_key, stage1_state

__all__ = ["train_translation", "stage2_config", "reference_config", "reuse_or_train", "stored_run_stage",
           "run_stage_state", "REFERENCE_DIR", "SEGMENTATION_DIR"]

REFERENCE_DIR = "reference"
SEGMENTATION_DIR = "segmentation"


def reference_config(cfg: TrainConfig) -> TrainConfig:
    """The ``source_only`` run that gives the frozen source model ``f_S`` (its ``translation``
    section reset to the defaults: the translator's settings do not change this run)."""
    ref = cfg.replace(method="source_only", iterations=cfg.translation.reference_iterations,
                      out=str(Path(cfg.run.out) / REFERENCE_DIR), resume=False, overwrite=False)
    return dataclasses.replace(ref, translation=TranslationConfig())


def stage2_config(cfg: TrainConfig, translated_set: str | Path) -> TrainConfig:
    """Stage 2: ``cfg`` trained by ``translation.stage2(method)`` on the translated source set (the
    mean teacher is ``adaptsegnet`` without its adversary, plus the teacher's term)."""
    d, stage2 = cfg.data, cfg.translation.stage2(cfg.loss.method)
    extra = {"lambda_adv": 0.0, "lambda_adv_aux": 0.0} if stage2 == "mean_teacher" else {}
    return cfg.replace(method="adaptsegnet" if stage2 == "mean_teacher" else stage2, **extra,
                       source=f"folder:{translated_set}", source_val=d.source_val or d.source,
                       out=str(Path(cfg.run.out) / SEGMENTATION_DIR))


def _own_trainer(cfg: TrainConfig, stage2: str) -> Optional[tuple[Callable, Optional[dict]]]:
    """Stage 2's own trainer when it is not the plain run loop: ``(make(config) -> trainer,
    settings)``: TGCF-DA's mean teacher (its settings, kept in :data:`MEAN_TEACHER_FILE`), or
    DLOW's domainness weighting (``None``: ``dlow_adv_weighting`` is in the run's config.json)."""
    tcfg = cfg.translation
    if stage2 == "mean_teacher":
        s = {"mean_teacher_alpha": tcfg.mean_teacher_alpha, "mean_teacher_noise": tcfg.mean_teacher_noise,
             "lambda_consistency": tcfg.lambda_consistency}
        return (lambda c: MeanTeacherTrainer(c, s["mean_teacher_alpha"], s["mean_teacher_noise"],
                                             s["lambda_consistency"])), s
    if cfg.loss.method == "dlow" and stage2 == "adaptsegnet" and tcfg.dlow_adv_weighting != "none":
        form = tcfg.dlow_adv_weighting
        return (lambda c: DomainnessTrainer(c, form)), None
    return None


def _same_run(saved: Path, cfg: TrainConfig) -> bool:
    """Whether the ``config.json`` ``saved`` is the run ``cfg`` (bookkeeping and the device aside:
    a stage trained on another device, or under another path, is reused)."""
    try:
        old = TrainConfig.from_json(saved)
    except (OSError, ValueError):
        return False
    return old.without_bookkeeping().replace(device=cfg.run.device) == cfg.without_bookkeeping()


def run_stage_state(cfg: TrainConfig) -> str:
    """What ``cfg.run.out`` holds for the run-loop stage ``cfg``: ``"finished"``, ``"free"``
    (nothing, this stage unfinished, or anything when ``overwrite``) or ``"other"`` (a run of
    another configuration, which :func:`reuse_or_train` refuses to replace), as
    :meth:`pfrlib.engine.stage_store.StageStore.obtain` asks."""
    out = Path(cfg.run.out)
    if not ((out / CHECKPOINT_LAST).is_file() or (out / "final.json").is_file()) or cfg.run.overwrite:
        return "free"
    if not _same_run(out / "config.json", cfg):
        return "other"
    return "finished" if (out / "final.json").is_file() else "free"


def stored_run_stage(cfg: TrainConfig, progress) -> tuple[dict[str, Any], Optional[dict[str, Any]]]:
    """The run-loop stage ``cfg`` (a reference, an adapted model) by :func:`reuse_or_train`,
    through the stage store when ``cfg.run.stage_store`` names one (:mod:`pfrlib.engine.stage_store`,
    kind ``run``): ``(its final.json, the store's {"entry", "linked"} or None)``."""
    if cfg.run.stage_store is None:
        return reuse_or_train(cfg, progress), None
    return StageStore(cfg.run.stage_store).obtain(
        "run", run_stage_key(cfg), Path(cfg.run.out), lambda: reuse_or_train(cfg, progress),
        here=run_stage_state(cfg), adopt=lambda dest: cfg.to_json(dest / CONFIG_FILE), files=RUN_FILES,
        progress=progress)


def reuse_or_train(cfg: TrainConfig, progress,
                   own: Optional[tuple[Callable, Optional[dict]]] = None) -> dict[str, Any]:
    """A finished run with the same configuration in ``cfg.run.out`` is reused, else trained
    (continued from its checkpoint when ``resume``; replaced when ``overwrite``); with ``own =
    (make, settings)`` (:func:`_own_trainer`), by ``make(cfg)``, and reused only when
    :data:`MEAN_TEACHER_FILE` holds the same mean-teacher settings (or neither has any)."""
    out = Path(cfg.run.out)
    final, saved, mt_file = out / "final.json", out / "config.json", out / MEAN_TEACHER_FILE
    settings = own[1] if own else None
    mt_same = (json.loads(mt_file.read_text()) == settings) if mt_file.is_file() else settings is None
    if final.is_file() and not cfg.run.overwrite and mt_same and _same_run(saved, cfg):
        progress(f"reusing the finished run in {out}")
        return json.loads(final.read_text())
    cfg = cfg.replace(resume=(out / CHECKPOINT_LAST).is_file() and not final.is_file() and cfg.run.resume)
    record = train_loop(cfg).final if own is None else own[0](cfg).run().final
    if settings is None:
        mt_file.unlink(missing_ok=True)  # an overwritten mean-teacher run's settings: this run replaced it
    return record


def _load_reference(cfg: TrainConfig, path: str, device: torch.device) -> torch.nn.Module:
    """The frozen ``f_S``: stage 2's architecture with the weights of a checkpoint of this project."""
    model = models.build_from_config(cfg.model, load_init=False)
    model.load_state_dict(load_checkpoint(path)["model"])
    return model.to(device).eval().requires_grad_(False)


def train_translation(cfg: TrainConfig, *, stop_at: Optional[int] = None,
                      progress: Callable[[str], None] = lambda s: print(s, file=sys.stderr)) -> dict[str, Any]:
    """Train ``cfg.loss.method`` (one of :data:`TRANSLATION_METHODS`) in both stages into ``cfg.run.out``.

    ``stop_at`` interrupts stage 1 after that iteration's checkpoint (tests) and
    returns ``{"stopped_at": n}``. Returns the content of ``OUT/final.json``.
    """
    method, tcfg = cfg.loss.method, cfg.translation
    if method not in TRANSLATION_METHODS:
        raise ValueError(f"method: expected one of {TRANSLATION_METHODS}, got {method!r}")
    cfg = cfg.validate()
    if cfg.run.num_threads is not None:
        torch.set_num_threads(cfg.run.num_threads)
    device = resolve_device(cfg.run.device)
    out = Path(cfg.run.out)
    out.mkdir(parents=True, exist_ok=True)
    if not (out / "final.json").is_file():  # a finished run keeps its config.json until this one replaces it
        cfg.to_json(out / "config.json")
    reference, reference_key, stored = None, None, {}
    if tcfg.needs_reference(method):
        path = tcfg.semantic_reference
        if path is None:
            progress(f"stage 0: the frozen source model ({tcfg.reference_iterations} iterations of source_only)")
            rcfg = reference_config(cfg)
            stored["reference"] = stored_run_stage(rcfg, progress)[1]
            path, reference_key = str(out / REFERENCE_DIR / CHECKPOINT_LAST), run_stage_key(rcfg)
        elif not Path(path).is_file():
            raise FileNotFoundError(f"semantic_reference: checkpoint {path!r} does not exist")
        elif cfg.run.stage_store is not None:
            reference_key = {"checkpoint_sha256": file_sha256(path)}
        reference = _load_reference(cfg, path, device)
    progress(f"stage 1: {method} translator, {tcfg.translation_iterations} iterations")
    produce = lambda: run_stage1(method, tcfg, cfg.data, cfg.run.seed, out, reference, device,  # noqa: E731
                                 overwrite=cfg.run.overwrite, stop_at=stop_at, progress=progress)
    if cfg.run.stage_store is None:
        stage1 = produce()
    else:
        key = stage1_key(method, tcfg, cfg.data, cfg.run.seed)
        here = stage1_state(out, key)
        stage1, stored["translator"] = StageStore(cfg.run.stage_store).obtain(
            "translator", translator_key(key, reference_key, str(device)), out / TRANSLATION_DIR, produce,
            here="free" if here == "other" and cfg.run.overwrite else here,
            complete=lambda r: "stopped_at" not in r, progress=progress)
    if "stopped_at" in stage1:
        return stage1
    stage2 = tcfg.stage2(method)
    progress(f"stage 2: {stage2} on the translated set, {cfg.optim.iterations} iterations")
    final = reuse_or_train(stage2_config(cfg, stage1["set"]), progress, _own_trainer(cfg, stage2))
    final = {**final, "method": method, "checkpoint": f"{SEGMENTATION_DIR}/{final['checkpoint']}",
             "stage2_method": stage2,
             "translation": {"iterations": stage1["iterations"], "parameters": stage1["parameters"],
                             "seconds": stage1["seconds"], "reused": stage1["reused"],
                             "directory": TRANSLATION_DIR}}
    if cfg.run.stage_store is not None:  # each stage's store entry, and whether it was linked from there
        final["stage_store"] = {k: v for k, v in stored.items() if v is not None}
    cfg.to_json(out / "config.json")  # with its final.json: a failed retrain never pairs a new config with an old result
    write_json(out / "final.json", final)
    return final
