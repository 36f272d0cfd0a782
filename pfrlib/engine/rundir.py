"""The run directory: one folder per run, one writer at a time, and nothing saved ever lost.

Layout of a run directory (``--out runs/NAME``)::

    config.json            the configuration (TrainConfig.to_json); "lr_history" once a resume changed lr / d_lr
    metrics.jsonl          one JSON record per log interval and per periodic validation
    checkpoint_pending.pt  the newest checkpoint, not yet known to be good
    checkpoint_last.pt     the newest good checkpoint (its model has produced finite losses)
    checkpoint_best.pt     the best periodic target-val checkpoint (keep_best)
    test_confusion.npz     written at the end, before final.json: each target test image's confusion matrix
    final.json             written once, at the end: the run is finished
    .lock                  the writer's lock; the pid of the process holding it inside
    .replaced-STAMP-PID/   a run that --overwrite is replacing, until the new one has a good checkpoint

:class:`RunDirectory` is the policy around these files (:class:`pfrlib.engine.trainer.Trainer` only calls it):

* **One writer.** An exclusive ``fcntl.flock`` on ``.lock`` is taken before anything else is
  written; a second process is refused with one line naming the directory and the holder's pid.
  The kernel releases the lock when the holder exits or is killed. Under ``torchrun`` rank 0
  holds it (the other ranks never write).
* **A new run** refuses a directory that holds a run (a checkpoint or ``final.json``) unless
  ``--overwrite``; the old run's files are then moved aside and deleted only once the new run has
  a good checkpoint, or put back if it stops before (a disk filling up included).
* **Resume** continues from ``checkpoint_last.pt`` with the same configuration, apart from
  :data:`RESUME_FREE_FIELDS` (how a run is driven) and :data:`RESUME_ADJUSTABLE_FIELDS` (``lr``,
  ``d_lr``: e.g. to continue a diverged run with a saner rate). Such a change is printed and
  recorded per iteration range in ``config.json``'s ``lr_history``
  (``[{"from_iteration": 0, "lr": ..., "d_lr": ...}, {"from_iteration": 12, ...}]``), whose
  ``optim`` section holds the rates in effect now. Resuming a **finished** run (``final.json``)
  changes nothing: with the same configuration it reports the run as finished
  (:class:`RunFinished`) and writes nothing; with a changed ``lr`` / ``d_lr`` it is refused (the
  run trained entirely at its own rates; there is nothing left to train at another).
* **Checkpoints** are written as ``checkpoint_pending.pt`` and promoted to ``checkpoint_last.pt``
  once the next losses come back finite (:meth:`RunDirectory.confirm_pending`); the NaN watchdog
  (:mod:`pfrlib.engine.watchdog`) drops an unconfirmed one (:meth:`RunDirectory.discard_pending`).
  Every file is written atomically (:func:`pfrlib.io.atomic_write`): a run killed mid-write keeps
  the previous file; the temporaries such a kill leaves are removed at the next start, and the
  old run of an ``--overwrite`` killed before its first good checkpoint is put back.
* **A full disk** stops the run with one line naming the file being written and the space left
  (:class:`DiskFullError`); nothing half-written stays behind.
* **A refused run leaves the directory as it found it**: a run stopped before it wrote anything
  but its ``config.json`` (refused, or failed on its first batches) removes that file, and the
  folder if this process created it.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any, Callable, Optional

from pfrlib.engine.checkpoint import (CHECKPOINT_BEST, CHECKPOINT_LAST, CHECKPOINT_PENDING, checkpoint_iteration,
    load_checkpoint, save_checkpoint)
from pfrlib.config.train_config import LR_HISTORY_KEY, TrainConfig, resume_free_fields
from pfrlib.engine.dirlock import FolderLock
from pfrlib.io import atomic_write, format_bytes, read_json, to_jsonable, write_json
from pfrlib.engine.record import FINAL_JSON, METRICS_JSONL, TEST_CONFUSION, FinalRecord, PerImageConfusion

__all__ = ["RunDirectory", "RunFinished", "RunDirectoryInUse", "DiskFullError", "CONFIG_FILE", "METRICS_FILE",
           "FINAL_FILE", "LOCK_FILE", "EVENTS_DIR", "RUN_FILES", "RESUME_FREE_FIELDS", "RESUME_ADJUSTABLE_FIELDS",
           "check_resume_config", "resume_config_file", "truncate_metrics", "remove_stale_temporaries"]

CONFIG_FILE = "config.json"
METRICS_FILE = METRICS_JSONL
FINAL_FILE = FINAL_JSON
LOCK_FILE = ".lock"
#: Prefix of the folder a run replaced by ``--overwrite`` waits in.
REPLACED_PREFIX = ".replaced-"
#: The files of a run that ``--overwrite`` replaces (moved aside until the new run has a checkpoint).
EVENTS_DIR = "tensorboard"  # the run's TensorBoard events (pfrlib.engine.tensorboard writes them)
RUN_FILES = (CONFIG_FILE, METRICS_FILE, FINAL_FILE, TEST_CONFUSION, CHECKPOINT_LAST, CHECKPOINT_BEST, EVENTS_DIR)

#: ``(section, field)`` pairs that may differ between a run and its resumption (how it is driven,
#: not what it computes): the bookkeeping and execution fields of :mod:`pfrlib.config`.
RESUME_FREE_FIELDS = resume_free_fields()
#: Fields a resume may change on purpose, e.g. to continue a diverged run with a saner learning
#: rate from its last good checkpoint; the change is reported and recorded in ``config.json``.
RESUME_ADJUSTABLE_FIELDS = frozenset({("optim", "lr"), ("optim", "d_lr")})


class RunFinished(Exception):
    """``--resume`` of a run that already finished all its iterations, with the same
    configuration: there is nothing to train and nothing was written. ``final`` is its
    ``final.json``."""

    def __init__(self, out: Path, final: dict[str, Any]) -> None:
        self.out, self.final = out, final
        super().__init__(f"resume: {out} already finished all {final.get('iterations', '?')} iterations "
                         f"({FINAL_FILE}); nothing to train, nothing written")


class RunDirectoryInUse(OSError):
    """Another process holds the run directory's lock."""


