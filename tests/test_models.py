"""Tests of pfrlib.models: structure, AdaptSegNet parity, weight loading, heads, BN modes.

The parity test checks DeepLabV2 against an independent *functional* re-implementation of
AdaptSegNet's multi-level DeepLab-v2 written below (``reference_forward``): plain
``torch.nn.functional`` calls driven by a state dict in AdaptSegNet's key layout, built from the
architecture description (``adaptsegnet_key_shapes``), not from the model under test.
"""

from __future__ import annotations

import math
from collections import OrderedDict

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from pfrlib.models import MODEL_NAMES, build_model
from pfrlib.models.common import ASPPClassifier, SegmentationOutput, count_parameters, feature_shapes
from pfrlib.models.deeplabv2 import DeepLabV2
from pfrlib.models.dilated_resnet import DilatedResNet
from pfrlib.models.discriminator import FCDiscriminator
from pfrlib.models.weights import LoadReport, WeightsMismatchError, load_adaptsegnet_weights
from pfrlib.models.small import SmallSegNet

R101 = (3, 4, 23, 3)
TINY = (1, 1, 1, 1)
# (stage, planes, stride, dilation) of AdaptSegNet's layer1..layer4
STAGES = ((1, 64, 1, 1), (2, 128, 2, 1), (3, 256, 1, 2), (4, 512, 1, 4))


# --------------------------------------------------------------------------- reference (independent)
def adaptsegnet_key_shapes(num_classes: int, layers=R101, multi_level: bool = True,
                           with_nbt: bool = True) -> "OrderedDict[str, tuple]":
    """AdaptSegNet's ``ResNetMulti`` state_dict layout (key -> shape), from the architecture text."""
    out: OrderedDict[str, tuple] = OrderedDict()

    def bn(prefix: str, c: int) -> None:
        out[f"{prefix}.weight"] = (c,)
        out[f"{prefix}.bias"] = (c,)
        out[f"{prefix}.running_mean"] = (c,)
        out[f"{prefix}.running_var"] = (c,)
        if with_nbt:
            out[f"{prefix}.num_batches_tracked"] = ()

    out["conv1.weight"] = (64, 3, 7, 7)
    bn("bn1", 64)
    cin = 64
    for (stage, planes, _stride, _dil), n in zip(STAGES, layers):
        for b in range(n):
            p = f"layer{stage}.{b}"
            out[f"{p}.conv1.weight"] = (planes, cin, 1, 1)
            bn(f"{p}.bn1", planes)
            out[f"{p}.conv2.weight"] = (planes, planes, 3, 3)
            bn(f"{p}.bn2", planes)
            out[f"{p}.conv3.weight"] = (4 * planes, planes, 1, 1)
            bn(f"{p}.bn3", 4 * planes)
            if b == 0:
                out[f"{p}.downsample.0.weight"] = (4 * planes, cin, 1, 1)
                bn(f"{p}.downsample.1", 4 * planes)
            cin = 4 * planes
    for head, c in (("layer5", 1024), ("layer6", 2048)):
        if head == "layer5" and not multi_level:
            continue
        for i in range(4):
            out[f"{head}.conv2d_list.{i}.weight"] = (num_classes, c, 3, 3)
            out[f"{head}.conv2d_list.{i}.bias"] = (num_classes,)
    return out


def seeded_state_dict(shapes, seed: int = 0) -> "OrderedDict[str, torch.Tensor]":
    """Random but well-scaled tensors for a key -> shape layout (activations stay O(1))."""
    g = torch.Generator().manual_seed(seed)
    sd: OrderedDict[str, torch.Tensor] = OrderedDict()
    for k, shape in shapes.items():
        if k.endswith("num_batches_tracked"):
            sd[k] = torch.tensor(0)
        elif k.endswith("running_var"):
            sd[k] = torch.rand(shape, generator=g) + 0.5
        elif k.endswith("running_mean") or (k.endswith("bias")):
            sd[k] = 0.1 * torch.randn(shape, generator=g)
        elif len(shape) == 1:  # BN weight
            sd[k] = 0.5 + 0.5 * torch.rand(shape, generator=g)
        else:  # conv weight
            fan_in = shape[1] * shape[2] * shape[3]
            sd[k] = torch.randn(shape, generator=g) / math.sqrt(fan_in)
    return sd


