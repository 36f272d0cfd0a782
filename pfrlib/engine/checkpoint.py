"""Checkpoints: atomic save/load and RNG states for a bit-exact resume. What a run directory
holds and when a checkpoint is written, promoted or replaced is :mod:`pfrlib.engine.rundir`'s policy.

A checkpoint is a plain dict saved with :func:`torch.save` through :func:`pfrlib.io.atomic_write`
(write beside the destination, then rename): a run killed mid-save keeps its previous checkpoint.
Everything in it is loadable with ``torch.load(weights_only=True)``: tensors, numbers, strings,
lists and dicts (the numpy RNG state is stored as a tensor, not an ``ndarray``).

A trained model comes back from its checkpoint with :func:`load_model` (what ``python -m
pfrlib.evaluate`` and the notebooks use): the saved config rebuilds the network, then its weights
are loaded; weights that do not fit the model its config describes are one line naming the
checkpoint, the arch, the class counts and the first mismatch. Within a run, :func:`weights_copy`
gives a copy of the run's network with a checkpoint's weights (the checkpoint chosen on val,
scored on test at the end).
"""

from __future__ import annotations

import copy
import os
import pickle
import random
import re
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch

from torch import Tensor, nn

from pfrlib.config.train_config import TrainConfig
from pfrlib.engine.distributed import broadcast_tensors
from pfrlib.io import atomic_write, one_line
from pfrlib.models import build_from_config

__all__ = [
    "CHECKPOINT_LAST",
    "CHECKPOINT_BEST",
    "CHECKPOINT_PENDING",
    "save_checkpoint",
    "load_checkpoint",
    "rng_state",
    "set_rng_state",
    "checkpoint_iteration",
    "states_of",
    "load_states",
    "load_model",
    "weights_copy",
]

#: The newest *good* checkpoint of a run: its model has produced finite losses.
CHECKPOINT_LAST = "checkpoint_last.pt"
#: The best periodic target-val checkpoint (``RunConfig.keep_best``).
CHECKPOINT_BEST = "checkpoint_best.pt"
#: A checkpoint just written, promoted to :data:`CHECKPOINT_LAST` once the next iteration's losses
#: come back finite (weights can be finite yet already diverged: their next outputs are NaN).
CHECKPOINT_PENDING = "checkpoint_pending.pt"

def save_checkpoint(path: str | os.PathLike, state: dict[str, Any]) -> Path:
    """Write ``state`` to ``path`` atomically (``torch.save`` to a temp file, then rename)."""
    return atomic_write(path, lambda f: torch.save(state, f))


#: The ``format`` entry of the checkpoints :mod:`pfrlib.train` writes starts with this.
CHECKPOINT_FORMAT_PREFIX = "pfrlib-checkpoint-"
_EXPECTED = "expected a checkpoint written by pfrlib.train (e.g. runs/NAME/checkpoint_last.pt)"
_ZIP_MAGIC = b"PK\x03\x04"  # torch.save writes a zip archive


