"""A trained model back from its checkpoint: the saved config rebuilds the network, then its weights.

:func:`load_model` is what ``python -m pfrlib.evaluate`` and the notebooks use; a checkpoint whose
weights do not fit the model its config describes is one line naming the checkpoint, the arch,
the class counts and the first mismatch (``load_state_dict`` would list every one).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from pfrlib.engine.checkpoint import load_checkpoint
from pfrlib.io import one_line
from pfrlib.config.train_config import TrainConfig
from pfrlib.models import build_from_config

__all__ = ["load_model"]


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