def reference_forward(sd, x, aspp_branches: int = 2, layers=R101):
    """AdaptSegNet's DeepLab-v2 (eval mode) with torch.nn.functional only -> (aux, main, features)."""

    def bn(t, p):
        return F.batch_norm(t, sd[p + ".running_mean"], sd[p + ".running_var"], sd[p + ".weight"],
                            sd[p + ".bias"], training=False, eps=1e-5)

    h = F.relu(bn(F.conv2d(x, sd["conv1.weight"], stride=2, padding=3), "bn1"))
    h = F.max_pool2d(h, kernel_size=3, stride=2, padding=1, ceil_mode=True)
    feats = []
    for (stage, _planes, stride, dil), n in zip(STAGES, layers):
        for b in range(n):
            p = f"layer{stage}.{b}"
            s = stride if b == 0 else 1
            y = F.relu(bn(F.conv2d(h, sd[p + ".conv1.weight"], stride=s), p + ".bn1"))
            y = F.relu(bn(F.conv2d(y, sd[p + ".conv2.weight"], padding=dil, dilation=dil), p + ".bn2"))
            y = bn(F.conv2d(y, sd[p + ".conv3.weight"]), p + ".bn3")
            short = bn(F.conv2d(h, sd[p + ".downsample.0.weight"], stride=s), p + ".downsample.1") if b == 0 else h
            h = F.relu(y + short)
        feats.append(h)

    def head(t, name):
        return sum(F.conv2d(t, sd[f"{name}.conv2d_list.{i}.weight"], sd[f"{name}.conv2d_list.{i}.bias"],
                            padding=6 * (i + 1), dilation=6 * (i + 1)) for i in range(aspp_branches))

    return head(feats[2], "layer5"), head(feats[3], "layer6"), feats


# --------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def r101_sd():
    return seeded_state_dict(adaptsegnet_key_shapes(19), seed=0)


@pytest.fixture(scope="module")
def r101(r101_sd):
    """The one full ResNet-101 DeepLabV2 of this module, loaded with the seeded weights, eval mode."""
    model = DeepLabV2(19)
    load_adaptsegnet_weights(model, r101_sd)
    return model.eval()


def tiny(num_classes=19, **kw) -> DeepLabV2:
    return DeepLabV2(num_classes, layers=TINY, **kw)


# --------------------------------------------------------------------------- registry and structure
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


def _check_output(out, k, batch, shapes_hw, channels):
    assert isinstance(out, SegmentationOutput)
    assert len(out.features) == 4
    for f, hw, c in zip(out.features, shapes_hw[:4], channels):
        assert tuple(f.shape) == (batch, c, *hw)
    assert tuple(out.logits.shape) == (batch, k, *shapes_hw[4])
    assert out.aux_logits is not None and out.aux_logits.shape == out.logits.shape
    assert torch.isfinite(out.logits).all()


@pytest.mark.parametrize("name", ["dilated_r18", "dilated_r50", "small"])
def test_output_structure_and_stride_8(name):
    model = build_model(name, 7).eval()
    assert model.num_classes == 7
    assert model.normalization == ("unit" if name == "small" else "imagenet")
    with torch.no_grad():
        out = model(torch.randn(2, 3, 64, 96))
    channels = {"dilated_r18": (64, 128, 256, 512), "small": (16, 32, 64, 64)}.get(name, (256, 512, 1024, 2048))
    # output stride 4 for stage 2, 8 for stages 3..5 and the logits (64 x 96 -> 8 x 12)
    _check_output(out, 7, 2, [(16, 24)] + [(8, 12)] * 4, channels)


def test_dilated_r101_structure_on_meta_device():
    with torch.device("meta"):  # ResNet-101 shapes without allocating or computing anything
        model = build_model("dilated_r101", 7)
    assert model.normalization == "imagenet" and len(model.layer3) == 23
    assert feature_shapes(model, (2, 3, 64, 96)) == [(2, 256, 16, 24), (2, 512, 8, 12), (2, 1024, 8, 12),
                                                     (2, 2048, 8, 12), (2, 7, 8, 12), (2, 7, 8, 12)]


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


# --------------------------------------------------------------------------- AdaptSegNet layout and parity
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
    _check_output(out, 19, 1, [(9, 11)] + [(5, 6)] * 4, (256, 512, 1024, 2048))
    for got, want in [(out.aux_logits, aux_ref), (out.logits, main_ref), *zip(out.features, feats_ref)]:
        assert got.shape == want.shape
        scale = want.abs().max().item()
        assert scale > 1e-3
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4 * scale)


