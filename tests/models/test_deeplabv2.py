"""pfrlib.models.deeplabv2: DeepLab-v2's structure and feature shapes, AdaptSegNet's state-dict layout and
parity with the independent functional reference (tests/models/reference.py), the ASPP branches option,
and the BatchNorm modes."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn as nn

from pfrlib.models import build_model
from pfrlib.models.common import count_parameters, feature_shapes
from pfrlib.models.weights import load_adaptsegnet_weights
from pfrlib.models.small import SmallSegNet

from .reference import TINY, adaptsegnet_key_shapes, check_output, reference_forward, seeded_state_dict, tiny


def test_deeplabv2_structure_and_shapes(r101):
    assert r101.normalization == "caffe_bgr" and r101.num_classes == 19
    # Caffe-style ceil-mode max-pool: 64 x 96 -> conv1 32 x 48 -> pool 17 x 25 -> stride 8: 9 x 13
    assert feature_shapes(r101, (1, 3, 64, 96)) == [(1, 256, 17, 25), (1, 512, 9, 13), (1, 1024, 9, 13),
                                                    (1, 2048, 9, 13), (1, 19, 9, 13), (1, 19, 9, 13)]
    # stages 4 and 5 are dilated, not strided: a torchvision-style floor max-pool would give 16 x 24
    assert r101.maxpool.ceil_mode
    assert r101.layer3[1].conv2.dilation == (2, 2) and r101.layer4[1].conv2.dilation == (4, 4)
    assert r101.layer2[0].conv1.stride == (2, 2) and r101.layer2[0].conv2.stride == (1, 1)


def test_feature_shapes_meta_720x1280(r101):
    shapes = feature_shapes(r101, (1, 3, 720, 1280))
    assert shapes == [(1, 256, 181, 321), (1, 512, 91, 161), (1, 1024, 91, 161), (1, 2048, 91, 161),
                      (1, 19, 91, 161), (1, 19, 91, 161)]
    assert r101.layer1[0].conv1.weight.device.type == "cpu"  # the model itself is untouched
    with pytest.raises(ValueError, match="input_shape"):
        feature_shapes(r101, (1, 4, 32, 32))


def test_multi_level_false_has_no_aux():
    for model in (tiny(5, multi_level=False), SmallSegNet(5, multi_level=False),
                  build_model("dilated_r18", 5, multi_level=False)):
        model.eval()
        with torch.no_grad():
            out = model(torch.randn(1, 3, 48, 48))
        assert out.aux_logits is None and out.logits.shape[1] == 5
        assert not any(k.startswith(("layer5.", "aux_classifier.")) for k in model.state_dict())
        assert len(model.param_groups(0.1)) == 2


def test_state_dict_keys_match_adaptsegnet(r101):
    expected = adaptsegnet_key_shapes(19)
    sd = r101.state_dict()
    assert list(sd) == list(expected)  # same keys, same order
    assert len(sd) == 640 and sum(not k.endswith("num_batches_tracked") for k in sd) == 536
    assert {k: tuple(v.shape) for k, v in sd.items()} == dict(expected)
    for k in ("layer6.conv2d_list.3.bias", "layer1.0.downsample.1.running_mean", "layer3.22.bn3.running_var",
              "layer5.conv2d_list.0.weight", "layer4.0.downsample.0.weight"):
        assert k in sd
    assert "layer1.1.downsample.0.weight" not in sd
    n_params = sum(math.prod(s) for k, s in expected.items() if not k.endswith(("running_mean", "running_var",
                                                                                   "num_batches_tracked")))
    assert count_parameters(r101) == n_params == 44_601_560


def test_parity_with_functional_adaptsegnet(r101, r101_sd):
    x = torch.randn(1, 3, 33, 41, generator=torch.Generator().manual_seed(1)) * 50
    with torch.no_grad():
        out = r101(x)
        aux_ref, main_ref, feats_ref = reference_forward(r101_sd, x, aspp_branches=2)
    check_output(out, 19, 1, [(9, 11)] + [(5, 6)] * 4, (256, 512, 1024, 2048))
    for got, want in [(out.aux_logits, aux_ref), (out.logits, main_ref), *zip(out.features, feats_ref)]:
        assert got.shape == want.shape
        scale = want.abs().max().item()
        assert scale > 1e-3
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4 * scale)


def test_deeplabv2_aspp_branches_option():
    sd = seeded_state_dict(adaptsegnet_key_shapes(4, layers=TINY), seed=3)
    m2, m4 = tiny(4, aspp_branches=2), tiny(4, aspp_branches=4)
    load_adaptsegnet_weights(m2, sd)
    load_adaptsegnet_weights(m4, sd)
    assert m2.state_dict().keys() == m4.state_dict().keys()
    x = torch.randn(1, 3, 41, 41)
    with torch.no_grad():
        o2, o4 = m2.eval()(x), m4.eval()(x)
        aux_ref, main_ref, _ = reference_forward(sd, x, aspp_branches=4, layers=TINY)
        manual = m2.layer6.conv2d_list[0](o2.features[3]) + m2.layer6.conv2d_list[1](o2.features[3])
    assert not torch.allclose(o2.logits, o4.logits) and not torch.allclose(o2.aux_logits, o4.aux_logits)
    torch.testing.assert_close(o2.logits, manual)
    torch.testing.assert_close(o4.logits, main_ref, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(o4.aux_logits, aux_ref, rtol=1e-4, atol=1e-4)


def _bns(model):
    return [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]


def test_bn_mode_adaptsegnet_uses_batch_statistics_in_train():
    torch.manual_seed(0)
    model = tiny(3, bn_mode="adaptsegnet")
    assert all(not p.requires_grad for bn in _bns(model) for p in bn.parameters())
    x = torch.randn(2, 3, 40, 40) * 3 + 1
    model.train()
    assert all(bn.training for bn in _bns(model))
    before = model.bn1.running_mean.clone()
    out = model(x)
    assert not torch.allclose(model.bn1.running_mean, before)  # running stats updated from the batch
    # the stem BN normalised with the batch statistics: its output has ~zero mean per channel
    with torch.no_grad():
        stem = model.bn1(model.conv1(x))
    assert stem.mean(dim=(0, 2, 3)).abs().max() < 1e-4
    out.logits.sum().backward()  # gradients reach convs but not BN affine parameters
    assert model.conv1.weight.grad is not None and model.bn1.weight.grad is None


def test_bn_mode_frozen_uses_running_statistics_even_in_train():
    torch.manual_seed(0)
    model = tiny(3, bn_mode="frozen")
    for bn in _bns(model):  # non-trivial running statistics
        bn.running_mean.uniform_(-0.5, 0.5)
        bn.running_var.uniform_(0.5, 2.0)
    model.train()
    assert model.training and not any(bn.training for bn in _bns(model))
    assert all(not p.requires_grad for bn in _bns(model) for p in bn.parameters())
    x = torch.randn(2, 3, 40, 40)
    before = model.bn1.running_mean.clone()
    train_out = model(x).logits
    assert torch.equal(model.bn1.running_mean, before)
    with torch.no_grad():
        eval_out = model.eval()(x).logits
    torch.testing.assert_close(train_out.detach(), eval_out)
    r18 = build_model("dilated_r18", 3, bn_mode="frozen").train()
    assert not any(bn.training for bn in _bns(r18))


def test_bn_mode_train_is_ordinary_batchnorm():
    model = tiny(3, bn_mode="train")
    assert all(p.requires_grad for bn in _bns(model) for p in bn.parameters())
