"""FDA: Fourier domain adaptation, one beta (Yang & Soatto, CVPR 2020), ``--method fda``.

The paper's single-beta method and its code (YanchaoYang/FDA: ``train.py``, ``utils/__init__.py``,
``model/deeplab.py``), on this engine:

* **the swap** (:func:`fda_source_to_target`, FDA's ``FDA_source_to_target``): each source image
  of the batch takes the low-frequency amplitude spectrum of the target image at the same place in
  the iteration's target batch, keeping its own phase. As FDA's code orders it: the swap is done on
  the images as loaded (0..255, before any normalisation), then the mean is subtracted (the README:
  "use the original images for FDA, then do mean subtraction"). Here the run loop hands both raw
  batches to :meth:`FDA.source_images` before it normalises them: the seeded target stream makes
  the pairing reproducible, and the swap draws no random number, so a resume stays bit-exact;
* **the window**: ``b = floor(min(H, W) * beta)``; FDA's training code (``low_freq_mutate``)
  replaces the four ``b x b`` corners of the unshifted spectrum, and its inverse transform (the
  old ``torch.irfft(..., onesided=False)``) reads only the first ``W/2 + 1`` columns: the
  ``"corners"`` window, computed here with ``rfft2`` / ``irfft2``. FDA's demo
  (``FDA_source_to_target_np``) swaps the centred ``(2b + 1)^2`` square of the shifted spectrum
  and keeps the real part, symmetric in the frequencies as the paper's window: ``"centered"``, an
  option (docs/choices.md);
* **the loss**: Eq. (1) on the restyled source batch, plus on the target forward FDA's robust
  entropy (:func:`pfrlib.methods.beyond.entropy.charbonnier_entropy`, ``ita`` = 2.0) with weight
  ``entW`` = 0.005, switched on after ``switch2entropy`` iterations (its README's command: 0);
* no discriminator, no auxiliary head.

Where the image sizes differ (the ``paper`` preset: GTA5 at 720 x 1280, Cityscapes at 512 x 1024;
FDA's loader crops GTA5 to Cityscapes' 1024 x 512 so the two spectra have one size, and this
engine has no random crop), the target batch is resized (bilinear) to the source size before its
transform. The multi-beta ensemble and the self-training round (the 50.45 row) are not built.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from pfrlib.methods.baselines.common import check_weights
from pfrlib.methods.beyond.entropy import charbonnier_entropy
from pfrlib.paper.step import Baseline, BaselineInputs, BaselineTerms

__all__ = ["FDAConfig", "FDA", "FDA_WINDOWS", "window_size", "low_frequency_mask", "swapped_window",
           "log_amplitude", "fda_source_to_target"]

#: Which low frequencies are swapped: ``"corners"`` (FDA's training code) or ``"centered"`` (its
#: demo's symmetric window).
FDA_WINDOWS: tuple[str, ...] = ("corners", "centered")


@dataclass
class FDAConfig:
    """``--method fda`` (Yang & Soatto, CVPR 2020; :mod:`pfrlib.methods.beyond.fda`).

    Defaults: FDA's README command for GTA5 -> Cityscapes with one beta
    (``--LB=0.01 --entW=0.005 --ita=2.0 --switch2entropy=0``).
    """

    #: ``beta`` (FDA's ``LB``): the swapped window is ``floor(min(H, W) * beta)`` frequencies.
    fda_beta: float = 0.01
    #: Weight of the robust entropy term on target (FDA's ``entW``: 0.005).
    fda_lambda_ent: float = 0.005
    #: Exponent of the Charbonnier penalty on the entropy (FDA's ``ita``: 2.0).
    fda_eta: float = 2.0
    #: The entropy term counts from the iteration after this one (FDA's ``switch2entropy``; its
    #: README's command: 0, its option's default: 50000).
    fda_entropy_start: int = 0
    #: :data:`FDA_WINDOWS` (docs/choices.md).
    fda_window: str = "corners"

    def loss_weights(self) -> dict[str, float]:
        """The weight of FDA's entropy term in Eq. (6)'s sum."""
        return {"fda_ent": self.fda_lambda_ent}

    @classmethod
    def cpu(cls) -> "FDAConfig":
        """The ``cpu`` preset's values, untuned (the claims issue's protocol tunes them): the entropy
        weight times the ladder's ``cpu`` / ``paper`` ratio of ``lambda_adv`` (2), and ``beta`` =
        0.05, the middle of FDA's three betas (0.01 swaps nothing below 100 pixels: ``b = 0`` on
        SynthStreets' 64 x 128; 0.05 swaps ``b = 3``)."""
        return cls(fda_beta=0.05, fda_lambda_ent=0.01)

    @staticmethod
    def paper_overrides() -> dict[str, Any]:
        """What the ``paper`` preset changes for ``--method fda``: FDA's recipe
        (``options/train_options.py``: ``num_steps`` 150000 for the poly rate, stopped at
        ``num_steps_stop`` 100000; ``model/deeplab.py``: one classifier, no auxiliary head,
        ``Classifier_Module`` summing all four ASPP branches). SGD 2.5e-4 with 10x heads and
        AdaptSegNet's parameter listing are the ``paper`` preset's already."""
        return {"iterations": 100_000, "schedule_iterations": 150_000, "multi_level": False, "aspp_branches": 4}

    def validate(self, check_paths: bool = True) -> None:
        """Reject bad values (checked whatever the method)."""
        check_weights(self, "fda_lambda_ent", "fda_eta")
        if not (0.0 <= self.fda_beta <= 1.0):
            raise ValueError(f"fda_beta must be in [0, 1], got {self.fda_beta}")
        if self.fda_entropy_start < 0:
            raise ValueError(f"fda_entropy_start must be >= 0, got {self.fda_entropy_start}")
        if self.fda_window not in FDA_WINDOWS:
            raise ValueError(f"fda_window must be one of {FDA_WINDOWS}, got {self.fda_window!r}")