# --------------------------------------------------------------------------- ASPP heads
def test_aspp_two_branches_is_sum_of_first_two():
    torch.manual_seed(0)
    head = ASPPClassifier(8, 3)
    x = torch.randn(2, 8, 9, 11)
    with torch.no_grad():
        for conv in head.conv2d_list:
            conv.weight.normal_()
        full = head(x)
        head.branches_used = 2
        two = head(x)
        branches = [conv(x) for conv in head.conv2d_list]
    torch.testing.assert_close(two, branches[0] + branches[1])
    torch.testing.assert_close(full, sum(branches))
    assert not torch.allclose(two, full)
    assert [c.dilation for c in head.conv2d_list] == [(6, 6), (12, 12), (18, 18), (24, 24)]


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


# --------------------------------------------------------------------------- BatchNorm modes
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


# --------------------------------------------------------------------------- param groups
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


# --------------------------------------------------------------------------- weight loading
def _init_file_state_dict(r101_sd, classes=21):
    """DeepLab's init file layout: ``Scale.`` prefix, one 2048-channel ``layer5``, no ``layer6``/nbt."""
    init = OrderedDict((f"Scale.{k}", v) for k, v in r101_sd.items()
                       if not k.startswith(("layer5.", "layer6.")) and not k.endswith("num_batches_tracked"))
    for i in range(4):
        init[f"Scale.layer5.conv2d_list.{i}.weight"] = torch.zeros(classes, 2048, 3, 3)
        init[f"Scale.layer5.conv2d_list.{i}.bias"] = torch.zeros(classes)
    return init


def test_load_init_file_skips_heads(r101, r101_sd, tmp_path):
    path = tmp_path / "DeepLab_resnet_pretrained_init.pth"
    torch.save(_init_file_state_dict(r101_sd), path)
    heads_before = {k: v.clone() for k, v in r101.state_dict().items() if k.startswith(("layer5", "layer6"))}
    report = load_adaptsegnet_weights(r101, str(path))
    assert isinstance(report, LoadReport) and report.kind == "init"
    assert len(report.loaded) == 536 - 16 and "layer4.2.bn3.running_var" in report.loaded
    assert sorted(report.skipped) == sorted(f"layer5.conv2d_list.{i}.{t}" for i in range(4) for t in ("weight", "bias"))
    assert "[21, 2048, 3, 3]" in report.reasons["layer5.conv2d_list.0.weight"]
    assert "layer6.conv2d_list.3.bias" in report.missing and "layer1.0.bn1.num_batches_tracked" in report.missing
    text = str(report)
    assert "Loaded 520" in text and "Skipped: 8" in text and "layer5.conv2d_list.0.weight" in text
    for k, v in heads_before.items():  # heads untouched
        assert torch.equal(r101.state_dict()[k], v)
    torch.testing.assert_close(r101.state_dict()["layer3.5.conv2.weight"], r101_sd["layer3.5.conv2.weight"])


def test_load_checkpoint_wrong_class_count_refused_or_skipped(tmp_path):
    ckpt = seeded_state_dict(adaptsegnet_key_shapes(19, layers=TINY), seed=5)
    model = tiny(16)
    before = model.conv1.weight.clone()
    with pytest.raises(WeightsMismatchError) as err:
        load_adaptsegnet_weights(model, ckpt)
    msg = str(err.value)
    assert "layer6.conv2d_list.0.weight" in msg and "[19, 2048, 3, 3]" in msg and "[16, 2048, 3, 3]" in msg
    assert "allow_head_mismatch" in msg
    assert torch.equal(model.conv1.weight, before)  # nothing copied on refusal
    report = load_adaptsegnet_weights(model, ckpt, allow_head_mismatch=True)
    assert report.kind == "checkpoint" and len(report.skipped) == 16
    assert torch.equal(model.conv1.weight, ckpt["conv1.weight"])
    # the right class count loads everything, also wrapped as pfrlib / other checkpoints wrap it
    for wrapped in ({"model": ckpt, "iteration": 3}, {"state_dict": ckpt}):
        torch.save(wrapped, tmp_path / "ckpt.pth")
        rep = load_adaptsegnet_weights(tiny(19), tmp_path / "ckpt.pth")
        assert len(rep.loaded) == len(ckpt) and not rep.skipped and not rep.missing


