"""pfrlib.config.device: the one device rule ('auto', 'cpu', 'cuda', 'cuda:N'), checked where it is read."""

from __future__ import annotations

import pytest
import torch

from pfrlib.config.device import check_device_name, device_type, resolve_device
from pfrlib.config.train_config import TrainConfig


def test_resolve_device_rule():
    assert resolve_device("cpu") == torch.device("cpu") and check_device_name("cuda:1") == "cuda:1"
    assert device_type("auto") == ("cuda" if torch.cuda.is_available() else "cpu") and device_type("cuda:0") == "cuda"
    assert resolve_device("auto").type == device_type("auto")
    for bad in ("gpu", "cuda:x", "CPU"):
        with pytest.raises(ValueError, match="device must be 'auto', 'cpu', 'cuda' or 'cuda:N'"):
            resolve_device(bad)
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            resolve_device("cuda")
    else:
        assert resolve_device("cuda", local_rank=0) == torch.device("cuda", 0)
    with pytest.raises(ValueError, match="device must be"):
        TrainConfig.preset("cpu", device="tpu").validate()