def load_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load a checkpoint written by :func:`save_checkpoint`, safely (``weights_only=True``).

    Every problem is one line naming ``path`` and what was expected: a missing file, a
    directory, an empty or truncated file, a file that is not a ``torch.save`` archive (random
    bytes, a text file), an archive a safe load refuses (it holds pickled objects: another
    project's file), or a loadable object that is not a pfrlib checkpoint (a bare
    ``state_dict``, a dict without ``model`` / ``config``, another ``format``). Unsafe loading
    is never suggested: a pfrlib checkpoint holds only tensors, numbers, strings, lists and dicts.

    Raises:
        FileNotFoundError: no such file. IsADirectoryError: ``path`` is a directory.
        ValueError: the file is not a readable pfrlib checkpoint.
    """
    path = Path(path)
    if path.is_dir():
        hint = f"; did you mean {path / 'checkpoint_last.pt'}?" if (path / "checkpoint_last.pt").is_file() else ""
        raise IsADirectoryError(f"checkpoint {path} is a directory; {_EXPECTED}{hint}")
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist; {_EXPECTED}")
    try:
        with open(path, "rb") as f:
            head = f.read(len(_ZIP_MAGIC))
    except OSError as err:
        raise OSError(f"checkpoint {path} cannot be read: {err.strerror or err}") from err
    if not head:
        raise ValueError(f"checkpoint {path} is empty (0 bytes: a write that never finished?); {_EXPECTED}")
    if head != _ZIP_MAGIC:
        text = all(32 <= b < 127 or b in (9, 10, 13) for b in head)
        what = "a text file" if text else f"binary data starting with {head!r}"
        raise ValueError(f"checkpoint {path} is not a checkpoint: it is {what}, not a torch.save archive; {_EXPECTED}")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        found = re.search(r"Unsupported global: GLOBAL ([\w.]+)", str(err))
        what = f" (e.g. {found.group(1)})" if found else ""
        raise ValueError(f"checkpoint {path} holds pickled Python objects{what} that a safe load refuses, so it "
                         f"was not written by pfrlib.train, whose checkpoints hold only tensors, numbers, "
                         f"strings, lists and dicts; {_EXPECTED}") from None
    except (RuntimeError, EOFError, OSError, KeyError, ValueError, AttributeError, IndexError, TypeError) as err:
        reason = str(err).split(". ")[0].splitlines()[0][:160] if str(err) else type(err).__name__
        raise ValueError(f"checkpoint {path} is truncated or corrupt ({type(err).__name__}: {reason}); "
                         f"{_EXPECTED}") from None
    if not isinstance(state, dict):
        raise ValueError(f"checkpoint {path} holds a {type(state).__name__}, not a pfrlib checkpoint "
                         f"(a dict with 'format', 'model' and 'config' entries); {_EXPECTED}")
    fmt = state.get("format")
    if fmt is not None and not str(fmt).startswith(CHECKPOINT_FORMAT_PREFIX):
        raise ValueError(f"checkpoint {path} has format {fmt!r}, not a pfrlib checkpoint format "
                         f"({CHECKPOINT_FORMAT_PREFIX}N); {_EXPECTED}")
    if "model" not in state or "config" not in state:
        keys = sorted(str(k) for k in state)
        bare = state and all(isinstance(v, torch.Tensor) for v in state.values())
        what = (f"a bare state_dict of {len(keys)} tensors" if bare
                else f"a dict with keys {keys[:8]}{' ...' if len(keys) > 8 else ''}")
        raise ValueError(f"checkpoint {path} is not a pfrlib checkpoint: it holds {what}, not the 'model' and "
                         f"'config' entries pfrlib.train writes (another project's file?); {_EXPECTED}")
    return state


def rng_state() -> dict[str, Any]:
    """The torch (CPU and CUDA), numpy and python RNG states, in a ``weights_only``-safe form."""
    np_state = np.random.get_state()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": {
            "keys": torch.from_numpy(np_state[1].astype(np.int64)),
            "pos": int(np_state[2]),
            "has_gauss": int(np_state[3]),
            "cached_gaussian": float(np_state[4]),
        },
        "python": _py_state_to_lists(random.getstate()),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore the states saved by :func:`rng_state`."""
    torch.set_rng_state(state["torch"].cpu())
    npst = state["numpy"]
    np.random.set_state(
        ("MT19937", npst["keys"].numpy().astype(np.uint32), npst["pos"], npst["has_gauss"], npst["cached_gaussian"])
    )
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _py_state_to_lists(st: tuple) -> list:
    version, internal, gauss = st
    return [version, list(internal), gauss]


def checkpoint_iteration(path: str | os.PathLike) -> Any:
    """The iteration a checkpoint holds, or ``"?"`` if it cannot be read (for messages)."""
    try:
        return int(torch.load(path, map_location="cpu", weights_only=True)["iteration"])
    except (OSError, RuntimeError, KeyError, TypeError, ValueError, EOFError):
        return "?"


def states_of(parts: Mapping[str, Any]) -> dict[str, Any]:
    """``{key: part.state_dict()}`` for the stateful parts of a run (modules, optimisers,
    schedulers, a baseline); a dict of parts gives a dict of states, ``None`` an empty dict."""
    def state(part: Any) -> Any:
        if part is None:
            return {}
        if isinstance(part, Mapping):
            return {k: p.state_dict() for k, p in part.items()}
        return part.state_dict()

    return {key: state(part) for key, part in parts.items()}


def load_states(parts: Mapping[str, Any], state: Mapping[str, Any]) -> None:
    """The inverse of :func:`states_of`: load every part from ``state[key]`` (``None`` parts skipped)."""
    for key, part in parts.items():
        if part is None:
            continue
        if isinstance(part, Mapping):
            for k, p in part.items():
                p.load_state_dict(state[key][k])
        else:
            part.load_state_dict(state[key])


