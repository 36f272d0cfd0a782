"""A run's records: ``final.json`` when it ends, its test images' confusion matrices, and the step
record of its progress; their keys and files are named here and nowhere else.

``python -m pfrlib.train`` writes one :class:`FinalRecord` into the run directory when a run ends
(:meth:`FinalRecord.write`, atomic); sweeps, the notebooks' load-or-train and the figures read
it back (:meth:`FinalRecord.read`, or the plain dict ``TrainResult.final``). mIoU values are
fractions 0..1 of the *final* model, NaN written as ``null``. The line that reports a finished
run (:func:`finished_line`: the command line, the launcher, the notebooks) is written here too.

With a target test set (``DataConfig.target_test``) a run also keeps :data:`TEST_CONFUSION` beside
``final.json``: each test image's confusion matrix (:class:`PerImageConfusion`), what a bootstrap
over test images resamples (:mod:`pfrlib.evaluation.comparisons`); :func:`read_test_confusion`
reads it from a run directory (:func:`confusion_file` finds it).

While it trains, a run appends a :func:`step_record` to ``metrics.jsonl`` every ``log_every``
iterations (the iteration, each loss term, the training time so far); :func:`progress_line` turns
the newest one into the line that shows the run's progress (the launcher's, for runs trained in
subprocesses), with the same loss terms (:data:`PROGRESS_TERMS`) as the trainer's progress bar.
"""

from __future__ import annotations

import json
import os
import zipfile
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, Optional, Sequence

import numpy as np

from pfrlib.data.spec import parse_spec
from pfrlib.io import atomic_write, format_duration, format_number, read_json, write_json
from pfrlib.methods import in_words

__all__ = ["FINAL_JSON", "METRICS_JSONL", "TEST_CONFUSION", "PerImageConfusion", "confusion_file",
           "read_test_confusion", "FinalRecord", "METRIC_KEYS", "finished_line", "PROGRESS_TERMS", "step_record",
           "is_step_record", "progress_line", "synthstreets_record", "method_stats", "run_method_stats",
           "calibration_of_this_run", "current_calibration"]

#: The file name of the record in a run directory.
FINAL_JSON = "final.json"

#: The file name of the step records (:func:`step_record`) in a run directory.
METRICS_JSONL = "metrics.jsonl"

_NOTE = ("mIoU are fractions (0..1) of the final model; 'best_on_val' (if any) was selected "
         "on the target val set and is optimistic.")
#: The file of a run's per-image test confusion matrices (:class:`PerImageConfusion`), beside ``final.json``.
TEST_CONFUSION = "test_confusion.npz"


#: The machine calibration of the run this process is training (:func:`calibration_of_this_run`).
_CALIBRATION: ContextVar[Optional[float]] = ContextVar("calibration_s", default=None)


@contextmanager
def calibration_of_this_run(seconds: Optional[float]) -> Iterator[None]:
    """While it lasts, every :class:`FinalRecord` the trainer writes keeps ``seconds`` as its
    ``calibration_s`` (:func:`current_calibration`): :func:`pfrlib.engine.run.train` sets it to the
    calibration it timed when the run started."""
    token = _CALIBRATION.set(seconds)
    try:
        yield
    finally:
        _CALIBRATION.reset(token)


def current_calibration() -> Optional[float]:
    """The calibration :func:`calibration_of_this_run` set, or None outside it."""
    return _CALIBRATION.get()


def _about(kind: str) -> dict:
    """Field metadata: ``"metric"`` fields are values a sweep may aggregate (:data:`METRIC_KEYS`)."""
    return {"kind": kind}


