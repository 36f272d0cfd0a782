"""The one full ResNet-101 DeepLabV2 of the model tests and its seeded AdaptSegNet-layout state dict,
built once per session (tests/models/reference.py)."""

from __future__ import annotations

import pytest

from pfrlib.models.deeplabv2 import DeepLabV2
from pfrlib.models.weights import load_adaptsegnet_weights

from .reference import adaptsegnet_key_shapes, seeded_state_dict


@pytest.fixture(scope="session")
def r101_sd():
    return seeded_state_dict(adaptsegnet_key_shapes(19), seed=0)


@pytest.fixture(scope="session")
def r101(r101_sd):
    """The full ResNet-101 DeepLabV2, loaded with the seeded weights, eval mode."""
    model = DeepLabV2(19)
    load_adaptsegnet_weights(model, r101_sd)
    return model.eval()
