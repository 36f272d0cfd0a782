"""pfrlib.models.weights: DeepLab's init file (heads skipped), checkpoints with another class count,
backbone mismatches and unexpected keys refused, build_model with a weights path."""

from __future__ import annotations

from collections import OrderedDict

import pytest
import torch

from pfrlib.models import build_model
from pfrlib.models.weights import LoadReport, WeightsMismatchError, load_adaptsegnet_weights

from .reference import TINY, adaptsegnet_key_shapes, seeded_state_dict, tiny


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