class DiskFullError(OSError):
    """A file of the run could not be written: no space left on its file system."""


def check_resume_config(saved: dict[str, Any], now: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    """Refuse to resume a run whose saved configuration differs from ``now`` (both
    ``TrainConfig.to_dict()``), apart from :data:`RESUME_FREE_FIELDS`; the error lists every
    differing field with both values. Returns the :data:`RESUME_ADJUSTABLE_FIELDS` that differ,
    ``{name: (run's value, new value)}``."""
    diffs, adjusted = [], {}
    for section, values in saved.items():
        if not isinstance(values, dict):
            continue
        for key, value in values.items():
            if (section, key) in RESUME_FREE_FIELDS:
                continue
            current = now.get(section, {}).get(key)
            if json.dumps(value) != json.dumps(current):
                if (section, key) in RESUME_ADJUSTABLE_FIELDS:
                    adjusted[key] = (value, current)
                else:
                    diffs.append(f"{key} (run: {value!r}, now: {current!r})")
    if diffs:
        raise ValueError("resume: the configuration differs from the run being resumed in " + "; ".join(diffs)
                         + " (only lr and d_lr may change on resume)")
    return adjusted


def truncate_metrics(path: str | os.PathLike, iteration: int) -> None:
    """Drop ``metrics.jsonl`` records after ``iteration`` (written by a run killed after its last
    checkpoint), and a last line cut by the kill; rewritten atomically."""
    path = Path(path)
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


def remove_stale_temporaries(out: str | os.PathLike) -> list[Path]:
    """Remove the temporary files a write killed mid-way left in ``out`` (``.NAME.*.tmp`` from
    :func:`pfrlib.io.atomic_write`, up to a whole checkpoint each) and an unconfirmed
    :data:`~pfrlib.engine.checkpoint.CHECKPOINT_PENDING`. Returns what was removed."""
    out = Path(out)
    removed = []
    for p in list(out.glob(".*.tmp")) + [out / CHECKPOINT_PENDING]:
        if p.is_file():
            p.unlink()
            removed.append(p)
    return removed


def resume_config_file(out: str | os.PathLike) -> Path:
    """The ``config.json`` of the run ``--resume`` in ``out`` continues: ``out``'s own, or that of the old run an
    ``--overwrite`` stopped before its first good checkpoint moved aside (:class:`RunDirectory` puts it back)."""
    aside = [] if (Path(out) / CHECKPOINT_LAST).exists() else _moved_aside(Path(out))
    return (aside[-1] if aside else Path(out)) / CONFIG_FILE


def _moved_aside(out: Path) -> list[Path]:  # the runs an --overwrite moved aside and has not settled, oldest first
    return sorted(p for p in out.glob(REPLACED_PREFIX + "*") if p.is_dir())


class RunDirectory:
    """The folder of one run and its policy (see the module docstring).

    ``RunDirectory(config)`` takes the lock (rank 0) and checks the folder before any work:
    it raises :class:`RunDirectoryInUse`, ``FileExistsError`` (holds a run), ``FileNotFoundError``
    (nothing to resume), ``ValueError`` (a resume with another configuration) or
    :class:`RunFinished`, each leaving the folder as it found it. On resume it holds the loaded
    checkpoint (:attr:`resume_state`) and the allowed changes (:attr:`resume_changes`).
    Then :meth:`start` (once the run is built), :meth:`log`, :meth:`save_pending` /
    :meth:`confirm_pending` / :meth:`discard_pending`, :meth:`save`, and :meth:`finish` or
    :meth:`fail`. With ``is_main=False`` (ranks > 0 under torchrun) nothing is written.
    """

    def __init__(self, config: TrainConfig, is_main: bool = True) -> None:
        self.config = config
        self.path = Path(config.run.out)
        self.is_main = is_main
        self.resume_state: Optional[dict[str, Any]] = None
        self.resume_changes: dict[str, tuple[Any, Any]] = {}
        self.pending: Optional[int] = None  # iteration of checkpoint_pending.pt, if any
        self._lock = FolderLock(self.path / LOCK_FILE)
        self._created: list[Path] = []  # folders this process created, innermost first
        self._replaced: Optional[Path] = None  # the old run --overwrite moved aside
        self._started = False  # this run wrote its config.json
        self._produced = False  # this run wrote a metrics record or a checkpoint
        try:
            if is_main:
                self._acquire()
            self._check()
            if is_main:  # accepted: the holder's pid, for a process that is refused
                self._write(self.path / LOCK_FILE, self._lock.write_pid)
            if config.run.resume:
                state = load_checkpoint(self.path / CHECKPOINT_LAST)
                self.resume_changes = check_resume_config(state["config"], config.to_dict())
                self.resume_state = state
        except BaseException:
            self._release(leave_lock=False)
            raise

    # ----------------------------------------------------------------- opening
    def _acquire(self) -> None:
        """Create the folder if needed and take the lock (or say who holds it); put back the run
        an interrupted ``--overwrite`` had moved aside."""
        out = self.path
        missing = [p for p in (out, *out.parents) if not p.exists()]
        try:
            out.mkdir(parents=True, exist_ok=True)
            self._created = missing
            holder = self._lock.acquire()
        except OSError as err:
            raise OSError(f"out: output directory {str(out)!r} is not writable: {err}") from None
        if holder is not None:
            who = f"process {holder}" if holder != "?" else "another process"
            raise RunDirectoryInUse(f"out: run directory {out} is in use by {who} (lock file "
                                    f"{self._lock.path}); wait for it to finish or choose another --out")
        self._recover_replaced()

    def _recover_replaced(self) -> None:
        for old in _moved_aside(self.path):
            if (self.path / CHECKPOINT_LAST).exists():  # the replacing run had a good checkpoint
                shutil.rmtree(old, ignore_errors=True)
            else:
                self._put_back(old)
                print(f"out: put back the run in {self.path} that an --overwrite had moved aside to {old.name} "
                      f"(the replacing run stopped before its first good checkpoint)", file=sys.stderr)

    def _put_back(self, old: Path) -> None:
        """Remove what the replacing run wrote (it has no good checkpoint), then move ``old`` back."""
        for name in (CONFIG_FILE, METRICS_FILE, CHECKPOINT_PENDING, CHECKPOINT_BEST):
            (self.path / name).unlink(missing_ok=True)
        shutil.rmtree(self.path / EVENTS_DIR, ignore_errors=True)
        for p in old.iterdir():
            os.replace(p, self.path / p.name)
        old.rmdir()

    def _check(self) -> None:
        out, run = self.path, self.config.run
        holds_run = (out / CHECKPOINT_LAST).exists() or (out / FINAL_FILE).exists()
        if not run.resume:
            if holds_run and not run.overwrite:
                raise FileExistsError(f"out: {str(out)!r} already holds a run; pass --resume to continue it, "
                                      f"--overwrite to replace it, or choose another --out")
            return
        if not (out / CHECKPOINT_LAST).exists():
            raise FileNotFoundError(f"resume: {str(out)!r} holds no {CHECKPOINT_LAST} to resume; "
                                    f"drop --resume to start a new run there")
        if (out / FINAL_FILE).exists():
            self._finished()

    def _finished(self) -> None:
        """A finished run resumed: report it (same configuration) or refuse (a changed lr / d_lr)."""
        saved = read_json(self.path / CONFIG_FILE)
        changes = check_resume_config(saved, self.config.to_dict())
        final = FinalRecord.read(self.path / FINAL_FILE).to_dict()
        if changes:
            what = ", ".join(f"{k} {a} -> {b}" for k, (a, b) in changes.items())
            raise ValueError(f"resume: {self.path} already finished all {final.get('iterations', '?')} iterations, "
                             f"so a resume with {what} would train nothing; nothing was changed (to train at "
                             f"another rate, start a new run: another --out, or --overwrite)")
        raise RunFinished(self.path, final)

    # ----------------------------------------------------------------- writing
    def start(self) -> None:
        """The run is built and starts: clear temporaries; a new run moves a run it replaces aside
        and writes ``config.json``; a resume drops the records after its checkpoint and records a
        changed ``lr`` / ``d_lr``."""
        if not self.is_main:
            return
        remove_stale_temporaries(self.path)
        if self.resume_state is None:
            old = [self.path / n for n in RUN_FILES if (self.path / n).exists()]
            if old:
                self._replaced = self.path / f"{REPLACED_PREFIX}{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"
                self._replaced.mkdir()
                for p in old:
                    p.rename(self._replaced / p.name)
            self._started = True
            self._write(self.path / CONFIG_FILE, lambda: self.config.to_json(self.path / CONFIG_FILE))
            return
        iteration = int(self.resume_state["iteration"])
        truncate_metrics(self.path / METRICS_FILE, iteration)
        if self.resume_changes:
            changes = ", ".join(f"{k} {a} -> {b}" for k, (a, b) in self.resume_changes.items())
            print(f"resume: continuing from iteration {iteration} with {changes}", file=sys.stderr)
            record = {**self.config.to_dict(), LR_HISTORY_KEY: self._lr_history(iteration)}
            self._write(self.path / CONFIG_FILE, lambda: write_json(self.path / CONFIG_FILE, record))

    def _lr_history(self, iteration: int) -> list[dict[str, Any]]:
        """The learning rates per iteration range, with this resume's from ``iteration`` on."""
        try:
            history = read_json(self.path / CONFIG_FILE).get(LR_HISTORY_KEY) or []
        except (OSError, ValueError, AttributeError):
            history = []
        if not history:
            o = self.resume_state["config"]["optim"]
            history = [{"from_iteration": 0, "lr": o["lr"], "d_lr": o["d_lr"]}]
        o = self.config.optim
        return [h for h in history if h["from_iteration"] < iteration] + [
            {"from_iteration": iteration, "lr": o.lr, "d_lr": o.d_lr}]

    def log(self, record: dict[str, Any]) -> None:
        """Append one record to ``metrics.jsonl`` (a record cut by a full disk is taken back)."""
        if not self.is_main:
            return
        path = self.path / METRICS_FILE
        data = (json.dumps(to_jsonable(record)) + "\n").encode()

        def append() -> None:
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
            try:
                start = os.lseek(fd, 0, os.SEEK_END)
                try:
                    view = memoryview(data)
                    while view:
                        view = view[os.write(fd, view):]
                except OSError:
                    os.ftruncate(fd, start)
                    raise
            finally:
                os.close(fd)

        self._write(path, append)
        self._produced = True

    def save(self, name: str, state: dict[str, Any]) -> Optional[Path]:
        """Write the checkpoint ``name`` atomically (rank 0; returns its path)."""
        if not self.is_main:
            return None
        path = self.path / name
        self._write(path, lambda: save_checkpoint(path, state))
        self._produced = True
        return path

    def save_pending(self, iteration: int, state: dict[str, Any]) -> None:
        """Write ``checkpoint_pending.pt``; :meth:`confirm_pending` promotes it (every rank keeps
        :attr:`pending`, so that all of them check the losses together)."""
        self.save(CHECKPOINT_PENDING, state)
        self.pending = iteration

    def confirm_pending(self) -> None:
        """The pending checkpoint's model produced finite losses: it is the newest good one (and a
        run it replaces can go)."""
        if self.pending is None:
            return
        if self.is_main:
            os.replace(self.path / CHECKPOINT_PENDING, self.path / CHECKPOINT_LAST)
        self.pending = None
        self._settle_replaced(keep_new=True)

    def discard_pending(self) -> str:
        """Drop an unconfirmed checkpoint (its model gave non-finite losses); says what is kept."""
        if self.is_main and self.pending is not None:
            (self.path / CHECKPOINT_PENDING).unlink(missing_ok=True)
        self.pending = None
        return self._kept()

    def _kept(self) -> str:
        ckpt = self.path / CHECKPOINT_LAST
        if ckpt.exists():
            return f"the newest good checkpoint {ckpt} (iteration {checkpoint_iteration(ckpt)}) is kept"
        return "no good checkpoint had been written yet"

    def finish(self, record: FinalRecord, confusion: Optional[PerImageConfusion] = None) -> None:
        """Write ``confusion`` (if any) and ``final.json`` (finished); drop a replaced run; release the lock."""
        if self.is_main:
            for path, item in ((self.path / TEST_CONFUSION, confusion), (self.path / FINAL_FILE, record)):
                if item is not None:
                    self._write(path, lambda: item.write(path))
            self._settle_replaced(keep_new=True)
        self._release(leave_lock=True)

    def fail(self) -> None:
        """The run stopped early: put a run it replaced back; a run that wrote nothing but its
        ``config.json`` removes it (and the folder it created); release the lock."""
        if self.is_main and self._started and not self._produced and self._replaced is None:
            for name in (CONFIG_FILE, METRICS_FILE, CHECKPOINT_PENDING):
                (self.path / name).unlink(missing_ok=True)
            shutil.rmtree(self.path / EVENTS_DIR, ignore_errors=True)
            self._started = False
        self._settle_replaced(keep_new=False)
        self._release(leave_lock=self._started or self._produced)

    def _settle_replaced(self, keep_new: bool) -> None:
        """Delete the replaced run once this one has a good checkpoint, or put it back."""
        if self._replaced is None or not self.is_main:
            return
        if keep_new:
            shutil.rmtree(self._replaced, ignore_errors=True)
        else:
            self._put_back(self._replaced)
            self._started = False
        self._replaced = None

    def _release(self, leave_lock: bool) -> None:
        """Release the lock; unless this run left files, remove the lock file and the folders this
        process created (still holding the lock while it does)."""
        self._lock.release(remove_created=not leave_lock)
        if not leave_lock:
            for d in self._created:
                try:
                    d.rmdir()
                except OSError:
                    break
        self._created = []

    def _write(self, path: Path, write: Callable[[], Any]) -> Any:
        """Run ``write`` (which writes ``path``); a full disk becomes one :class:`DiskFullError` line."""
        try:
            return write()
        except (OSError, RuntimeError) as err:
            if not _disk_full(err):
                raise
            free = shutil.disk_usage(self.path).free
            if self._replaced is not None:
                kept = "; the run it was replacing is put back"
            elif (self.path / CHECKPOINT_LAST).exists():
                kept = f"; {self._kept()}: free some space, then continue it with --resume"
            else:
                kept = ""
            raise DiskFullError(f"disk full: cannot write {path} ({format_bytes(free)} left on its file system); "
                                f"nothing half-written was kept{kept}") from None


def _disk_full(err: BaseException) -> bool:
    """Whether ``err`` or an error it came from is ENOSPC / EDQUOT (``torch.save`` wraps it in a
    RuntimeError)."""
    seen: set[int] = set()
    e: Optional[BaseException] = err
    while e is not None and id(e) not in seen:
        seen.add(id(e))
        if isinstance(e, OSError) and e.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        e = e.__cause__ or e.__context__
    return False

