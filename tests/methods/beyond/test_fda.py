"""FDA (``--method fda``): the amplitude swap and the robust entropy against hand-computed and
numpy cases, the run loop's hook, its presets."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from pfrlib.config.train_config import TrainConfig
from pfrlib.engine.trainer import Trainer
from pfrlib.methods.beyond.entropy import charbonnier_entropy
from pfrlib.methods.beyond.fda import (FDA, FDAConfig, fda_source_to_target, log_amplitude, low_frequency_mask,
                                       swapped_window, window_size)
from pfrlib.paper.step import BaselineInputs

pytestmark = pytest.mark.usefixtures("one_torch_thread")

H, W = 8, 8
Y, X = np.meshgrid(np.arange(H), np.arange(W), indexing="ij")


def image(a):
    return torch.tensor(np.broadcast_to(a, (1, 3, H, W)).copy(), dtype=torch.float32)


def test_window_is_floor_of_beta_times_the_short_side():
    assert window_size(512, 1024, 0.01) == 5 and window_size(64, 128, 0.01) == 0 and window_size(64, 128, 0.05) == 3


@pytest.mark.parametrize("window", ["corners", "centered"])
def test_constant_images_swap_their_mean(window):
    # the spectrum of a constant image a is its DC term alone, a * H * W: the swap gives c everywhere
    out = fda_source_to_target(image(100.0), image(30.0), beta=1 / 8, window=window)  # b = 1
    torch.testing.assert_close(out, image(30.0), rtol=0, atol=1e-4)
    # beta too small for one frequency (b = 0): nothing changes
    torch.testing.assert_close(fda_source_to_target(image(100.0), image(30.0), beta=0.1), image(100.0))


@pytest.mark.parametrize("window", ["corners", "centered"])
def test_high_frequencies_stay_the_sources(window):
    # a + cos(2 pi 2x / W): frequency (0, +-2) lies outside a b = 1 window, the DC term inside
    src = image(100.0 + 20 * np.cos(2 * np.pi * 2 * X / W))
    out = fda_source_to_target(src, image(30.0), beta=1 / 8, window=window)
    torch.testing.assert_close(out, image(30.0 + 20 * np.cos(2 * np.pi * 2 * X / W)), rtol=0, atol=1e-4)


def test_the_code_window_swaps_one_side_of_the_first_row_frequency():
    # a + cos(2 pi y / H) has amplitude H W / 2 at row frequencies +1 (row 1) and -1 (row H - 1).
    # FDA's training window (b = 1) takes rows [0, 1) and [H - 1, H): it replaces the amplitude of
    # -1 by the target's (0) and keeps +1, so the cosine comes back at half its amplitude; the
    # demo's centred window takes both (|k| <= 1) and removes it.
    src = image(100.0 + 20 * np.cos(2 * np.pi * Y / H))
    corners = fda_source_to_target(src, image(30.0), beta=1 / 8, window="corners")
    torch.testing.assert_close(corners, image(30.0 + 10 * np.cos(2 * np.pi * Y / H)), rtol=0, atol=1e-4)
    centred = fda_source_to_target(src, image(30.0), beta=1 / 8, window="centered")
    torch.testing.assert_close(centred, image(30.0), rtol=0, atol=1e-4)


def numpy_fda_code(src, trg, L):
    """FDA's ``FDA_source_to_target`` as its training code computes it, with numpy: the full FFT,
    ``low_freq_mutate`` on the four b x b corners, the source phase, then the inverse real
    transform of the first W/2 + 1 columns (what ``torch.irfft(..., onesided=False)`` read)."""
    fs, ft = np.fft.fft2(src, axes=(-2, -1)), np.fft.fft2(trg, axes=(-2, -1))
    amp, pha, amp_t = np.abs(fs), np.angle(fs), np.abs(ft)
    h, w = src.shape[-2:]
    b = int(np.floor(min(h, w) * L))
    for rs in (slice(0, b), slice(h - b, h)):
        for cs in (slice(0, b), slice(w - b, w)):
            amp[..., rs, cs] = amp_t[..., rs, cs]
    spec = amp * np.exp(1j * pha)
    return np.fft.irfft2(spec[..., : w // 2 + 1], s=(h, w), axes=(-2, -1))


def numpy_fda_demo(src, trg, L):
    """FDA's ``FDA_source_to_target_np`` (its demo): the centred (2b + 1)^2 square of the shifted spectrum."""
    fs, ft = np.fft.fft2(src, axes=(-2, -1)), np.fft.fft2(trg, axes=(-2, -1))
    a_s = np.fft.fftshift(np.abs(fs), axes=(-2, -1))
    a_t = np.fft.fftshift(np.abs(ft), axes=(-2, -1))
    h, w = src.shape[-2:]
    b = int(np.floor(min(h, w) * L))
    ch, cw = h // 2, w // 2
    a_s[..., ch - b:ch + b + 1, cw - b:cw + b + 1] = a_t[..., ch - b:ch + b + 1, cw - b:cw + b + 1]
    a_s = np.fft.ifftshift(a_s, axes=(-2, -1))
    return np.real(np.fft.ifft2(a_s * np.exp(1j * np.angle(fs)), axes=(-2, -1)))


