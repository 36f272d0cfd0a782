"""The stage store: finished stages shared across run folders (``RunConfig.stage_store``).

A run trained in stages (:mod:`pfrlib.engine.two_stage`) reuses a finished stage inside its own
folder. With ``--stage-store DIR`` it also looks in ``DIR`` for a stage with the same **key**
(what decides the stage's output, one function per kind of stage, below): found, the stage is
linked into the run's folder instead of trained; not found, the run trains it in its own folder
as before and then publishes it to the store. Every run folder stays whole and readable alone
(a stage's files are in it, as links or copies), and ``final.json``'s ``stage_store`` says, for
each stage, the store entry and whether it came from there (``"linked": true``).

The kinds of stage and their keys (equal keys give the identical stage):

* ``run``: a run of the run loop, whatever role it plays: the frozen source model of CyCADA /
  TGCF-DA (``OUT/reference``), self-training's adapted model (``OUT/stage1``), or a plain run of
  a method that can be such a stage 1 (:func:`pfrlib.methods.stage1_names`: the claims' ``pfr_adv``
  run is ``pfr_adv_st``'s stage 1); keyed by :func:`run_stage_key` (the run's
  :meth:`~pfrlib.config.train_config.TrainConfig.identity`); its entry holds the run's files
  (:data:`~pfrlib.engine.rundir.RUN_FILES`), not what a launcher keeps beside them;
* ``translator``: stage 1 of an input-space method (``OUT/translation``, the translator and the
  translated set), keyed by :func:`translator_key` (its ``stage1_key``, the reference's key and the device).

Layout of ``DIR``::

    <kind>-<hash>/            one finished stage, as its run folder holds it, and
    <kind>-<hash>/stage_key.json   the key it was published under (checked when it is reused)
    .<kind>-<hash>.lock       the lock of one entry: who is making it (pid inside)
    .tmp-<kind>-<hash>-<pid>/ an entry being published (renamed into place when complete)

**Atomic publishing**: an entry is written into a temporary folder and renamed into place, so a
run killed while publishing leaves no entry, only a temporary folder, which the next publisher of
that entry removes. **One maker per stage**: a run takes the entry's lock (:class:`FolderLock`)
before it looks, and holds it while it trains the stage, so a second run needing the same stage
waits for it (saying which process it waits for) and then links it. The kernel drops the lock
of a process that dies, however it ends, so a dead maker never blocks the store; its waiter
then finds no entry and trains the stage itself.

**Links and copies**: the large files a stage writes once (checkpoints ``*.pt``, images
``*.png``) are hard-linked where the file system allows, and copied otherwise; the small records
are always copied, since a run appends to its ``metrics.jsonl`` in place and a hard link would
let that change another folder's file. A file is never rewritten in place after its stage
finished (checkpoints are replaced by rename), so the linked files stay those of the entry.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import time
from pathlib import Path
from typing import Any, Callable, Iterator, Optional, TypeVar

from pfrlib.config.device import device_type
from pfrlib.config.train_config import TrainConfig
from pfrlib.engine.dirlock import FolderLock
from pfrlib.io import to_jsonable, write_json

__all__ = ["StageStore", "STAGE_KINDS", "KEY_FILE", "LINKED_SUFFIXES", "run_stage_key", "translator_key",
           "entry_name", "link_tree"]

#: The kinds of stage the store holds (module docstring).
STAGE_KINDS = ("run", "translator")
#: The key an entry was published under, inside the entry.
KEY_FILE = "stage_key.json"
#: Files hard-linked rather than copied: written once, replaced only by rename.
LINKED_SUFFIXES = (".pt", ".png")
#: Seconds between two looks at a lock another run holds.
POLL_SECONDS = 2.0
_TMP = ".tmp-"

T = TypeVar("T")


def run_stage_key(cfg: TrainConfig) -> dict[str, Any]:
    """The key of a stage trained by the run loop (kind ``run``): the stage's
    :meth:`~pfrlib.config.train_config.TrainConfig.identity` (bookkeeping aside, e.g. its ``out``
    and the store itself), its device as a kind (``cuda:1`` trains what ``cuda:0`` does)."""
    identity = cfg.identity()
    identity["run"]["device"] = device_type(cfg.run.device)
    return {"run": identity}


def translator_key(stage1: dict[str, Any], reference: Optional[dict[str, Any]], device: str) -> dict[str, Any]:
    """The key of an input-space method's stage 1: its ``stage1_key``
    (:func:`pfrlib.engine.two_stage.stage1.stage1_key`), the key of the frozen source model its
    losses read (the trained reference's :func:`run_stage_key`, a given checkpoint's
    :func:`pfrlib.io.file_sha256`, or None), and the kind of device it trains on."""
    return {"stage1": to_jsonable(stage1), "reference": reference, "device": device_type(device)}


def entry_name(kind: str, key: dict[str, Any]) -> str:
    """The entry's folder name: ``<kind>-<first 20 hex digits of the SHA-256 of the key's JSON>``."""
    if kind not in STAGE_KINDS:
        raise ValueError(f"stage kind: expected one of {STAGE_KINDS}, got {kind!r}")
    text = json.dumps(to_jsonable(key), sort_keys=True, separators=(",", ":"))
    return f"{kind}-{hashlib.sha256(text.encode()).hexdigest()[:20]}"


def link_tree(src: Path, dst: Path, skip: tuple[str, ...] = (), only: Optional[tuple[str, ...]] = None) -> None:
    """Recreate the folder ``src`` in ``dst`` (whose entries of those names must not exist):
    :data:`LINKED_SUFFIXES` hard-linked where possible, everything else copied; hidden entries
    (locks, temporaries, a run moved aside) and the names in ``skip`` left out, and with ``only``
    every top-level name not in it."""
    dst.mkdir(parents=True, exist_ok=True)
    for item in sorted(src.iterdir()):
        if item.name.startswith(".") or item.name in skip or (only is not None and item.name not in only):
            continue
        target = dst / item.name
        if item.is_dir():
            link_tree(item, target)
            continue
        if item.suffix in LINKED_SUFFIXES:
            try:
                os.link(item, target)
                continue
            except OSError:  # another file system, or one without hard links
                pass
        shutil.copy2(item, target)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


class StageStore:
    """The store in folder ``root`` (made when first needed); see the module docstring."""

    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(root)

    def entry(self, kind: str, key: dict[str, Any]) -> Path:
        """Where the entry of ``key`` lies (whether or not it exists)."""
        return self.root / entry_name(kind, key)

    def obtain(self, kind: str, key: dict[str, Any], dest: Path, produce: Callable[[], T], *,
               here: str, complete: Callable[[T], bool] = lambda _: True,
               adopt: Callable[[Path], None] = lambda _: None, files: Optional[tuple[str, ...]] = None,
               progress: Callable[[str], None] = lambda s: None) -> tuple[T, dict[str, Any]]:
        """The stage of ``key`` in ``dest``, under the entry's lock: returns ``(produce(),
        {"entry": path, "linked": bool})``.

        ``produce()`` trains the stage in ``dest`` or reuses it there (the run's own rule) and
        returns its record. ``here`` says what ``dest`` holds now: ``"finished"`` (this stage,
        done), ``"other"`` (a stage of another configuration: the run's own rule decides, the
        store is not consulted) or ``"free"`` (nothing, or this stage unfinished). With an entry
        and ``here == "free"``, ``dest`` is replaced by the entry's files (linked) and
        ``adopt(dest)`` fixes what names the folder (e.g. the run's ``config.json``) before
        ``produce()`` reuses it. Without an entry, a stage that ``complete(record)`` is published.
        ``files``: the names that make the stage (the rest of ``dest`` is neither published nor
        replaced: a run folder keeps its launcher's files); None: all of ``dest``.
        """
        if here not in ("finished", "other", "free"):
            raise ValueError(f"here: expected 'finished', 'other' or 'free', got {here!r}")
        entry = self.entry(kind, key)
        with self._locked(entry, progress):
            linked = False
            if entry.is_dir():
                saved = json.loads((entry / KEY_FILE).read_text())
                if saved != json.loads(json.dumps(to_jsonable(key))):
                    raise ValueError(f"stage_store: {entry} holds another stage than its name says (its "
                                     f"{KEY_FILE} differs); remove that entry")
                if here == "free":
                    for old in ([dest] if files is None else [dest / name for name in files]):
                        _remove(old)
                    link_tree(entry, dest, skip=(KEY_FILE,), only=files)
                    adopt(dest)
                    linked = True
                    progress(f"stage store: {kind} linked from {entry} into {dest}")
            record = produce()
            if not entry.is_dir() and complete(record):
                self._publish(dest, entry, key, files)
                progress(f"stage store: {kind} published to {entry}")
        return record, {"entry": str(entry), "linked": linked}

    @contextlib.contextmanager
    def _locked(self, entry: Path, progress: Callable[[str], None]) -> Iterator[None]:
        """Hold the entry's lock; wait (polling) while another process holds it."""
        self.root.mkdir(parents=True, exist_ok=True)
        lock = FolderLock(self.root / f".{entry.name}.lock")
        told = False
        while (holder := lock.acquire()) is not None:
            if not told:
                progress(f"stage store: waiting for process {holder}, which is making {entry}")
                told = True
            time.sleep(POLL_SECONDS)
        try:
            lock.write_pid()
            yield
        finally:
            lock.release()

    def _publish(self, src: Path, entry: Path, key: dict[str, Any], files: Optional[tuple[str, ...]] = None) -> None:
        """Copy / link the finished stage ``src`` into a temporary folder, then rename it to
        ``entry`` (the lock is held: a temporary folder of this entry is a dead publisher's)."""
        for stale in self.root.glob(f"{_TMP}{entry.name}-*"):
            shutil.rmtree(stale, ignore_errors=True)
        tmp = self.root / f"{_TMP}{entry.name}-{os.getpid()}"
        link_tree(src, tmp, only=files)
        write_json(tmp / KEY_FILE, key)
        os.rename(tmp, entry)
