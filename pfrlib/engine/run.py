"""One run of any method, the way every caller starts one (``python -m pfrlib.train``, a launched
job, a notebook): the loop of Eq. (6) (:mod:`pfrlib.engine.trainer`), or for the input-space
methods a translator first, then the loop (:mod:`pfrlib.engine.two_stage`), and for the
self-training methods an adapted model, then rounds of pseudo-labels
(:mod:`pfrlib.engine.two_stage.self_training`). With ``--stage-store DIR`` the stages (and the
whole run of a method that can be a self-training run's stage 1) are shared across run folders
(:mod:`pfrlib.engine.stage_store`; :func:`stage_entries` lists a run's).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from pfrlib import methods
from pfrlib.config.train_config import TrainConfig
from pfrlib.engine.rundir import CONFIG_FILE, RUN_FILES
from pfrlib.io import file_sha256, read_json, write_json
from pfrlib.engine.calibration import run_calibration
from pfrlib.engine.record import FINAL_JSON, calibration_of_this_run, finished_line
from pfrlib.engine.trainer import TrainResult, train_loop
from pfrlib.engine.stage_store import StageStore, entry_name, run_stage_key, translator_key
from pfrlib.engine.two_stage.run import reference_config, run_stage_state, train_translation
from pfrlib.engine.two_stage.self_training import stage1_config, train_self_training
from pfrlib.engine.two_stage.stage1 import stage1_key
from pfrlib.engine.watchdog import NonFiniteLossError

__all__ = ["train", "train_to_exit_status", "stage_entries"]


def train(config: TrainConfig) -> TrainResult:
    """Train the run ``config`` describes (the Python API; notebooks call this).

    Returns a :class:`~pfrlib.engine.trainer.TrainResult` (``.final`` is the content of
    ``final.json``). ``--resume`` of a run that already finished says so and returns its result
    without training or writing.

    Before anything else, rank 0 times the machine calibration in this process
    (:func:`pfrlib.engine.calibration.run_calibration`, RNG states put back): every record trained
    meanwhile keeps it as ``calibration_s``; a record trained by another process (a finished run
    read back, a stage reused or linked from a stage store) keeps its own."""
    config.validate()
    if config.run.stage_store is not None and int(os.environ.get("WORLD_SIZE", "1")) > 1:
        raise ValueError("stage_store: a stage store serves runs of one process; under torchrun "
                         "(WORLD_SIZE > 1) leave it out (each run then trains its stages in its own folder)")
    calibration = run_calibration() if int(os.environ.get("RANK", "0")) == 0 else None
    with calibration_of_this_run(calibration):
        return _train(config)


def _train(config: TrainConfig) -> TrainResult:
    """:func:`train`'s dispatch: the method's kind of run."""
    if config.method_info.family == "translation":
        final = train_translation(config)
        return TrainResult(out=Path(config.run.out), final=final, config=config)
    if config.method_info.self_training:
        final = train_self_training(config)
        return TrainResult(out=Path(config.run.out), final=final, config=config)
    if config.run.stage_store is not None and config.loss.method in methods.stage1_names():
        return _stored_run(config)
    return train_loop(config)


def _stored_run(config: TrainConfig) -> TrainResult:
    """A run of a method that can be a self-training run's stage 1, through the stage store: linked
    into ``out`` when the store holds the same run (e.g. a ``pfr_adv_st`` run's stage 1), else
    trained by the run loop and published; ``final.json``'s ``stage_store`` says which."""
    out, linked = Path(config.run.out), []

    def adopt(dest: Path) -> None:  # the linked run, as this folder's
        config.to_json(dest / CONFIG_FILE)
        linked.append(True)

    def produce() -> dict[str, Any]:
        return read_json(out / FINAL_JSON) if linked else train_loop(config).final

    final, info = StageStore(config.run.stage_store).obtain(
        "run", run_stage_key(config), out, produce, here=run_stage_state(config), adopt=adopt, files=RUN_FILES,
        progress=lambda s: print(s, file=sys.stderr))
    if final.get("stage_store") != {"run": info}:
        final = {**final, "stage_store": {"run": info}}
        write_json(out / FINAL_JSON, final)
    return TrainResult(out=out, final=final, config=config)


def stage_entries(config: TrainConfig) -> list[tuple[str, str]]:
    """The stages of ``config`` a stage store shares, ``[(role, entry name)]``
    (:mod:`pfrlib.engine.stage_store`): a self-training run's ``adapted`` model (unless
    ``st_init``); an input-space method's ``reference`` (when it trains one) and ``translator``;
    the whole ``run`` of a method that can be a self-training run's stage 1
    (:func:`pfrlib.methods.stage1_names`); nothing for the others. The keys the run uses, so two
    runs share an entry exactly when this says so."""
    if config.method_info.self_training:
        return [] if config.self_training.st_init is not None else [
            ("adapted", entry_name("run", run_stage_key(stage1_config(config))))]
    if config.loss.method in methods.stage1_names():
        return [("run", entry_name("run", run_stage_key(config)))]
    if config.method_info.family != "translation":
        return []
    tcfg, method, out, ref = config.translation, config.loss.method, [], None
    if tcfg.needs_reference(method):
        if tcfg.semantic_reference is None:
            ref = run_stage_key(reference_config(config))
            out.append(("reference", entry_name("run", ref)))
        else:
            ref = {"checkpoint_sha256": file_sha256(tcfg.semantic_reference)}
    key = translator_key(stage1_key(method, tcfg, config.data, config.run.seed), ref, config.run.device)
    return out + [("translator", entry_name("translator", key))]


def train_to_exit_status(cfg: TrainConfig) -> int:
    """Train ``cfg`` as a command does: one ``error: ...`` line and status 2 for bad input (3 for a
    non-finite loss), else the finished line (:func:`pfrlib.engine.record.finished_line`, with
    where the record is) on rank 0 and status 0. ``python -m pfrlib.train`` and a launched job
    (:mod:`pfrlib.launch.job`) both end here."""
    try:
        result = train(cfg)
    except NonFiniteLossError as err:
        print(f"error: {err}", file=sys.stderr)
        return 3
    except (ValueError, FileNotFoundError, FileExistsError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    if int(os.environ.get("RANK", "0")) == 0:
        verb = "resumed" if cfg.run.resume else "trained"
        print(finished_line(verb, str(result.out), result.final) + f" -> {result.out / FINAL_JSON}")
    return 0
