"""pfrlib.methods.baselines.road: ROAD's regions and their discriminators, the distillation term, the frozen reference."""

from __future__ import annotations


import pytest
import torch

from pfrlib import models
from pfrlib.methods.baselines.road import RegionDiscriminators, distillation_loss, load_reference, region_index

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_road_regions_tile_the_map():
    idx = region_index(4, 6, 2)
    assert idx.tolist() == [[0, 0, 0, 1, 1, 1], [0, 0, 0, 1, 1, 1], [2, 2, 2, 3, 3, 3], [2, 2, 2, 3, 3, 3]]
    assert set(region_index(8, 16, 3).unique().tolist()) == set(range(9))


def test_road_each_region_is_judged_by_its_own_discriminator():
    torch.manual_seed(0)
    d = RegionDiscriminators(4, grid=2, hidden=3)
    f = torch.randn(1, 4, 4, 4)
    before = d(f)
    with torch.no_grad():
        d.classifier.weight[0].add_(1.0)  # region 0's classifier only (groups: 3 hidden units each)
        d.classifier.bias[0].add_(1.0)
    after = d(f)
    changed = (after != before)[0, 0]
    region0 = region_index(4, 4, 2) == 0
    assert changed[region0].all() and not changed[~region0].any()


def test_road_distillation_is_half_the_mean_squared_difference():
    f = torch.randn(2, 3, 4, 4)
    assert distillation_loss(f, f).item() == 0.0
    assert distillation_loss(f + 2.0, f).item() == pytest.approx(2.0)


def test_road_reference_is_frozen_and_can_be_loaded(tmp_path):
    net = models.build_model("small", 5, multi_level=False, widths=(8, 8, 16, 16))
    ref = load_reference(net, None)
    assert not any(p.requires_grad for p in ref.parameters()) and not ref.training
    with torch.no_grad():
        for p in net.parameters():
            p.add_(1.0)
    torch.save({"model": net.state_dict()}, tmp_path / "ckpt.pt")
    loaded = load_reference(net, str(tmp_path / "ckpt.pt"))
    assert all(torch.equal(a, b) for a, b in zip(loaded.state_dict().values(), net.state_dict().values()))
    assert not torch.equal(ref.state_dict()["stem.0.weight"], net.state_dict()["stem.0.weight"])
    other = models.build_model("small", 5, multi_level=False, widths=(8, 8, 16, 32))
    torch.save({"model": other.state_dict()}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="road_reference"):
        load_reference(net, str(tmp_path / "other.pt"))
