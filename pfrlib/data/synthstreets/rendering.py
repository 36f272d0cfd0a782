"""SynthStreets rendering: a canvas of part ids -> an RGB image in the style a :class:`SynthShift` sets.

:func:`render` looks up every part's colour (blended from the source to the target palette by
the ``palette`` strength), then applies the other appearance components in order: texture
(:func:`make_texture_bank`), illumination, vignette, white balance, exposure, blur
(:func:`gaussian_blur`) and noise, each scaled by its strength. The random numbers it draws do
not depend on the strengths, so one scene rendered with two shifts differs only by what the
components do.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image

from pfrlib.data.synthstreets.layout import Canvas
from pfrlib.data.synthstreets.shift import SynthShift

__all__ = ["render", "make_texture_bank", "gaussian_blur"]


_N_TEX = 9


def _noise_field(rng: np.random.Generator, h: int, w: int, cell: float) -> np.ndarray:
    """Smooth zero-mean unit-std noise with features about ``cell`` pixels wide (bilinear)."""
    gh, gw = max(2, int(math.ceil(h / cell)) + 2), max(2, int(math.ceil(w / cell)) + 2)
    g = rng.standard_normal((gh, gw)).astype(np.float32)
    img = Image.fromarray(g, mode="F").resize((w, h), Image.BILINEAR)
    f = np.asarray(img, dtype=np.float32)
    return (f - f.mean()) / (f.std() + 1e-6)


def make_texture_bank(height: int, width: int, seed: int = 12345) -> np.ndarray:
    """Class-dependent texture fields, ``(9, 2H, 2W)`` float32, multiplicative (1 + field).

    Kinds: 0 none, 1 asphalt grain, 2 paving grid, 3 brick rows + stains, 4 foliage,
    5 grass, 6 clouds, 7 car-body highlights, 8 fabric. Feature sizes scale with the image.
    Each image uses a random crop of the bank (so textures do not repeat exactly).
    """
    rng = np.random.default_rng(seed)
    h, w = 2 * height, 2 * width
    u = height / 64.0  # features scale with the image
    bank = np.zeros((_N_TEX, h, w), np.float32)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    fine = lambda: rng.standard_normal((h, w)).astype(np.float32)  # noqa: E731
    bank[1] = 0.10 * fine() + 0.08 * _noise_field(rng, h, w, 6 * u)
    grid = ((np.mod(yy, 5 * u) < 1) | (np.mod(xx, 7 * u) < 1)).astype(np.float32)
    bank[2] = -0.22 * grid + 0.06 * fine()
    rows = (np.mod(yy, 3 * u) < 1).astype(np.float32)
    bank[3] = -0.18 * rows + 0.15 * _noise_field(rng, h, w, 10 * u) + 0.06 * fine()
    bank[4] = 0.32 * _noise_field(rng, h, w, 2.0 * u) + 0.12 * fine()
    bank[5] = 0.16 * fine() + 0.12 * _noise_field(rng, h, w, 4 * u)
    bank[6] = 0.12 * _noise_field(rng, h, w, 16 * u) + 0.05 * _noise_field(rng, h, w, 5 * u)
    bank[7] = 0.15 * _noise_field(rng, h, w, 8 * u)
    bank[8] = 0.10 * fine() + 0.08 * _noise_field(rng, h, w, 3 * u)
    return np.clip(bank, -0.9, 2.0)


class _SizeCache:
    """Per-size constants shared by all images: texture bank, noise bank, coordinate grids."""

    def __init__(self, height: int, width: int) -> None:
        self.textures = make_texture_bank(height, width)
        rng = np.random.default_rng(54321)
        # 2H x 2W x 4: channel 0 luminance noise, 1..3 chroma noise; random crops per image
        self.noise = rng.standard_normal((2 * height, 2 * width, 4), dtype=np.float32)
        self.yy = (np.arange(height, dtype=np.float32)[:, None] - 0.5 * height) / (0.5 * height)
        self.xx = (np.arange(width, dtype=np.float32)[None, :] - 0.5 * width) / (0.5 * width)
        self.row = np.arange(height)[:, None] * (2 * width) + np.arange(width)[None, :]


_SIZE_CACHE: dict[tuple[int, int], _SizeCache] = {}


def _size_cache(height: int, width: int) -> _SizeCache:
    key = (height, width)
    if key not in _SIZE_CACHE:
        _SIZE_CACHE[key] = _SizeCache(height, width)
    return _SIZE_CACHE[key]


def gaussian_blur(img: np.ndarray, sigma: float) -> np.ndarray:
    """Separable Gaussian blur of an H x W x C float image, edges replicated (numpy only)."""
    if sigma <= 0:
        return img
    r = max(1, int(math.ceil(2.5 * sigma)))
    k = np.exp(-0.5 * (np.arange(-r, r + 1) / sigma) ** 2).astype(np.float32)
    k /= k.sum()
    H, W = img.shape[:2]
    p = np.pad(img, ((r, r), (0, 0), (0, 0)), mode="edge")
    out = k[0] * p[0:H]
    for i in range(1, 2 * r + 1):
        out = out + k[i] * p[i:i + H]
    p = np.pad(out, ((0, 0), (r, r), (0, 0)), mode="edge")
    out = k[0] * p[:, 0:W]
    for i in range(1, 2 * r + 1):
        out = out + k[i] * p[:, i:i + W]
    return out


def render(canvas: Canvas, shift: SynthShift, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Render a canvas in the style given by ``shift``.

    The random numbers drawn from ``rng`` do not depend on the strengths, so the same scene
    rendered with two shifts differs only by what the components do.

    Returns:
        image: uint8 H x W x 3 (RGB); label: uint8 H x W (trainIds, 255 = ignore).
    """
    ids = np.asarray(canvas.image)
    H, W = ids.shape
    sc = _size_cache(H, W)
    label = np.asarray(canvas.cls, np.uint8)[ids]
    src, tgt, tex_kind = canvas.colours(rng)

    # Per-image random draws, always made (strengths only scale them).
    oy, ox, ny, nx = (int(v) for v in rng.integers(0, (H, W, H, W)))
    angle = rng.uniform(0, 2 * math.pi)
    ramp_amp = rng.uniform(0.25, 0.5)
    shadow_side, shadow_amp, shadow_x = rng.choice((-1, 1)), rng.uniform(0.2, 0.4), rng.uniform(0.2, 0.6)
    vig_amp = rng.uniform(0.3, 0.5)
    wb = np.array([0.07, 0.0, -0.08], np.float32) + rng.normal(0, 0.06, 3).astype(np.float32)
    exposure = -0.05 + rng.normal(0, 0.2)

    img = (src + np.float32(shift.palette) * (tgt - src)).astype(np.float32)[ids]  # H x W x 3, 0..1
    if shift.texture > 0:
        flat = sc.textures.reshape(-1)
        field = flat[tex_kind[ids] * (4 * H * W) + sc.row + (oy * 2 * W + ox)]
        img *= (1.0 + np.float32(shift.texture) * field)[..., None]
    if shift.illumination > 0 or shift.vignette > 0:
        xx, yy = sc.xx, sc.yy
        gain = np.ones((H, W), np.float32)
        if shift.illumination > 0:
            s = shift.illumination
            gain = gain * (1.0 + s * ramp_amp * 0.5 * (math.cos(angle) * xx + math.sin(angle) * yy))
            # a soft cast shadow over one side of the street (buildings blocking the sun)
            shadow = 1.0 / (1.0 + np.exp(-6.0 * shadow_side * (xx - shadow_side * shadow_x)))
            gain = gain * (1.0 - s * shadow_amp * shadow * (yy > -0.3))
        if shift.vignette > 0:
            gain = gain * (1.0 - shift.vignette * vig_amp * 0.5 * (xx**2 + yy**2))
        img *= np.clip(gain, 0.05, None).astype(np.float32)[..., None]
    if shift.white_balance > 0 or shift.exposure > 0:
        img *= np.exp(shift.white_balance * wb + shift.exposure * exposure).astype(np.float32)
    np.clip(img, 0.0, 1.0, out=img)
    if shift.blur > 0:
        img = gaussian_blur(img, 0.7 * shift.blur * H / 64.0)
    if shift.noise > 0:
        n = sc.noise[ny:ny + H, nx:nx + W]
        img = img + np.float32(shift.noise) * (0.045 * n[..., :1] + 0.02 * n[..., 1:])
    out = (np.clip(img, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    return out, label