def window_size(h: int, w: int, beta: float) -> int:
    """FDA's ``b = floor(min(h, w) * beta)``."""
    return int(math.floor(min(h, w) * beta))


def low_frequency_mask(h: int, w: int, b: int, window: str = "corners", device=None) -> Tensor:
    """Which entries of the one-sided spectrum (``h x (w // 2 + 1)``, ``torch.fft.rfft2``'s) are swapped.

    ``"corners"``: rows ``[0, b) u [h - b, h)`` and columns ``[0, b) u [w - b, w)`` of the full
    spectrum, restricted to the one-sided columns (FDA's ``low_freq_mutate``); ``"centered"``:
    frequencies ``|k_y| <= b`` and ``|k_x| <= b`` (FDA's ``low_freq_mutate_np``, its ``(2b + 1)^2``
    centred square of the shifted spectrum).
    """
    if window not in FDA_WINDOWS:
        raise ValueError(f"window: expected one of {FDA_WINDOWS}, got {window!r}")
    rows = torch.arange(h, device=device)
    cols = torch.arange(w // 2 + 1, device=device)
    if window == "corners":
        r = (rows < b) | (rows >= h - b)
        c = (cols < b) | (cols >= w - b)
    else:
        r = torch.minimum(rows, h - rows) <= b
        c = cols <= b
    return r[:, None] & c[None, :] if b > 0 else torch.zeros(h, w // 2 + 1, dtype=torch.bool, device=device)


def swapped_window(h: int, w: int, b: int, window: str = "corners") -> Tensor:
    """The frequencies FDA swaps, on the full (two-sided) ``h x w`` spectrum, centred as
    :func:`log_amplitude` shows it (zero frequency at ``(h // 2, w // 2)``): for drawing the window.

    ``"corners"``: the four ``b x b`` corners of the unshifted spectrum, what FDA's training code
    (``low_freq_mutate``) replaces, a ``2b x 2b`` square once centred (the one-sided transform of
    :func:`fda_source_to_target` uses the first ``w // 2 + 1`` columns of it: :func:`low_frequency_mask`);
    ``"centered"``: ``|k_y| <= b`` and ``|k_x| <= b``, the demo's ``(2b + 1)^2`` square.

    Returns:
        h x w bool.
    """
    if window not in FDA_WINDOWS:
        raise ValueError(f"window: expected one of {FDA_WINDOWS}, got {window!r}")
    rows, cols = torch.arange(h), torch.arange(w)
    if b <= 0:
        return torch.zeros(h, w, dtype=torch.bool)
    if window == "corners":
        r, c = (rows < b) | (rows >= h - b), (cols < b) | (cols >= w - b)
    else:
        r, c = torch.minimum(rows, h - rows) <= b, torch.minimum(cols, w - cols) <= b
    return torch.fft.fftshift(r[:, None] & c[None, :])


def log_amplitude(images: Tensor) -> Tensor:
    """The amplitude spectrum of each image as one looks at it: ``log(1 + |FFT|)`` per channel,
    averaged over the channels, the zero frequency moved to the centre (``(H // 2, W // 2)``).

    What FDA swaps (the amplitude's low frequencies, near the centre here) and what it keeps (the
    phase, not shown). The log compresses the range: the zero frequency alone is ``H W`` times an
    image's mean.

    Args:
        images: B x C x H x W, on any scale (uint8 or float).

    Returns:
        B x H x W float32.
    """
    if images.dim() != 4:
        raise ValueError(f"images: expected B x C x H x W, got shape {tuple(images.shape)}")
    amplitude = torch.fft.fft2(images.float()).abs()
    return torch.fft.fftshift(torch.log1p(amplitude).mean(dim=1), dim=(-2, -1))


def fda_source_to_target(src: Tensor, trg: Tensor, beta: float, window: str = "corners") -> Tensor:
    """FDA's swap: ``src`` with the low-frequency amplitude of ``trg``, its own phase kept.

    Args:
        src, trg: B x C x H x W images on the 0..255 scale, before normalisation (uint8 or float);
            ``trg`` is resized (bilinear) to ``src``'s size if they differ.
        beta: FDA's ``L``; ``b = floor(min(H, W) * beta)`` (0 returns ``src`` as float).
        window: :data:`FDA_WINDOWS`.

    Returns:
        B x C x H x W float32 (not clipped: FDA subtracts the mean from it as it is).
    """
    if src.dim() != 4 or trg.dim() != 4 or src.shape[:2] != trg.shape[:2]:
        raise ValueError(f"src, trg: expected two B x C x H x W batches of one B and C, got {tuple(src.shape)} "
                         f"and {tuple(trg.shape)}")
    x, y = src.float(), trg.float()
    h, w = x.shape[-2:]
    if y.shape[-2:] != x.shape[-2:]:
        y = F.interpolate(y, size=(h, w), mode="bilinear", align_corners=False)
    mask = low_frequency_mask(h, w, window_size(h, w, beta), window, x.device)
    if not bool(mask.any()):
        return x.clone()
    if window == "corners":  # one-sided, as the training code's inverse transform reads it
        fs, ft = torch.fft.rfft2(x), torch.fft.rfft2(y)
        amp = torch.where(mask, ft.abs(), fs.abs())
        return torch.fft.irfft2(torch.polar(amp, fs.angle()), s=(h, w))
    fs, ft = torch.fft.fft2(x), torch.fft.fft2(y)  # the demo: full spectrum, real part
    rows = torch.arange(h, device=x.device)
    cols = torch.arange(w, device=x.device)
    b = window_size(h, w, beta)
    full = (torch.minimum(rows, h - rows) <= b)[:, None] & (torch.minimum(cols, w - cols) <= b)[None, :]
    amp = torch.where(full, ft.abs(), fs.abs())
    return torch.fft.ifft2(torch.polar(amp, fs.angle())).real


class FDA(Baseline):
    """``--method fda``: the source batch restyled (:meth:`source_images`), the term ``fda_ent``."""

    def __init__(self, model: nn.Module, cfg) -> None:
        super().__init__()
        f = cfg.fda
        self.beta, self.window, self.eta, self.start = f.fda_beta, f.fda_window, f.fda_eta, f.fda_entropy_start

    def source_images(self, xs: Tensor, xt: Tensor) -> Tensor:
        return fda_source_to_target(xs, xt, self.beta, self.window)

    def network_terms(self, inp: BaselineInputs) -> BaselineTerms:
        on = 1.0 if inp.iteration > self.start else 0.0  # FDA: ``i > switch2entropy``
        ent = charbonnier_entropy(inp.out_t.logits, self.eta)
        return BaselineTerms({"fda_ent": on * ent}, logs={"fda_entropy": ent.detach()})