def test_load_refuses_backbone_mismatch_and_unexpected_keys(tmp_path):
    good = seeded_state_dict(adaptsegnet_key_shapes(3, layers=TINY), seed=6)
    bad_shape = OrderedDict(good, **{"layer2.0.conv2.weight": torch.zeros(128, 128, 1, 1)})
    with pytest.raises(WeightsMismatchError,
                       match=r"layer2\.0\.conv2\.weight: file \[128, 128, 1, 1\] vs model \[128, 128, 3, 3\]"):
        load_adaptsegnet_weights(tiny(3), bad_shape)
    extra = OrderedDict(good, **{"fc.weight": torch.zeros(1000, 2048)})
    with pytest.raises(WeightsMismatchError, match=r"unexpected key fc\.weight \[1000, 2048\]"):
        load_adaptsegnet_weights(tiny(3), extra)
    missing = OrderedDict((k, v) for k, v in good.items() if k != "layer1.0.downsample.1.running_mean")
    with pytest.raises(WeightsMismatchError, match=r"missing backbone key layer1\.0\.downsample\.1\.running_mean"):
        load_adaptsegnet_weights(tiny(3), missing)
    deeper = seeded_state_dict(adaptsegnet_key_shapes(3, layers=(1, 1, 2, 1)), 0)  # one block more in layer3
    with pytest.raises(WeightsMismatchError, match=r"unexpected keys layer3\.1\.\* \(18 tensors, e\.g\. "
                                                   r"layer3\.1\.conv1\.weight \[256, 1024, 1, 1\]\)"):
        load_adaptsegnet_weights(tiny(3), deeper)
    with pytest.raises(FileNotFoundError, match="nope.pth"):
        load_adaptsegnet_weights(tiny(3), tmp_path / "nope.pth")
    # a multi-level checkpoint into a single-level model: layer5 is skipped and reported
    rep = load_adaptsegnet_weights(tiny(3, multi_level=False), good)
    assert len(rep.skipped) == 8 and all(k.startswith("layer5.") for k in rep.skipped)


def test_build_model_with_weights_path(tmp_path):
    sd = seeded_state_dict(adaptsegnet_key_shapes(2, layers=TINY), seed=7)
    torch.save(sd, tmp_path / "w.pth")
    model = build_model("deeplabv2_r101", 2, layers=TINY, weights_path=str(tmp_path / "w.pth"))
    assert len(model.load_report.loaded) == len(sd)
    assert torch.equal(model.layer6.conv2d_list[2].bias, sd["layer6.conv2d_list.2.bias"])


# --------------------------------------------------------------------------- torchvision-backed models
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


# --------------------------------------------------------------------------- small model
def test_small_model_size_and_shapes():
    model = SmallSegNet(19)
    assert 150_000 <= count_parameters(model) <= 600_000
    assert not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())
    assert feature_shapes(model, (8, 3, 64, 128)) == [(8, 16, 16, 32), (8, 32, 8, 16), (8, 64, 8, 16),
                                                      (8, 64, 8, 16), (8, 19, 8, 16), (8, 19, 8, 16)]
    # trains: a few SGD steps on a fixed batch lower the loss
    torch.manual_seed(0)
    x, y = torch.randn(4, 3, 64, 128), torch.randint(0, 19, (4, 8, 16))
    opt = torch.optim.SGD(model.param_groups(3e-3), lr=3e-3, momentum=0.9)  # heads at 10x
    losses = []
    for _ in range(4):
        out = model(x)
        loss = F.cross_entropy(out.logits, y) + 0.1 * F.cross_entropy(out.aux_logits, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]


# --------------------------------------------------------------------------- discriminator
def test_fc_discriminator():
    d = FCDiscriminator(19, ndf=8)
    keys = [f"{n}.{t}" for n in ("conv1", "conv2", "conv3", "conv4", "classifier") for t in ("weight", "bias")]
    assert list(d.state_dict()) == keys
    assert FCDiscriminator(19).conv4.weight.shape == (512, 256, 4, 4)
    assert d.classifier.weight.shape == (1, 64, 4, 4)
    x = torch.softmax(torch.randn(2, 19, 64, 128), dim=1)
    out = d(x)
    assert out.shape == (2, 1, 2, 4)
    with torch.no_grad():
        d.classifier.bias.fill_(-5.0)
    assert (d(x) < 0).all()  # raw logits: no sigmoid
    assert d.leaky_relu.negative_slope == 0.2
    assert not any(isinstance(m, (nn.BatchNorm2d, nn.InstanceNorm2d, nn.Sigmoid)) for m in d.modules())
    with pytest.raises(ValueError, match="x: expected"):
        d(torch.zeros(1, 5, 64, 64))
    with pytest.raises(ValueError, match="32 x 32"):
        d(torch.zeros(1, 19, 8, 16))