@pytest.mark.parametrize("shape", [(2, 3, 16, 24), (1, 3, 15, 21)])
@pytest.mark.parametrize("beta", [0.1, 0.25])
def test_random_images_match_numpy_transcriptions_of_fdas_code(shape, beta):
    g = np.random.default_rng(0)
    src, trg = g.uniform(0, 255, shape), g.uniform(0, 255, shape)
    ours = fda_source_to_target(torch.tensor(src, dtype=torch.float32), torch.tensor(trg, dtype=torch.float32), beta)
    np.testing.assert_allclose(ours.numpy(), numpy_fda_code(src, trg, beta), rtol=0, atol=2e-3)
    ours = fda_source_to_target(torch.tensor(src, dtype=torch.float32), torch.tensor(trg, dtype=torch.float32), beta,
                                window="centered")
    np.testing.assert_allclose(ours.numpy(), numpy_fda_demo(src, trg, beta), rtol=0, atol=2e-3)


@pytest.mark.parametrize("window, side", [("corners", 2), ("centered", 3)])
def test_the_drawn_window_is_a_centred_square_and_the_swapped_one_sided_mask(window, side):
    # b = 1 on 8 x 12: the training code's 2b x 2b square, the demo's (2b + 1)^2, around (4, 6)
    mask = swapped_window(8, 12, 1, window)
    rows, cols = mask.nonzero().unbind(1)
    assert int(mask.sum()) == side * side and rows.unique().numel() == cols.unique().numel() == side
    assert 4 in rows.tolist() and 6 in cols.tolist()  # the zero frequency is inside
    for h, w, b in ((8, 12, 1), (64, 128, 3), (15, 21, 2)):  # unshifted, its one-sided columns are what is swapped
        full = torch.fft.ifftshift(swapped_window(h, w, b, window))
        assert torch.equal(full[:, : w // 2 + 1], low_frequency_mask(h, w, b, window))
    assert not swapped_window(8, 12, 0, window).any()
    with pytest.raises(ValueError, match="window: expected one of"):
        swapped_window(8, 12, 1, "square")


def test_log_amplitude_by_hand():
    # a constant image a: only the zero frequency, |F| = a H W, in the centre; log(1 + 0) elsewhere
    spec = log_amplitude(image(2.0))
    assert spec.shape == (1, H, W)
    expected = torch.zeros(1, H, W)
    expected[0, H // 2, W // 2] = math.log1p(2.0 * H * W)
    torch.testing.assert_close(spec, expected)
    # cos(2 pi 2x / W): amplitude H W / 2 at column frequencies +-2, two columns from the centre
    spec = log_amplitude(image(np.cos(2 * np.pi * 2 * X / W)))
    peaks = (spec[0] > 1.0).nonzero().tolist()
    assert peaks == [[H // 2, W // 2 - 2], [H // 2, W // 2 + 2]]
    torch.testing.assert_close(spec[0, H // 2, W // 2 + 2], torch.tensor(math.log1p(H * W / 2)))
    with pytest.raises(ValueError, match="images: expected B x C x H x W"):
        log_amplitude(torch.zeros(3, H, W))


def test_a_target_of_another_size_is_resized_to_the_sources_first():
    out = fda_source_to_target(image(100.0), torch.full((1, 3, 4, 6), 30.0), beta=1 / 8)
    torch.testing.assert_close(out, image(30.0), rtol=0, atol=1e-4)


def test_charbonnier_entropy_by_hand():
    # uniform logits over C: E = ln C / ln C = 1 -> (1 + 1e-8)^2; a pixel with p = (1/2, 1/2, 0 ...)
    # (two equal logits, the rest at -inf in effect): E = ln 2 / ln C
    c = 19
    uniform = torch.zeros(1, c, 1, 1)
    assert math.isclose(float(charbonnier_entropy(uniform, 2.0)), (1 + 1e-8) ** 2, rel_tol=1e-6)
    two = torch.full((1, c, 1, 1), -1e4)
    two[0, :2] = 0.0
    e = math.log(2) / math.log(c)
    assert math.isclose(float(charbonnier_entropy(two, 2.0)), (e * e + 1e-8) ** 2, rel_tol=1e-5)
    both = torch.cat([uniform, two], dim=3)  # the mean over pixels
    assert math.isclose(float(charbonnier_entropy(both, 2.0)), ((1 + 1e-8) ** 2 + (e * e + 1e-8) ** 2) / 2,
                        rel_tol=1e-5)
    assert math.isclose(float(charbonnier_entropy(two, 1.0)), e * e + 1e-8, rel_tol=1e-5)


def test_fda_entropy_term_starts_after_switch2entropy():
    cfg = TrainConfig.preset("cpu", method="fda")
    base = FDA(None, cfg)
    logits = torch.randn(1, 19, 3, 4, generator=torch.Generator().manual_seed(0))
    z = torch.zeros(1)

    def terms(it):
        inp = BaselineInputs(out_s=None, out_t=SimpleNamespace(logits=logits, aux_logits=None), xs=z, ys=z, xt=z,
                             logits_s=z, logits_t=z, discriminators={}, iteration=it)
        return base.network_terms(inp).terms["fda_ent"]

    assert float(terms(0)) == 0.0  # FDA: ``i > switch2entropy`` with switch2entropy = 0
    torch.testing.assert_close(terms(1), charbonnier_entropy(logits, 2.0))


def test_the_run_loop_trains_on_the_swapped_source_batch(monkeypatch):
    cfg = TrainConfig.preset("cpu", method="fda", iterations=2, synth_size=(32, 64), synth_train_length=8,
                             synth_val_length=2, batch_size=2, device="cpu")
    trainer = Trainer(cfg, prepare_output=False)
    seen = []
    original = FDA.source_images

    def spy(self, xs, xt):
        out = original(self, xs, xt)
        seen.append((xs.clone(), xt.clone(), out))
        return out

    monkeypatch.setattr(FDA, "source_images", spy)
    trainer.step()
    (xs, xt, out), = seen
    assert xs.dtype == torch.uint8 and xt.shape == xs.shape  # the raw batches, before normalisation
    torch.testing.assert_close(out, fda_source_to_target(xs, xt, 0.05))
    assert not torch.equal(out, xs.float())


def test_fda_presets_pin_fdas_values():
    paper = TrainConfig.preset("paper", method="fda")
    f = paper.fda
    assert (f.fda_beta, f.fda_lambda_ent, f.fda_eta, f.fda_entropy_start, f.fda_window) == (0.01, 0.005, 2.0, 0,
                                                                                          "corners")
    assert (paper.optim.iterations, paper.optim.schedule_iterations, paper.model.multi_level,
            paper.model.aspp_branches) == (100_000, 150_000, False, 4)
    assert paper.effective_weights()["fda_ent"] == 0.005
    cpu = TrainConfig.preset("cpu", method="fda")
    assert cpu.fda == FDAConfig.cpu() and (cpu.fda.fda_beta, cpu.fda.fda_lambda_ent) == (0.05, 0.01)
    for bad in (dict(fda_beta=1.5), dict(fda_window="square"), dict(fda_entropy_start=-1)):
        with pytest.raises(ValueError, match=next(iter(bad))):
            TrainConfig.preset("cpu", **bad).validate()
