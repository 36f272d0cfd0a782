"""pfrlib.models (the package: the model registry and build_model): every model's names, errors, output
structure at stride 8, and parameter groups (the heads' learning-rate ratio)."""

from __future__ import annotations


import pytest
import torch

from pfrlib.models import MODEL_NAMES, build_model
from pfrlib.models.common import count_parameters
from pfrlib.models.deeplabv2 import DeepLabV2

from .reference import R101, TINY, check_output


def test_registry_names_and_errors():
    assert set(MODEL_NAMES) == {"deeplabv2_r101", "dilated_r18", "dilated_r50", "dilated_r101", "small"}
    with pytest.raises(ValueError) as err:
        build_model("deeplabv3_r50", 19)
    for name in MODEL_NAMES:
        assert name in str(err.value)
    for bad in (0, -3):
        with pytest.raises(ValueError, match="num_classes"):
            build_model("small", bad)
    with pytest.raises(ValueError, match="num_classes"):
        DeepLabV2(0, layers=TINY)
    with pytest.raises(ValueError, match="aspp_branches"):
        DeepLabV2(19, layers=TINY, aspp_branches=5)
    with pytest.raises(ValueError, match="bn_mode"):
        DeepLabV2(19, layers=TINY, bn_mode="sync")


@pytest.mark.parametrize("name", ["dilated_r18", "dilated_r50", "small"])
def test_output_structure_and_stride_8(name):
    model = build_model(name, 7).eval()
    assert model.num_classes == 7
    assert model.normalization == ("unit" if name == "small" else "imagenet")
    with torch.no_grad():
        out = model(torch.randn(2, 3, 64, 96))
    channels = {"dilated_r18": (64, 128, 256, 512), "small": (16, 32, 64, 64)}.get(name, (256, 512, 1024, 2048))
    # output stride 4 for stage 2, 8 for stages 3..5 and the logits (64 x 96 -> 8 x 12)
    check_output(out, 7, 2, [(16, 24)] + [(8, 12)] * 4, channels)


def test_param_groups_lr_ratio(r101):
    groups = r101.param_groups(2.5e-4)
    assert [g["lr"] for g in groups] == [2.5e-4, 2.5e-3]
    # heads: the two summed ASPP branches of each head (AdaptSegNet's classifier adds only branches
    # 0 and 1; branches 2-3 stay in the state_dict but are frozen, so DDP and SGD skip them)
    head_ids = {id(p) for m in (r101.layer5, r101.layer6) for conv in m.conv2d_list[:2] for p in conv.parameters()}
    assert {id(p) for p in groups[1]["params"]} == head_ids and len(groups[1]["params"]) == 8
    # backbone: conv weights only (BN affine parameters are frozen): conv1 + 3 per block + 4 shortcuts
    assert len(groups[0]["params"]) == 1 + 3 * sum(R101) + 4
    assert all(p.requires_grad for g in groups for p in g["params"])
    for name in ("small", "dilated_r18"):
        g = build_model(name, 4).param_groups(0.01)
        assert [x["lr"] for x in g] == [0.01, pytest.approx(0.1)]
        n = sum(p.numel() for x in g for p in x["params"])
        assert n == count_parameters(build_model(name, 4), trainable_only=True)
