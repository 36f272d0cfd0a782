"""Label colours: trainIds -> RGB with the Cityscapes palette (255 = ignore in black).

:func:`colorize` needs only numpy, so it sits below the figures (:mod:`pfrlib.viz` re-exports it)
and below the evaluation. Its colours are :data:`pfrlib.data.labels.COLOR_LUT` (trainIds 19..255,
255 = ignore included, are black), the table the evaluation's colourised predictions use too.
"""

from __future__ import annotations

import numpy as np
import torch

from pfrlib.data.labels import COLOR_LUT, IGNORE_INDEX

__all__ = ["colorize"]


def colorize(label: np.ndarray | torch.Tensor) -> np.ndarray:
    """Colourise trainIds with the Cityscapes palette.

    Args:
        label: H x W or B x H x W integer array / tensor of trainIds (0..18; 255 = ignore and
            any other value are drawn black).

    Returns:
        uint8 numpy array, H x W x 3 (or B x H x W x 3).
    """
    if isinstance(label, torch.Tensor):
        label = label.detach().cpu().numpy()
    label = np.asarray(label)
    if label.ndim not in (2, 3):
        raise ValueError(f"colorize expects an H x W or B x H x W label, got shape {label.shape}")
    if label.dtype.kind not in "iub":
        raise TypeError(f"colorize expects integer trainIds, got dtype {label.dtype}")
    ids = label.astype(np.int64)
    ids = np.where((ids < 0) | (ids > 255), IGNORE_INDEX, ids)
    return COLOR_LUT[ids]
