"""pfrlib.models.dilated_resnet: the dilated ResNet backbone (R101 on the meta device), torchvision
weights never downloaded, a weights file and the dilation."""

from __future__ import annotations


import pytest
import torch

from pfrlib.models import build_model
from pfrlib.models.common import feature_shapes
from pfrlib.models.dilated_resnet import DilatedResNet
from pfrlib.models.weights import WeightsMismatchError



def test_dilated_r101_structure_on_meta_device():
    with torch.device("meta"):  # ResNet-101 shapes without allocating or computing anything
        model = build_model("dilated_r101", 7)
    assert model.normalization == "imagenet" and len(model.layer3) == 23
    assert feature_shapes(model, (2, 3, 64, 96)) == [(2, 256, 16, 24), (2, 512, 8, 12), (2, 1024, 8, 12),
                                                     (2, 2048, 8, 12), (2, 7, 8, 12), (2, 7, 8, 12)]


def test_dilated_resnet_weights_are_never_downloaded(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))
    with pytest.raises(FileNotFoundError, match="never downloads"):
        DilatedResNet(3, depth=18, weights="IMAGENET1K_V1")
    with pytest.raises(ValueError, match="not a torchvision"):
        DilatedResNet(3, depth=18, weights="NOT_A_WEIGHT")


def test_dilated_r18_weights_path_and_dilation(tmp_path):
    import torchvision

    ref = torchvision.models.resnet18(weights=None)
    torch.save(ref.state_dict(), tmp_path / "r18.pth")
    model = DilatedResNet(3, depth=18, weights_path=tmp_path / "r18.pth")
    torch.testing.assert_close(model.layer4[1].conv2.weight, ref.layer4[1].conv2.weight)
    assert model.layer3[0].conv1.stride == (1, 1) and model.layer3[0].downsample[0].stride == (1, 1)
    assert [b.conv2.dilation for b in model.layer4] == [(2, 2), (4, 4)]
    with pytest.raises(WeightsMismatchError, match="ResNet-50"):
        DilatedResNet(3, depth=50, weights_path=tmp_path / "r18.pth")
