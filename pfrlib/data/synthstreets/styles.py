"""The two domains' colour palettes: which colour each kind of part gets in the source and target style.

Each part style is ``(texture kind, source HSV ranges, target HSV ranges)`` with HSV in 0..1.
The source style is game-like (saturated, objects in random colours so that their shape has to
be learnt); the target style is a desaturated, class-typical "photographic" palette.
:func:`part_colours` draws every part's colour in both styles from one random draw, so a
brighter source part is a brighter target part.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

__all__ = ["STYLES", "style_index", "part_colours", "hsv_to_rgb"]

_ANY = (0.0, 1.0)
#         part           texture       source HSV ranges                      target HSV ranges
STYLES: dict[str, tuple[int, tuple, tuple]] = {
    "sky":        (6, ((0.55, 0.62), (0.40, 0.65), (0.92, 1.00)), ((0.55, 0.62), (0.04, 0.16), (0.76, 0.92))),
    "road":       (1, ((0.70, 0.80), (0.35, 0.55), (0.38, 0.50)), ((0.55, 0.65), (0.00, 0.08), (0.28, 0.40))),
    "lane":       (1, ((0.12, 0.16), (0.00, 0.90), (0.90, 1.00)), ((0.10, 0.15), (0.00, 0.15), (0.62, 0.78))),
    "sidewalk":   (2, ((0.90, 0.98), (0.40, 0.60), (0.85, 0.95)), ((0.06, 0.12), (0.04, 0.14), (0.55, 0.68))),
    "building":   (3, ((0.80, 1.16), (0.35, 0.60), (0.60, 0.80)), ((0.04, 0.12), (0.08, 0.30), (0.40, 0.62))),
    "window":     (0, (_ANY,         (0.20, 0.60), (0.15, 0.45)), ((0.55, 0.62), (0.05, 0.25), (0.12, 0.35))),
    "foliage":    (4, ((0.26, 0.36), (0.70, 0.90), (0.45, 0.62)), ((0.18, 0.27), (0.30, 0.55), (0.22, 0.36))),
    "trunk":      (4, ((0.05, 0.09), (0.60, 0.85), (0.30, 0.45)), ((0.06, 0.10), (0.25, 0.45), (0.18, 0.30))),
    "pole":       (0, (_ANY,         (0.50, 0.90), (0.50, 0.85)), ((0.55, 0.65), (0.00, 0.10), (0.30, 0.50))),
    "sign_red":   (0, ((0.97, 1.02), (0.80, 1.00), (0.80, 1.00)), ((0.97, 1.02), (0.35, 0.60), (0.45, 0.70))),
    "sign_blue":  (0, ((0.58, 0.66), (0.80, 1.00), (0.75, 1.00)), ((0.58, 0.64), (0.35, 0.60), (0.35, 0.60))),
    "sign_yellow": (0, ((0.12, 0.16), (0.80, 1.00), (0.85, 1.00)), ((0.11, 0.15), (0.35, 0.60), (0.55, 0.75))),
    "sign_back":  (0, (_ANY,         (0.00, 0.20), (0.90, 1.00)), ((0.00, 1.00), (0.00, 0.08), (0.65, 0.85))),
    "car_body":   (7, (_ANY,         (0.60, 1.00), (0.45, 1.00)), (_ANY,         (0.00, 0.35), (0.15, 0.85))),
    "car_glass":  (0, (_ANY,         (0.40, 0.80), (0.25, 0.50)), ((0.55, 0.62), (0.05, 0.20), (0.10, 0.25))),
    "wheel":      (0, (_ANY,         (0.60, 0.90), (0.10, 0.25)), ((0.00, 1.00), (0.00, 0.05), (0.05, 0.12))),
    "tail_light": (0, ((0.95, 1.00), (0.85, 1.00), (0.90, 1.00)), ((0.97, 1.00), (0.50, 0.70), (0.45, 0.60))),
    "skin":       (8, ((0.03, 0.09), (0.30, 0.60), (0.70, 1.00)), ((0.03, 0.08), (0.20, 0.45), (0.35, 0.75))),
    "clothes":    (8, (_ANY,         (0.60, 1.00), (0.55, 1.00)), (_ANY,         (0.05, 0.40), (0.10, 0.55))),
    "hood":       (7, (_ANY,         (0.00, 0.10), (0.10, 0.20)), ((0.00, 1.00), (0.00, 0.05), (0.08, 0.18))),
    # SynthStreets-19's parts (appended, so the 9-class scenes' style rows are unchanged)
    "wall":       (2, ((0.45, 0.55), (0.40, 0.65), (0.60, 0.80)), ((0.55, 0.65), (0.02, 0.10), (0.55, 0.75))),
    "wall_cap":   (0, ((0.45, 0.55), (0.20, 0.40), (0.80, 0.95)), ((0.55, 0.65), (0.00, 0.06), (0.70, 0.85))),
    "fence":      (2, ((0.08, 0.14), (0.55, 0.85), (0.55, 0.85)), ((0.06, 0.12), (0.08, 0.25), (0.32, 0.50))),
    "fence_post": (0, ((0.08, 0.14), (0.70, 0.95), (0.30, 0.50)), ((0.06, 0.12), (0.05, 0.20), (0.18, 0.30))),
    "terrain":    (5, ((0.20, 0.28), (0.55, 0.85), (0.60, 0.80)), ((0.14, 0.24), (0.25, 0.45), (0.38, 0.55))),
    "tl_box":     (0, (_ANY,         (0.50, 0.90), (0.30, 0.60)), ((0.00, 1.00), (0.00, 0.10), (0.06, 0.18))),
    "tl_lamp":    (0, ((0.00, 0.35), (0.80, 1.00), (0.90, 1.00)), ((0.00, 0.35), (0.45, 0.75), (0.60, 0.90))),
    "frame":      (0, (_ANY,         (0.60, 1.00), (0.50, 1.00)), (_ANY,         (0.05, 0.40), (0.10, 0.50))),
    "tyre":       (0, (_ANY,         (0.60, 0.90), (0.15, 0.30)), ((0.00, 1.00), (0.00, 0.05), (0.05, 0.12))),
    "cargo":      (7, (_ANY,         (0.50, 0.90), (0.60, 1.00)), (_ANY,         (0.00, 0.15), (0.50, 0.90))),
    "bus_body":   (7, (_ANY,         (0.60, 1.00), (0.60, 1.00)), ((0.00, 1.00), (0.15, 0.55), (0.35, 0.75))),
    "tram_body":  (7, (_ANY,         (0.60, 1.00), (0.60, 1.00)), ((0.95, 1.10), (0.30, 0.65), (0.40, 0.75))),
    "rail":       (1, ((0.00, 0.10), (0.00, 0.30), (0.70, 0.85)), ((0.55, 0.65), (0.00, 0.08), (0.45, 0.60))),
}


_STYLE_NAMES: tuple[str, ...] = tuple(STYLES)
_STYLE_INDEX = {name: i for i, name in enumerate(_STYLE_NAMES)}
_STYLE_TEX = np.array([STYLES[n][0] for n in _STYLE_NAMES], np.intp)
# (n_styles, 2 domains, 3 channels h/s/v, 2 = lo/hi)
_STYLE_RANGES = np.array([[STYLES[n][1], STYLES[n][2]] for n in _STYLE_NAMES], np.float32)


def hsv_to_rgb(hsv: np.ndarray) -> np.ndarray:
    """Vectorised HSV -> RGB, (..., 3) in 0..1 (same formula as ``colorsys.hsv_to_rgb``)."""
    h, s, v = hsv[..., 0] % 1.0, hsv[..., 1], hsv[..., 2]
    i = np.floor(h * 6.0)
    f = h * 6.0 - i
    p, q, t = v * (1.0 - s), v * (1.0 - s * f), v * (1.0 - s * (1.0 - f))
    i = i.astype(np.int64) % 6
    r = np.choose(i, [v, q, p, p, t, v])
    g = np.choose(i, [t, v, v, q, p, p])
    b = np.choose(i, [p, p, t, v, v, q])
    return np.stack([r, g, b], -1)

def style_index(name: str) -> int:
    """The row of part style ``name`` (a key of :data:`STYLES`) in the style tables."""
    return _STYLE_INDEX[name]


def part_colours(styles: Sequence[int], rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sample the colours of parts with the given style indices, in both styles.

    Returns:
        (source RGB (n, 3), target RGB (n, 3), texture kind (n,)), colours in 0..1.
    """
    style = np.asarray(styles, np.intp)
    rng_ = _STYLE_RANGES[style]  # n x 2 x 3 x 2
    # one draw per part used by both styles: a brighter / redder source part stays a
    # brighter / redder target part, so the palette shift is a (class-wise) monotone map
    u = rng.random((len(style), 1, 3), dtype=np.float32)
    hsv = rng_[..., 0] + u * (rng_[..., 1] - rng_[..., 0])
    rgb = hsv_to_rgb(hsv)  # n x 2 x 3
    return rgb[:, 0], rgb[:, 1], _STYLE_TEX[style]