@dataclass
class FinalRecord:
    """The content of ``final.json``, in the order of its keys.

    ``source_val`` / ``target_val`` are :func:`pfrlib.engine.scoring.evaluate_model` results
    (``spec``, ``miou``, ``per_class_iou`` {class name: IoU or None}, ...); ``target_test`` is one
    too, with its ``split``.
    """

    method: str = field(metadata=_about("metric"))
    preset: str = field(metadata=_about("metric"))
    seed: int = field(metadata=_about("metric"))
    arch: str = field(metadata=_about("metric"))
    #: Iterations trained.
    iterations: int = field(metadata=_about("metric"))
    #: Processes of a ``torchrun`` run (1 without it).
    world_size: int = field(metadata=_about("metric"))
    #: Under ``torchrun``: every rank ended with bitwise equal weights (None without it).
    replicas_identical: Optional[bool] = field(metadata=_about("metric"))
    #: The weight of every loss term the method computed (``TrainConfig.effective_weights``).
    effective_weights: dict = field(metadata=_about("metric"))
    source_miou: Optional[float] = field(metadata=_about("metric"))
    target_miou: Optional[float] = field(metadata=_about("metric"))
    source_val: dict = field(metadata=_about("metric"))
    target_val: dict = field(metadata=_about("metric"))
    #: Training time (validation included, restarts summed), rounded to 0.01 s.
    wall_time_s: float = field(metadata=_about("metric"))
    #: The final model's checkpoint file in the run directory.
    checkpoint: str = field(metadata=_about("file"))
    note: str = field(default=_NOTE, metadata=_about("text"))
    #: The final model on ``DataConfig.target_test`` (every image; each image's confusion matrix
    #: in :data:`TEST_CONFUSION`); None without a test set, and in runs written before it existed.
    target_test: Optional[dict] = field(default=None, metadata=_about("metric"))
    #: ``RunConfig.keep_best``: the best periodic target-val checkpoint (its val mIoU is
    #: optimistic), else None. With a test set, its ``target_test`` is that checkpoint scored on
    #: test (chosen on val, never on test).
    best_on_val: Optional[dict] = field(default=None, metadata=_about("metric"))
    #: The SynthStreets data the run saw, when a domain is SynthStreets: ``{"classes": 9 or 19,
    #: "scene_seed": DataConfig.synth_seed, "shift": DataConfig.synth_shift}`` (the scene streams,
    #: ``seed`` above being the training randomness, and the target's shift); None for real datasets.
    synthstreets: Optional[dict] = field(default=None, metadata=_about("metric"))
    #: The statistics a method logs for ``final.json`` (``Baseline.summary_logs``; CLAN: its
    #: discrepancy map's mean, 95th percentile and weighted share, ``MAP_STATS`` in
    #: :mod:`pfrlib.methods.baselines.clan`), over the step records of ``metrics.jsonl``:
    #: ``{key: {"mean": over the logged iterations, "last": at the last one}}`` (:func:`method_stats`);
    #: None for a method that declares none.
    method_stats: Optional[dict] = field(default=None, metadata=_about("metric"))
    #: Seconds per iteration of the machine calibration (:func:`pfrlib.engine.calibration.run_calibration`:
    #: the notebooks' and the step-time benchmark's few ``cpu``-preset iterations), timed in the
    #: run's own process when it started, so that ``wall_time_s`` can be scaled to the reference
    #: machine's calibration; None when skipped, and in runs written before it existed. A resumed
    #: run keeps the calibration of the process that finished it.
    calibration_s: Optional[float] = field(default=None, metadata=_about("metric"))
    #: How the run was launched when a launcher backend records it, e.g. ``{"backend": "slurm",
    #: "job_id": "81234_5", "node": "gpu17"}`` (:mod:`pfrlib.launch.slurm`); None otherwise.
    launched: Optional[dict] = field(default=None, metadata=_about("launch"))

    def to_dict(self) -> dict[str, Any]:
        """``{key: value}`` in file order (the values themselves, not copies)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def write(self, path: str | os.PathLike) -> Path:
        """Write to ``path`` (a run directory's ``final.json``) atomically."""
        return write_json(path, self.to_dict())

    @classmethod
    def from_dict(cls, d: dict[str, Any], where: str = "final.json") -> "FinalRecord":
        """A record from a ``final.json`` object; a missing key raises a ``ValueError`` naming ``where``.
        Keys this version does not know are ignored."""
        if not isinstance(d, dict):
            raise ValueError(f"{where}: expected a JSON object (a run's final.json), got {type(d).__name__}")
        known = [f for f in fields(cls)]
        required = [f.name for f in known if f.name not in d and _no_default(f)]
        if required:
            raise ValueError(f"{where}: missing key(s) {', '.join(required)}; expected a final.json written by "
                             f"python -m pfrlib.train")
        return cls(**{f.name: d[f.name] for f in known if f.name in d})

    @classmethod
    def read(cls, path: str | os.PathLike) -> "FinalRecord":
        """Read a run's ``final.json`` (errors name the file)."""
        return cls.from_dict(read_json(path), where=str(path))


@dataclass
class PerImageConfusion:
    """Each test image's confusion matrix, of the final model and of the checkpoint chosen on val.

    Attributes:
        last: (N, K, K) int64 counts of the final model, one matrix per test image in the test
            set's order (rows = ground truth, columns = prediction); their sum gives
            ``final.json``'s ``target_test`` IoU (Eq. 7).
        class_ids: the classes its mIoU averages over.
        spec: the test set's spec (``DataConfig.target_test``).
        best_on_val: the same of ``checkpoint_best.pt`` (chosen on target val), or None.

    The file (:meth:`write`) is a compressed ``.npz`` with the counts as uint32 (a count is at
    most one image's pixels). Its size for 500 test images x 19 classes: 47 KiB for the 500
    SynthStreets-19 test images at 128 x 256 scored by a 12-iteration ``pfr_adv`` model (28
    non-zero cells an image); more for a model whose errors spread over more cells, at most
    0.7 MiB a model uncompressed (every cell non-zero; about half that compressed).
    """

    last: np.ndarray
    class_ids: tuple[int, ...]
    spec: str
    best_on_val: Optional[np.ndarray] = None

    def write(self, path: str | os.PathLike) -> Path:
        """Write to ``path`` (a run directory's :data:`TEST_CONFUSION`) atomically."""
        arrays = {"last": self.last, **({"best_on_val": self.best_on_val} if self.best_on_val is not None else {})}
        for name, m in arrays.items():
            square = m.ndim == 3 and m.shape[1] == m.shape[2]
            if not square or (m.size and not 0 <= m.min() <= m.max() < 2**32):
                raise ValueError(f"{path}: {name} must be (N, K, K) counts in 0..2^32-1, got shape {m.shape}")
        data = {k: np.asarray(v, dtype=np.uint32) for k, v in arrays.items()}
        return atomic_write(path, lambda f: np.savez_compressed(
            f, **data, class_ids=np.asarray(self.class_ids, dtype=np.int64), spec=np.asarray(self.spec)))

    @classmethod
    def read(cls, path: str | os.PathLike) -> "PerImageConfusion":
        """Read a file :meth:`write` wrote; another file's error names it and what was expected."""
        expected = f"expected a {TEST_CONFUSION} written by python -m pfrlib.train"
        if not zipfile.is_zipfile(path):
            raise ValueError(f"{path}: not a readable .npz archive; {expected}")
        with np.load(path, allow_pickle=False) as f:
            missing = [k for k in ("last", "class_ids", "spec") if k not in f.files]
            if missing:
                raise ValueError(f"{path}: missing array(s) {missing}; {expected}")
            best = f["best_on_val"].astype(np.int64) if "best_on_val" in f.files else None
            return cls(last=f["last"].astype(np.int64), class_ids=tuple(int(c) for c in f["class_ids"]),
                       spec=str(f["spec"]), best_on_val=best)


def confusion_file(run: str | os.PathLike) -> Path:
    """The :data:`TEST_CONFUSION` file of the finished run in folder ``run``: its own, or, for a run
    trained in stages, the one in the folder of the checkpoint its ``final.json`` names
    (``segmentation/``, ``round_N/``).

    Raises:
        FileNotFoundError naming the run when it kept none (no ``target_test``, or trained before
        test scoring existed).
    """
    run = Path(run)
    path = run / TEST_CONFUSION
    if not path.is_file() and (run / FINAL_JSON).is_file():
        checkpoint = read_json(run / FINAL_JSON).get("checkpoint")
        path = run / Path(str(checkpoint)).parent / TEST_CONFUSION if checkpoint else path
    if not path.is_file():
        raise FileNotFoundError(f"{run}: holds no {TEST_CONFUSION} (a run scored on a target test set keeps one "
                                f"beside its {FINAL_JSON}; train with --target-test)")
    return path


def read_test_confusion(run: str | os.PathLike) -> PerImageConfusion:
    """The :class:`PerImageConfusion` of the finished run in folder ``run``
    (:func:`confusion_file`; its FileNotFoundError names the run when it kept none)."""
    return PerImageConfusion.read(confusion_file(run))


def synthstreets_record(data: Any) -> Optional[dict]:
    """:attr:`FinalRecord.synthstreets` of a run whose :class:`~pfrlib.config.sections.DataConfig`
    is ``data``: the benchmark's class count, scene seed and target shift when any of its four domains is
    SynthStreets, else None."""
    specs = (data.source, data.target, data.source_val, data.target_val, getattr(data, "target_test", None))
    if not any(spec and parse_spec(spec)[0] == "synth" for spec in specs):
        return None
    return {"classes": int(data.synth_classes), "scene_seed": int(data.synth_seed),
            "shift": str(data.synth_shift)}


def _no_default(f) -> bool:
    return f.default is MISSING and f.default_factory is MISSING


#: Top-level keys of ``final.json`` a sweep may report (``key`` or ``key.sub.key``, e.g.
#: ``target_val.per_class_iou.road``).
METRIC_KEYS: tuple[str, ...] = tuple(f.name for f in fields(FinalRecord) if f.metadata["kind"] == "metric")


def finished_line(verb: str, name: str, final: Mapping[str, Any], seconds: Optional[float] = None) -> str:
    """The one line that reports a finished run, e.g. ``trained runs/x (2 min 05 s): PFR (the paper's
    method), 150 iterations, target mIoU 31.2, source mIoU 45.6``: the method in words
    (:func:`pfrlib.methods.in_words`; the run's folder already carries its key). ``verb`` says what
    was done (``trained``, ``resumed``), ``name`` names the run, ``final`` is its record (a key it
    lacks reads ``?``, an mIoU it lacks is left out), ``seconds`` how long it took (default: the
    record's training time)."""
    seconds = final.get("wall_time_s", 0.0) if seconds is None else seconds
    miou = ", ".join(f"{side} mIoU {format_number(final.get(key), percent=True)}"
                     for side, key in (("target", "target_miou"), ("source", "source_miou")) if key in final)
    return (f"{verb} {name} ({format_duration(seconds, exact=True)}): {in_words(final.get('method', '?'))}, "
            f"{final.get('iterations', '?')} iterations" + (f", {miou}" if miou else ""))


# --------------------------------------------------------------------------- progress
#: The loss terms a run's progress shows (those of them its method computes): the segmentation
#: loss, the fooling loss, the PFR loss and the discriminator's.
PROGRESS_TERMS = ("seg", "adv", "pfr", "d")
_ITERATION, _TIME = "iter", "time"


def step_record(iteration: int, terms: Mapping[str, float], elapsed: float) -> dict[str, Any]:
    """The ``metrics.jsonl`` record of a logged iteration: ``{"iter", <each loss term>, "time"}``
    (``time``: seconds of training so far, validation included, restarts summed)."""
    return {_ITERATION: iteration, **{k: float(v) for k, v in terms.items()}, _TIME: round(elapsed, 3)}


def is_step_record(record: Any) -> bool:
    """Whether a ``metrics.jsonl`` record is a :func:`step_record` (not a periodic validation's)."""
    return isinstance(record, Mapping) and _ITERATION in record and _TIME in record


def method_stats(records: Iterable[Mapping[str, Any]], keys: Sequence[str]) -> Optional[dict]:
    """:attr:`FinalRecord.method_stats` from a run's ``metrics.jsonl`` records: for each of ``keys``
    the mean of its values over the step records that carry it, and its value in the last of them
    (records of periodic validation are skipped); None when ``keys`` is empty."""
    if not keys:
        return None
    steps = [r for r in records if is_step_record(r)]
    out = {}
    for key in keys:
        values = [float(r[key]) for r in steps if isinstance(r.get(key), (int, float))]
        out[key] = {"mean": sum(values) / len(values) if values else None, "last": values[-1] if values else None}
    return out


def run_method_stats(out: str | os.PathLike, baseline: Any) -> Optional[dict]:
    """:attr:`FinalRecord.method_stats` of the run in folder ``out`` whose method's extras are
    ``baseline`` (a :class:`~pfrlib.paper.step.Baseline` or None): its ``summary_logs`` summarised
    from the run's ``metrics.jsonl`` (whose records a resume kept); None without such keys."""
    keys = tuple(getattr(baseline, "summary_logs", ()))
    if not keys:
        return None
    with open(Path(out) / METRICS_JSONL, encoding="utf-8") as f:
        return method_stats((json.loads(line) for line in f if line.strip()), keys)


def progress_line(record: Optional[Mapping[str, Any]], total: int) -> str:
    """A run's progress from its newest :func:`step_record` (``None``: nothing logged yet), e.g.
    ``"120 / 300 iterations, seg 0.412, adv 0.693, about 1 min left"``; the time left is the time
    per iteration so far times the iterations left."""
    if record is None:
        return f"0 / {total} iterations, starting"
    done, elapsed = int(record[_ITERATION]), float(record[_TIME])
    terms = ", ".join(f"{k} {record[k]:.3g}" for k in PROGRESS_TERMS if isinstance(record.get(k), (int, float)))
    line = f"{done} / {total} iterations" + (f", {terms}" if terms else "")
    if done >= total:
        return line + ", final validation"
    if done > 0:
        line += f", about {format_duration(elapsed / done * (total - done))} left"
    return line
