"""Histogram matching (``--method hist_match``): the mapping against hand-computed cases, the
matched values against the reference's, and the command line training it (no target forward)."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
import torch

from pfrlib import methods
from pfrlib.config.train_config import TrainConfig
from pfrlib.engine.trainer import Trainer
from pfrlib.methods.beyond.hist_match import HistMatch, match_histograms
from pfrlib.train import main as train_main

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def batch(*channels):
    """One image (B = 1) whose channels are the given 2-D lists."""
    return torch.tensor([list(channels)], dtype=torch.float32)


def test_a_2x2_case_by_hand_with_ties():
    # source channel [[10, 20], [20, 40]]: cumulative counts c = 1 (10), 3 (20), 4 (40) of n = 4;
    # reference sorted [1, 2, 3, 4], m = 4: rank ceil(c m / n) - 1 = 0, 2, 3 -> values 1, 3, 4.
    # The two 20s stay equal. The second channel is matched to its own reference channel.
    src = batch([[10, 20], [20, 40]], [[5, 1], [7, 3]])
    ref = batch([[1, 2], [3, 4]], [[40, 10], [30, 20]])
    out = match_histograms(src, ref)
    assert out.tolist() == [[[[1, 3], [3, 4]], [[30, 10], [40, 20]]]]


def test_a_reference_of_another_size_by_hand():
    # n = 2 source values, m = 4 reference values: c = 1 -> rank ceil(4 / 2) - 1 = 1 (value 2),
    # c = 2 -> rank 3 (value 4); the reference's 1 and 3 are left out
    out = match_histograms(batch([[7, 0]]), batch([[4, 3, 2, 1]]))
    assert out.tolist() == [[[[4, 2]]]]


def test_matched_channels_have_exactly_the_reference_s_sorted_values():
    g = torch.Generator().manual_seed(0)
    src = torch.rand(3, 3, 8, 16, generator=g) * 255  # distinct values (floats)
    ref = torch.randint(0, 256, (3, 3, 8, 16), generator=g).to(torch.uint8)  # ties in the reference
    out = match_histograms(src, ref)
    assert out.shape == src.shape and out.dtype == torch.float32
    flat = lambda t: t.float().reshape(3, 3, -1).sort(dim=-1).values  # noqa: E731
    assert torch.equal(flat(out), flat(ref))
    # and the source's order is kept: the brightest source pixel gets the brightest reference value
    brightest = src.reshape(9, -1).argmax(1, keepdim=True)
    assert torch.equal(out.reshape(9, -1).gather(1, brightest)[:, 0], ref.float().reshape(9, -1).max(1).values)
    # a constant source: one value for all its pixels (the reference's maximum, its quantile being 1)
    const = match_histograms(torch.full((1, 1, 2, 2), 9.0), batch([[3, 1], [2, 5]])[:, :1])
    assert const.unique().tolist() == [5.0]


def test_bad_batches_are_refused_by_name():
    with pytest.raises(ValueError, match="src, ref: expected two B x C x H x W batches"):
        match_histograms(torch.zeros(2, 3, 4, 4), torch.zeros(1, 3, 4, 4))


def test_the_registry_row_has_no_option_no_term_and_nothing_to_tune():
    m = methods.get("hist_match")
    assert (m.family, m.baseline, m.section, m.tuned_weight, m.discriminator) == ("beyond", HistMatch, None, None, None)
    assert m.uses_target_images  # the target stream gives the images it matches to
    cfg = TrainConfig.preset("cpu", method="hist_match").validate(check_paths=False)
    assert cfg.effective_weights() == TrainConfig.preset("cpu", method="source_only").effective_weights()
    paper = TrainConfig.preset("paper", method="hist_match")
    assert paper.model == TrainConfig.preset("paper", method="source_only").model
    hm = HistMatch(None, cfg)
    assert not hm.forwards_target and hm.network_terms(SimpleNamespace()).terms == {}


def test_the_command_line_trains_it_without_a_target_forward(tmp_path, monkeypatch):
    seen = []
    real = Trainer.step

    def step(self):  # record what the network step is handed
        out = real(self)
        seen.append(self.baseline)
        return out

    monkeypatch.setattr(Trainer, "step", step)
    calls = []
    import pfrlib.engine.trainer as trainer_module
    real_network_step = trainer_module.network_step

    def network_step(net, discriminators, opt, source, target, *args, **kwargs):
        calls.append(target)
        return real_network_step(net, discriminators, opt, source, target, *args, **kwargs)

    monkeypatch.setattr(trainer_module, "network_step", network_step)
    out = tmp_path / "hm"
    argv = ["--preset", "cpu", "--method", "hist_match", "--synth-size", "32", "64", "--synth-train-length", "4",
            "--synth-val-length", "2", "--batch-size", "2", "--model-kwargs", json.dumps({"widths": [8, 8, 16, 16]}),
            "--no-progress", "--num-threads", "1", "--iterations", "2", "--out", str(out)]
    assert train_main(argv) == 0
    final = json.loads((out / "final.json").read_text())
    assert final["method"] == "hist_match" and final["iterations"] == 2 and 0.0 <= final["target_miou"] <= 1.0
    assert len(calls) == 2 and all(t is None for t in calls)  # source only's step: no target forward
    assert all(isinstance(b, HistMatch) for b in seen)
