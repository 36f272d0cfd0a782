"""Loading AdaptSegNet / DeepLab-v2 weight files into :class:`~pfrlib.models.DeepLabV2`.

Two kinds of file exist (both plain state_dicts saved with ``torch.save``):

* the **ImageNet + COCO initialisation** AdaptSegNet starts from,
  ``DeepLab_resnet_pretrained_init-f81d91e8.pth`` (converted from DeepLab-v2's Caffe
  ``init.caffemodel``). Its keys carry a ``Scale.`` prefix (``Scale.conv1.weight``,
  ``Scale.layer1.0.downsample.1.running_mean``, ...) and, besides the backbone, hold one
  single-level classifier ``Scale.layer5.conv2d_list.{0..3}.{weight,bias}`` that sits on
  ``layer4`` (2048 input channels, its own class count); there is no ``layer6``. That
  ``layer5`` is *not* our ``layer5`` (the auxiliary head on ``layer3``, 1024 channels), so its
  shapes never match: AdaptSegNet's train script skips ``layer5`` keys (for 19 classes) and both
  heads start from random weights. Here: head keys whose shapes differ are skipped and listed.
* AdaptSegNet's **trained checkpoints** (``model.state_dict()`` of its multi-level model):
  unprefixed keys, backbone plus ``layer5`` and ``layer6``. pfrlib's own checkpoints wrap the
  state_dict in a dict under ``"model"``; ``{"state_dict": ...}`` and DataParallel's ``module.``
  prefix are unwrapped too.

Rules (:func:`load_adaptsegnet_weights`): every backbone tensor must be present with the right
shape and every file key must belong to the model; a head key (``layer5.*`` / ``layer6.*``) whose
shape differs (another class count, or the init file's 2048-channel ``layer5``) is skipped for an
init file, and refused for a trained checkpoint unless ``allow_head_mismatch=True`` (evaluating
a checkpoint with the wrong class count is almost always a mistake; fine-tuning it to another
label set is the exception). ``num_batches_tracked`` buffers (absent from files saved before
PyTorch 0.4.1) may be missing: BN uses a fixed momentum, so they are never read.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Mapping, Optional, Union

import torch
import torch.nn as nn
from torch import Tensor

__all__ = ["LoadReport", "WeightsMismatchError", "load_adaptsegnet_weights", "read_state_dict"]

INIT_PREFIX = "Scale."


class WeightsMismatchError(ValueError):
    """A weight file does not fit the model; the message lists the offending keys and shapes."""


@dataclass
class LoadReport:
    """What :func:`load_adaptsegnet_weights` did.

    Attributes:
        source: the file path (or ``"<state_dict>"``).
        kind: ``"init"`` (``Scale.``-prefixed DeepLab initialisation) or ``"checkpoint"``.
        loaded: model keys copied from the file.
        skipped: file keys (prefix stripped) not copied, with ``reasons[key]`` saying why.
        missing: model keys the file lacks, left as they were (randomly initialised heads,
            ``num_batches_tracked`` buffers).
        reasons: key -> human-readable reason, for skipped and missing keys.
    """

    source: str
    kind: str
    loaded: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    reasons: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        lines = [f"Loaded {len(self.loaded)} tensors from {self.source} ({self.kind})."]
        for title, keys in (("Skipped", self.skipped), ("Missing (left as initialised)", self.missing)):
            if not keys:
                continue
            lines.append(f"{title}: {len(keys)}")
            nbt = [k for k in keys if k.endswith("num_batches_tracked")]
            for k in keys:
                if k not in nbt:
                    lines.append(f"  {k}: {self.reasons.get(k, '')}".rstrip(": "))
            if nbt:
                lines.append(f"  ... and {len(nbt)} num_batches_tracked buffers (unused: BN momentum is fixed)")
        return "\n".join(lines)


def read_state_dict(path_or_state_dict: Union[str, os.PathLike, Mapping[str, Tensor]]) -> tuple[dict, str]:
    """A flat ``{key: tensor}`` dict from a path or a (possibly wrapped) state_dict, plus its source name.

    Unwraps ``{"model": sd}`` / ``{"state_dict": sd}`` and strips DataParallel's ``module.``.
    Raises ``FileNotFoundError`` for a missing path and ``ValueError`` for something that is not
    a state_dict of tensors.
    """
    if isinstance(path_or_state_dict, (str, os.PathLike)):
        source = os.fspath(path_or_state_dict)
        if not os.path.isfile(source):
            raise FileNotFoundError(f"weights file not found: {source!r}")
        try:
            obj = torch.load(source, map_location="cpu", weights_only=True)
        except Exception as err:  # noqa: BLE001 - re-raised with the file named
            raise ValueError(f"{source}: could not read it as a PyTorch weights file ({err})") from err
    elif isinstance(path_or_state_dict, Mapping):
        source, obj = "<state_dict>", path_or_state_dict
    else:
        raise ValueError("path_or_state_dict: expected a file path or a state_dict, "
                         f"got {type(path_or_state_dict).__name__}")
    for wrapper in ("model", "state_dict"):
        if isinstance(obj, Mapping) and isinstance(obj.get(wrapper), Mapping):
            obj = obj[wrapper]
            break
    if not isinstance(obj, Mapping) or not obj:
        raise ValueError(f"{source}: expected a non-empty state_dict (key -> tensor), got {type(obj).__name__}")
    bad = [k for k, v in obj.items() if not isinstance(v, Tensor)]
    if bad:
        raise ValueError(f"{source}: not a state_dict: {len(bad)} entries are not tensors, e.g. {bad[:3]}")
    sd = OrderedDict(obj)
    if all(k.startswith("module.") for k in sd):
        sd = OrderedDict((k[len("module."):], v) for k, v in sd.items())
    return sd, source


def _shape(t: Tensor) -> str:
    return "[" + ", ".join(str(s) for s in t.shape) + "]"


def _block(key: str) -> str:
    """The module a key belongs to, to the block level: ``layer3.1.bn2.weight`` -> ``layer3.1``."""
    parts = key.split(".")
    return ".".join(parts[:2]) if len(parts) > 2 and parts[1].isdigit() else parts[0]


def _grouped(what: str, why: str, groups: dict[str, list[str]]) -> list[str]:
    """One problem line per block: the key itself, or a count and an example for a whole block."""
    lines = []
    for block, entries in groups.items():
        if len(entries) == 1:
            lines.append(f"{what} {entries[0]} {why}")
        else:
            lines.append(f"{what}s {block}.* ({len(entries)} tensors, e.g. {entries[0]}) {why}")
    return lines


def load_adaptsegnet_weights(model: nn.Module, path_or_state_dict, allow_head_mismatch: Optional[bool] = None,
                             verbose: bool = False) -> LoadReport:
    """Copy an AdaptSegNet / DeepLab-v2 weight file into ``model`` (in place) and report what happened.

    Args:
        model: usually a :class:`~pfrlib.models.DeepLabV2`; any module works, its
            ``head_prefixes`` attribute (default ``("layer5.", "layer6.")``) naming the heads.
        path_or_state_dict: a ``.pth`` path, a state_dict, or a dict wrapping one under
            ``"model"`` / ``"state_dict"``. ``Scale.``-prefixed keys mark the DeepLab init file.
        allow_head_mismatch: skip (``True``) or refuse (``False``) head tensors whose shape
            differs from the model's. Default ``None``: skip for the init file, refuse for a
            trained checkpoint.
        verbose: print the report.

    Returns:
        :class:`LoadReport` with ``loaded``, ``skipped`` and ``missing`` keys.

    Raises:
        FileNotFoundError: the path does not exist.
        WeightsMismatchError (a ValueError): backbone keys missing or with wrong shapes, keys the
            model does not have, or (see ``allow_head_mismatch``) head shape mismatches; the
            message names every key and both shapes. Nothing is copied in that case.
    """
    raw, source = read_state_dict(path_or_state_dict)
    is_init = all(k.startswith(INIT_PREFIX) for k in raw)
    if not is_init and any(k.startswith(INIT_PREFIX) for k in raw):
        raise WeightsMismatchError(f"{source}: some keys start with {INIT_PREFIX!r} and some do not; "
                                   "expected either DeepLab's init file or an AdaptSegNet checkpoint")
    sd = OrderedDict((k[len(INIT_PREFIX):] if is_init else k, v) for k, v in raw.items())
    skip_heads = is_init if allow_head_mismatch is None else bool(allow_head_mismatch)
    head_prefixes = tuple(getattr(model, "head_prefixes", ("layer5.", "layer6.")))
    target = model.state_dict()

    def is_head(key: str) -> bool:
        return key.startswith(head_prefixes)

    report = LoadReport(source=source, kind="init" if is_init else "checkpoint")
    problems: list[str] = []
    unexpected: dict[str, list[str]] = {}  # block ("layer3.1") -> "key [shape]" entries
    absent: dict[str, list[str]] = {}
    to_copy: dict[str, Tensor] = {}
    for key, value in sd.items():
        if key not in target:
            if is_head(key):  # e.g. a multi-level checkpoint into a model built with multi_level=False
                report.skipped.append(key)
                hint = "" if is_init else " (built with multi_level=False?)"
                report.reasons[key] = f"file {_shape(value)}: the model has no such head{hint}"
            else:
                unexpected.setdefault(_block(key), []).append(f"{key} {_shape(value)}")
        elif value.shape != target[key].shape:
            msg = f"{key}: file {_shape(value)} vs model {_shape(target[key])}"
            if is_head(key) and skip_heads:
                report.skipped.append(key)
                origin = " - DeepLab's own classifier, never loaded by AdaptSegNet" if is_init else ""
                report.reasons[key] = f"head shape differs (file {_shape(value)}, model {_shape(target[key])}){origin}"
            elif is_head(key):
                problems.append(msg + " (head)")
            else:
                problems.append(msg)
        else:
            to_copy[key] = value
    for key in target:
        if key in sd:
            continue
        if key.endswith("num_batches_tracked"):
            report.missing.append(key)
            report.reasons[key] = "not in the file (unused)"
        elif is_head(key):
            report.missing.append(key)
            report.reasons[key] = "not in the file: keeps its random initialisation"
        else:
            absent.setdefault(_block(key), []).append(f"{key} {_shape(target[key])}")
    problems += _grouped("unexpected key", "(not in the model)", unexpected)
    problems += _grouped("missing backbone key", "(not in the file)", absent)
    if problems:
        shown = problems[:25] + ([f"... and {len(problems) - 25} more"] if len(problems) > 25 else [])
        hint = ""
        if any(p.endswith("(head)") for p in problems):
            hint = ("\nHead shapes differ: a checkpoint for another class count? "
                    "Pass allow_head_mismatch=True to skip the heads and keep them randomly initialised.")
        raise WeightsMismatchError(f"{source} does not fit {type(model).__name__} ({len(problems)} problem(s)):"
                                   "\n  " + "\n  ".join(shown) + hint)

    with torch.no_grad():
        for key, value in to_copy.items():
            target[key].copy_(value)
    report.loaded = list(to_copy)
    if verbose:
        print(report)
    return report