# --------------------------------------------------------------------------- a finished run's network
def load_model(checkpoint: str | Path, device: str | torch.device = "cpu"):
    """Rebuild the segmentation model of a training checkpoint and load its weights.

    Returns ``(model, config)``; the model is in eval mode on ``device``.
    """
    state = load_checkpoint(checkpoint)
    if "config" not in state:
        raise ValueError(f"checkpoint {checkpoint} holds no training config; was it written by pfrlib.train?")
    try:
        cfg = TrainConfig.from_dict(state["config"])
    except (ValueError, TypeError, KeyError) as err:
        raise ValueError(f"checkpoint {checkpoint}: its saved config is not valid: {one_line(err)}") from None
    try:
        model = build_from_config(cfg.model, load_init=False)
    except (ValueError, TypeError, KeyError) as err:
        raise ValueError(f"checkpoint {checkpoint}: the model its saved config describes (arch {cfg.model.arch!r}, "
                         f"{cfg.model.num_classes} classes) cannot be built: {one_line(err)}") from None
    _check_weights_fit(checkpoint, state["model"], model, cfg)
    model.load_state_dict(state["model"])
    return model.to(device).eval(), cfg


def weights_copy(model: nn.Module, checkpoint: str | Path, read: bool = True) -> nn.Module:
    """A copy of ``model`` (same device and layout) with the weights of ``checkpoint``, a checkpoint
    of the same run (e.g. ``checkpoint_best.pt``). Under ``torchrun`` only the process that
    ``read`` s it (rank 0, which wrote it) opens the file; every rank receives its weights
    (:func:`pfrlib.engine.distributed.broadcast_tensors`), so every rank must call this."""
    twin = copy.deepcopy(model)
    if read:
        twin.load_state_dict(load_checkpoint(checkpoint)["model"])
    broadcast_tensors(twin.state_dict().values())
    return twin


def _check_weights_fit(checkpoint: str | Path, weights: Any, model: nn.Module, cfg: Any) -> None:
    """One-line ``ValueError`` when a checkpoint's weights do not fit the model its config describes.

    (``load_state_dict`` would raise a ``RuntimeError`` listing every size mismatch on its own
    line.) The message names the checkpoint, the config's arch and class count and, where the
    classifier's shape shows it, the class count the weights were trained for.
    """
    where = (f"checkpoint {checkpoint}: its weights do not fit the model its saved config describes "
             f"(arch {cfg.model.arch!r}, {cfg.model.num_classes} classes)")
    if not isinstance(weights, dict):
        raise ValueError(f"{where}: 'model' holds a {type(weights).__name__}, not a state_dict")
    own = model.state_dict()
    missing = [k for k in own if k not in weights]
    unexpected = [k for k in weights if k not in own]
    mismatched = [(k, tuple(weights[k].shape), tuple(v.shape)) for k, v in own.items()
                  if k in weights and isinstance(weights[k], Tensor) and tuple(weights[k].shape) != tuple(v.shape)]
    not_tensors = [k for k in own if k in weights and not isinstance(weights[k], Tensor)]
    if not (missing or unexpected or mismatched or not_tensors):
        return
    parts = []
    k_cfg = int(cfg.model.num_classes)
    trained_k = sorted({saved[0] for _, saved, want in mismatched
                        if saved and want and want[0] == k_cfg and saved[0] != k_cfg and saved[1:] == want[1:]})
    if trained_k:
        parts.append(f"the weights predict {trained_k[0]} classes")
    if mismatched:
        name, saved, want = mismatched[0]
        parts.append(f"{len(mismatched)} shape mismatch(es), e.g. {name}: {list(saved)} in the checkpoint, "
                     f"{list(want)} in the model")
    if missing:
        parts.append(f"{len(missing)} missing entr{'y' if len(missing) == 1 else 'ies'} (e.g. {missing[0]})")
    if unexpected:
        parts.append(f"{len(unexpected)} unexpected entr{'y' if len(unexpected) == 1 else 'ies'} (e.g. {unexpected[0]})")
    if not_tensors:
        parts.append(f"{len(not_tensors)} non-tensor entr{'y' if len(not_tensors) == 1 else 'ies'} (e.g. {not_tensors[0]})")
    raise ValueError(f"{where}: " + "; ".join(parts))
