"""pfrlib.data.palette: colorize."""

from __future__ import annotations


import numpy as np
import pytest
import torch

from pfrlib.data.labels import PALETTE
from pfrlib.data.palette import colorize


def test_colorize():
    lab = np.array([[0, 13], [255, 18]])
    rgb = colorize(lab)
    assert rgb.dtype == np.uint8 and rgb.shape == (2, 2, 3)
    assert rgb[0, 0].tolist() == [128, 64, 128] and rgb[0, 1].tolist() == [0, 0, 142]
    assert rgb[1, 0].tolist() == [0, 0, 0] and rgb[1, 1].tolist() == list(PALETTE[18])
    batch = colorize(torch.tensor([[[0, 13], [255, 18]]] * 3))
    assert batch.shape == (3, 2, 2, 3) and np.array_equal(batch[2], rgb)
    with pytest.raises(ValueError):
        colorize(np.zeros(3, int))
