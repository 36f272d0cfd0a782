"""SynthStreets: procedural street scenes in two domains, the embedded benchmark.

Why it exists: the paper adapts GTA5 (a game) to Cityscapes (real photographs). Neither can be
downloaded in a classroom, so SynthStreets draws a miniature version of the same problem on the
fly: street scenes with Cityscapes trainId labels, rendered in a *source* style (game-like:
flat, saturated colours, sharp edges, random object colours) and a *target* style (real-like:
a different, desaturated palette, textures, uneven light, colour casts, blur and sensor noise).

Classes (trainIds): road 0, sidewalk 1, building 2, pole 5, traffic sign 7, vegetation 8,
sky 10, person 11, car 13 (:data:`SYNTH_CLASS_IDS`); 255 (ignore) marks the ego-vehicle hood
that some target frames show, as in Cityscapes.

How a scene is made (:func:`draw_scene`):

1. A *layout* is sampled from one random stream: horizon and vanishing point, a perspective
   road with lane marks, sidewalks, a row of building facades with windows on each side of the
   street and usually one across its far end, then trees, poles (street lamps, or carrying
   one or two traffic signs), cars and people, placed on the ground plane and scaled with depth.
2. Every drawn part gets a *part id* on an 8-bit canvas (PIL polygons, no per-pixel Python).
   Each id carries its trainId, a texture kind, and two colours: one from the source style and
   one from the target style, both from the same random draw (a brighter source part is a
   brighter target part). The label and the flat image are table look-ups.
3. The domain shift (:class:`SynthShift`) is applied on top: palette, texture, illumination,
   vignette, white balance, exposure, blur, noise, and (mildly) layout statistics, each with a
   strength knob (0 = off, 1 = default). Strength 0 everywhere = the source style.

Scale: at the default 64 x 128 a stride-8 network predicts an 8 x 16 grid, so the scenes are
built coarse: objects are drawn larger than life (``_Street.THING_SCALE``) and not too far
away, people are stocky and poles thick. Thinner structures would cap any model's mIoU well
below the oracle numbers the benchmark needs (``benchmarks/synth_gap.py``).

The shift is deliberately mostly *appearance* - colour statistics, texture, noise, the things a
Gram matrix of features measures - while the scene layout is drawn from nearly the same
distribution in both domains. Source colours are saturated, so a source-only model takes the
*hue* shortcut; the target keeps each class's relative brightness and shape but loses the hue.
That is the situation in which the paper's style alignment (Eq. 2-4) and output-space
adversarial alignment (Eq. 5) can help.

Determinism: item ``i`` depends only on ``(seed, domain, split, i)`` (a numpy ``SeedSequence``),
never on worker count or access order.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional, Sequence

import numpy as np
import torch
from PIL import Image, ImageDraw

from .labels import IGNORE_INDEX, NUM_CLASSES
from .transforms import to_item

__all__ = ["SynthShift", "SynthStreets", "SYNTH_CLASS_IDS", "draw_scene", "render"]

# trainIds used by SynthStreets (Cityscapes order).
ROAD, SIDEWALK, BUILDING, POLE, SIGN, VEGETATION, SKY, PERSON, CAR = 0, 1, 2, 5, 7, 8, 10, 11, 13

#: The trainIds a SynthStreets label can contain (mIoU is averaged over these).
SYNTH_CLASS_IDS: tuple[int, ...] = (ROAD, SIDEWALK, BUILDING, POLE, SIGN, VEGETATION, SKY, PERSON, CAR)

_DOMAINS = {"source": 1, "target": 2}
_SPLITS = {"train": 0, "val": 1}
_DEFAULT_LENGTH = {"train": 4000, "val": 500}

# --------------------------------------------------------------------------------------------
# The domain shift
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SynthShift:
    """Strength of each named component of the source -> target shift (0 = off, 1 = default).

    Components, in the order they are applied to an image:

    * ``palette``: per-part colours move from the source style (saturated, random object
      colours) to the target palette (desaturated, class-typical colours); linear blend.
    * ``texture``: class-dependent multiplicative textures (asphalt grain, paving grid, brick
      rows, foliage, grass, clouds, fabric).
    * ``illumination``: a linear brightness ramp in a random direction and soft cast shadows.
    * ``vignette``: darkening towards the corners.
    * ``white_balance``: a per-image colour cast (per-channel gains; warm on average).
    * ``exposure``: per-image global gain (darker on average) with clipping.
    * ``blur``: Gaussian blur (radius ``0.7 * strength`` pixels at 64 x 128, scaled with size).
    * ``noise``: Gaussian sensor noise (std ``0.05 * strength`` of full scale) plus chroma noise.
    * ``layout``: object frequencies move from the source's to the target's (more cars and
      people, fewer trees, a car hood at the bottom in some frames labelled 255). Changes which
      scene is drawn; every other component only changes how it looks.

    Strengths above 1 exaggerate a component; all must be >= 0.
    """

    palette: float = 1.0
    texture: float = 1.0
    illumination: float = 1.0
    vignette: float = 1.0
    white_balance: float = 1.0
    exposure: float = 1.0
    blur: float = 1.0
    noise: float = 1.0
    layout: float = 1.0

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
                raise ValueError(f"SynthShift.{f.name} must be a finite number >= 0, got {v!r}")

    @classmethod
    def components(cls) -> tuple[str, ...]:
        """Names of the shift components, in the order they are applied."""
        return tuple(f.name for f in dataclasses.fields(cls))

    @classmethod
    def none(cls) -> "SynthShift":
        """All components off: the source style."""
        return cls(**{name: 0.0 for name in cls.components()})

    @classmethod
    def full(cls) -> "SynthShift":
        """All components at strength 1: the default target style."""
        return cls()

    @classmethod
    def only(cls, *names: str, strength: float = 1.0) -> "SynthShift":
        """Only the named components on (at ``strength``), e.g. ``SynthShift.only("blur")``."""
        unknown = [n for n in names if n not in cls.components()]
        if unknown:
            raise ValueError(f"unknown SynthShift component(s) {unknown}; expected some of {cls.components()}")
        return cls(**{n: (strength if n in names else 0.0) for n in cls.components()})

    def scaled(self, factor: float) -> "SynthShift":
        """Every strength multiplied by ``factor`` (0 = source style, 1 = unchanged)."""
        return SynthShift(**{n: getattr(self, n) * factor for n in self.components()})

    def replace(self, **changes: float) -> "SynthShift":
        """A copy with some strengths changed, e.g. ``shift.replace(noise=0)``."""
        unknown = [n for n in changes if n not in self.components()]
        if unknown:
            raise ValueError(f"unknown SynthShift component(s) {unknown}; expected some of {self.components()}")
        return dataclasses.replace(self, **changes)

    def as_dict(self) -> dict[str, float]:
        return {n: float(getattr(self, n)) for n in self.components()}


# --------------------------------------------------------------------------------------------
# Colour styles of the parts: (hue range, saturation range, value range) in HSV, 0..1.
# The source style is game-like (saturated, objects in random colours so that their shape has
# to be learnt); the target style is a desaturated, class-typical "photographic" palette.
# --------------------------------------------------------------------------------------------

_ANY = (0.0, 1.0)
#         part           texture       source HSV ranges                      target HSV ranges
_STYLES: dict[str, tuple[int, tuple, tuple]] = {
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
}


_STYLE_NAMES: tuple[str, ...] = tuple(_STYLES)
_STYLE_INDEX = {name: i for i, name in enumerate(_STYLE_NAMES)}
_STYLE_TEX = np.array([_STYLES[n][0] for n in _STYLE_NAMES], np.intp)
# (n_styles, 2 domains, 3 channels h/s/v, 2 = lo/hi)
_STYLE_RANGES = np.array([[_STYLES[n][1], _STYLES[n][2]] for n in _STYLE_NAMES], np.float32)


def _hsv_to_rgb(hsv: np.ndarray) -> np.ndarray:
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


# --------------------------------------------------------------------------------------------
# Layout: an instance-id canvas
# --------------------------------------------------------------------------------------------


class _Canvas:
    """An 8-bit image of part ids plus, per id, its trainId and colour style.

    Drawing uses only PIL primitives (no per-pixel Python). Colours are sampled for all parts at
    once by :meth:`colours`, in both styles, so one layout can be rendered in any style.
    """

    def __init__(self, height: int, width: int) -> None:
        self.image = Image.new("L", (width, height), 0)
        self.draw = ImageDraw.Draw(self.image)
        self.cls: list[int] = []
        self.style: list[int] = []

    def new(self, style: str, cls: int) -> int:
        """Register a part of ``style`` (a key of ``_STYLES``) with trainId ``cls``; returns its id."""
        if len(self.cls) >= 256:
            raise RuntimeError("SynthStreets scene has more than 256 parts")
        self.cls.append(cls)
        self.style.append(_STYLE_INDEX[style])
        return len(self.cls) - 1

    def colours(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Sample every part's colours: (source RGB (n, 3), target RGB (n, 3), texture kind (n,))."""
        style = np.asarray(self.style, np.intp)
        rng_ = _STYLE_RANGES[style]  # n x 2 x 3 x 2
        # one draw per part used by both styles: a brighter / redder source part stays a
        # brighter / redder target part, so the palette shift is a (class-wise) monotone map
        u = rng.random((len(style), 1, 3), dtype=np.float32)
        hsv = rng_[..., 0] + u * (rng_[..., 1] - rng_[..., 0])
        rgb = _hsv_to_rgb(hsv)  # n x 2 x 3
        return rgb[:, 0], rgb[:, 1], _STYLE_TEX[style]

    def polygon(self, pid: int, pts: Sequence[tuple[float, float]]) -> None:
        self.draw.polygon(pts, fill=pid)

    def ellipse(self, pid: int, cx: float, cy: float, rx: float, ry: float) -> None:
        if rx >= 0.3 and ry >= 0.3:
            self.draw.ellipse((cx - rx, cy - ry, cx + rx, cy + ry), fill=pid)

    def rect(self, pid: int, x0: float, y0: float, x1: float, y1: float) -> None:
        """Axis-aligned rectangle [x0, x1) x [y0, y1); at least one pixel, so thin poles never vanish."""
        a, b = int(x0 + 0.5), int(x1 + 0.5)
        c, d = int(y0 + 0.5), int(y1 + 0.5)
        self.draw.rectangle((a, c, max(a, b - 1), max(c, d - 1)), fill=pid)


@dataclass(frozen=True)
class _Frequencies:
    """Mean object counts per scene (Poisson) and hood probability of one domain's layout."""

    cars: float
    people: float
    trees: float
    poles: float
    hood: float

    @staticmethod
    def blend(a: "_Frequencies", b: "_Frequencies", t: float) -> "_Frequencies":
        return _Frequencies(*[max(0.0, x + t * (y - x)) for x, y in zip(dataclasses.astuple(a), dataclasses.astuple(b))])


_SOURCE_FREQ = _Frequencies(cars=2.0, people=1.6, trees=2.0, poles=2.0, hood=0.0)
_TARGET_FREQ = _Frequencies(cars=2.4, people=2.0, trees=1.6, poles=2.0, hood=0.35)


class _Street:
    """Ground-plane perspective of one scene.

    A point at lateral offset ``X`` (metres, camera at 0), height ``Y`` and *inverse depth*
    ``t = Z_bottom / Z`` (t = 1 at the bottom image row, 0 at the horizon) projects to
    ``x = vx + X t k``, ``y = yh + t (H - yh) - Y t k`` with ``k = (H - yh) / camera_height``.
    Objects are therefore scaled with depth by construction.
    """

    CAMERA_HEIGHT = 2.0  # virtual metres; sets how wide the road looks at the bottom row
    Z_BOTTOM = 5.0  # depth of the bottom image row in metres
    THING_SCALE = 1.8

    def __init__(self, height: int, width: int, yh: float, vx: float) -> None:
        self.H, self.W, self.yh, self.vx = height, width, yh, vx
        self.k = (height - yh) / self.CAMERA_HEIGHT

    def xy(self, X: float, Y: float, t: float) -> tuple[float, float]:
        return self.vx + X * t * self.k, self.yh + t * (self.H - self.yh) - Y * t * self.k

    def t_of(self, Z: float) -> float:
        return self.Z_BOTTOM / Z

    def scale(self, t: float) -> float:
        """Pixels per metre at inverse depth ``t``."""
        return t * self.k

    def thing_scale(self, t: float) -> float:
        """Pixels per metre for *objects* at inverse depth ``t``: ``THING_SCALE`` times :meth:`scale`.

        Objects are drawn larger than life: at 64 x 128 a stride-8 network sees an 8 x 16 grid,
        and true-to-scale poles or people would be thinner than one cell.
        """
        return t * self.k * self.THING_SCALE


def _draw_facade_windows(c: _Canvas, st: _Street, pid: int, X: float, z0: float, z1: float, h: float,
                         rng: np.random.Generator) -> None:
    """Windows on a side facade (the plane ``x = X``) between depths z0 < z1, height h (metres)."""
    zs = np.arange(z0 + 1.0, z1 - 1.4, rng.uniform(2.6, 3.6))
    ys = np.arange(rng.uniform(1.8, 2.6), h - 1.6, rng.uniform(2.8, 3.4))
    ww, wh = rng.uniform(1.0, 1.6), rng.uniform(1.2, 1.8)
    if len(zs) == 0 or len(ys) == 0:
        return
    ta, tb = st.Z_BOTTOM / zs, st.Z_BOTTOM / (zs + ww)
    keep = (abs(X) * st.k * (ta - tb) >= 0.8) & (wh * ta * st.k >= 0.8)  # at least ~a pixel
    ta, tb = ta[keep], tb[keep]
    if len(ta) == 0:
        return
    xa, xb = st.vx + X * ta * st.k, st.vx + X * tb * st.k  # (nz,)
    ga, gb = st.yh + ta * (st.H - st.yh), st.yh + tb * (st.H - st.yh)
    ka, kb = ta * st.k, tb * st.k
    xa, xb = xa.tolist(), xb.tolist()
    draw = c.draw.polygon
    for y in ys.tolist():
        ya0, yb0 = (ga - y * ka).tolist(), (gb - y * kb).tolist()
        ya1, yb1 = (ga - (y + wh) * ka).tolist(), (gb - (y + wh) * kb).tolist()
        for i in range(len(xa)):
            draw(((xa[i], ya0[i]), (xb[i], yb0[i]), (xb[i], yb1[i]), (xa[i], ya1[i])), fill=pid)


def _draw_front_windows(c: _Canvas, st: _Street, pid: int, xa: float, xb: float, t: float, h: float,
                        rng: np.random.Generator) -> None:
    """Windows on a frontal facade spanning lateral [xa, xb] metres at inverse depth t."""
    s = st.scale(t)
    ww, wh = rng.uniform(1.0, 1.6), rng.uniform(1.2, 1.8)
    xs = np.arange(xa + 0.8, xb - ww - 0.4, rng.uniform(2.6, 3.6))
    ys = np.arange(rng.uniform(1.8, 2.6), h - 1.6, rng.uniform(2.8, 3.4))
    if s * 1.2 < 0.8:
        return
    gx, gy = st.xy(0.0, 0.0, t)
    for y in ys.tolist():
        for x in xs.tolist():
            c.rect(pid, gx + x * s, gy - (y + wh) * s, gx + (x + ww) * s, gy - y * s)


def _draw_tree(c: _Canvas, st: _Street, X: float, t: float, rng: np.random.Generator) -> None:
    s = st.thing_scale(t)
    trunk = c.new("trunk", VEGETATION)
    crown = c.new("foliage", VEGETATION)
    th, tw, r = rng.uniform(1.2, 2.2), rng.uniform(0.35, 0.55), rng.uniform(1.8, 3.0)
    x, y = st.xy(X, 0.0, t)
    c.rect(trunk, x - 0.5 * tw * s, y - th * s, x + 0.5 * tw * s, y)
    for _ in range(3):
        dx, dy, rr = rng.uniform(-0.6, 0.6) * r, rng.uniform(-0.3, 0.5) * r, rng.uniform(0.6, 1.0) * r
        c.ellipse(crown, x + dx * s, y - (th + 0.6 * r + dy) * s, rr * s, rr * s * rng.uniform(0.8, 1.1))


def _draw_pole(c: _Canvas, st: _Street, X: float, t: float, rng: np.random.Generator) -> None:
    """A pole: a street lamp (with an arm, all 'pole') or carrying one or two traffic signs."""
    s = st.thing_scale(t)
    kind = rng.choice(3, p=[0.2, 0.5, 0.3])  # 0 street lamp, 1 one sign, 2 two signs
    pole = c.new("pole", POLE)
    h, w = rng.uniform(3.5, 5.0), rng.uniform(0.5, 0.7)
    x, y = st.xy(X, 0.0, t)
    c.rect(pole, x - 0.5 * w * s, y - h * s, x + 0.5 * w * s, y)
    if kind == 0:  # street lamp arm
        arm = rng.uniform(0.8, 1.6) * (-1 if X > 0 else 1)
        c.rect(pole, min(x, x + arm * s), y - h * s, max(x, x + arm * s), y - (h - 0.3) * s)
        return
    top = h
    for _ in range(kind):
        sign = c.new(("sign_red", "sign_blue", "sign_yellow")[rng.integers(3)], SIGN)
        back = c.new("sign_back", SIGN)
        r = rng.uniform(0.7, 1.0)
        cx, cy = x, y - (top - r) * s
        top -= 2.1 * r
        shape = rng.integers(3)
        if shape == 0:  # round sign with a light centre
            c.ellipse(sign, cx, cy, r * s, r * s)
            c.ellipse(back, cx, cy, 0.55 * r * s, 0.55 * r * s)
        elif shape == 1:  # triangle
            c.polygon(sign, [(cx - r * s, cy + 0.8 * r * s), (cx + r * s, cy + 0.8 * r * s), (cx, cy - r * s)])
            c.polygon(back, [(cx - 0.5 * r * s, cy + 0.5 * r * s), (cx + 0.5 * r * s, cy + 0.5 * r * s), (cx, cy - 0.4 * r * s)])
        else:  # rectangular plate
            c.rect(sign, cx - 1.1 * r * s, cy - 0.8 * r * s, cx + 1.1 * r * s, cy + 0.8 * r * s)
            c.rect(back, cx - 0.8 * r * s, cy - 0.5 * r * s, cx + 0.8 * r * s, cy + 0.5 * r * s)


def _draw_car(c: _Canvas, st: _Street, X: float, t: float, rng: np.random.Generator) -> None:
    """A car seen from behind: body, cabin with rear window, wheels, tail lights (all 'car')."""
    s = st.thing_scale(t)
    body, glass, wheel, tail = c.new("car_body", CAR), c.new("car_glass", CAR), c.new("wheel", CAR), c.new("tail_light", CAR)
    w, h = rng.uniform(1.7, 2.1), rng.uniform(1.35, 1.8)
    x, y = st.xy(X, 0.0, t)
    W, Hh = w * s, h * s
    c.rect(wheel, x - 0.48 * W, y - 0.35 * Hh, x - 0.26 * W, y)
    c.rect(wheel, x + 0.26 * W, y - 0.35 * Hh, x + 0.48 * W, y)
    c.rect(body, x - 0.5 * W, y - 0.62 * Hh, x + 0.5 * W, y - 0.15 * Hh)
    c.polygon(body, [(x - 0.46 * W, y - 0.62 * Hh), (x + 0.46 * W, y - 0.62 * Hh), (x + 0.36 * W, y - Hh), (x - 0.36 * W, y - Hh)])
    c.polygon(glass, [(x - 0.38 * W, y - 0.66 * Hh), (x + 0.38 * W, y - 0.66 * Hh), (x + 0.31 * W, y - 0.94 * Hh), (x - 0.31 * W, y - 0.94 * Hh)])
    c.rect(tail, x - 0.47 * W, y - 0.55 * Hh, x - 0.34 * W, y - 0.45 * Hh)
    c.rect(tail, x + 0.34 * W, y - 0.55 * Hh, x + 0.47 * W, y - 0.45 * Hh)


def _draw_person(c: _Canvas, st: _Street, X: float, t: float, rng: np.random.Generator) -> None:
    """A pedestrian: legs (walking stride), torso, head (all 'person'); stocky, so it survives stride 8."""
    s = st.thing_scale(t)
    skin, top, legs = c.new("skin", PERSON), c.new("clothes", PERSON), c.new("clothes", PERSON)
    h, w = rng.uniform(1.8, 2.1), rng.uniform(0.8, 0.95)  # stocky: thin limbs vanish at stride 8
    stride = rng.uniform(0.0, 0.35)
    x, y = st.xy(X, 0.0, t)
    H, W = h * s, w * s
    hip = y - 0.48 * H
    lw = 0.22 * W
    for sgn in (-1, 1):
        foot = x + sgn * stride * H * 0.5
        c.polygon(legs, [(x + sgn * 0.05 * W - lw, hip), (x + sgn * 0.05 * W + lw, hip), (foot + lw, y), (foot - lw, y)])
    c.polygon(top, [(x - 0.45 * W, y - 0.85 * H), (x + 0.45 * W, y - 0.85 * H),
                    (x + 0.55 * W, hip + 0.02 * H), (x - 0.55 * W, hip + 0.02 * H)])
    c.ellipse(skin, x, y - 0.92 * H, 0.28 * W, 0.08 * H)


def draw_scene(rng: np.random.Generator, height: int, width: int, layout: float = 0.0) -> _Canvas:
    """Sample one street layout and draw it on an instance-id canvas.

    Args:
        rng: the scene's random generator (its state is consumed).
        height, width: image size in pixels.
        layout: strength of the ``layout`` shift component (0 = source object frequencies,
            1 = target's).

    Returns:
        the canvas (``.image``: PIL "L" image of part ids; ``.cls``, ``.tex``, ``.src``,
        ``.tgt``: per-id trainId, texture kind, source and target RGB colours in 0..1).
    """
    H, W = height, width
    freq = _Frequencies.blend(_SOURCE_FREQ, _TARGET_FREQ, layout)
    c = _Canvas(H, W)
    yh = H * rng.uniform(0.4, 0.52)
    vx = W * rng.uniform(0.38, 0.62)
    st = _Street(H, W, yh, vx)
    far = 4.0  # t beyond the bottom row, so ground lines leave the image

    # Sky, ground (sidewalk), road, verges, lane marks.
    sky = c.new("sky", SKY)  # id 0 = the background fill
    sidewalk = c.new("sidewalk", SIDEWALK)
    road = c.new("road", ROAD)
    lane = c.new("lane", ROAD)
    c.rect(sidewalk, -1, yh, W + 1, H + 1)
    left, right = -rng.uniform(2.5, 4.0), rng.uniform(2.5, 4.0)
    walk_l, walk_r = rng.uniform(4.0, 7.0), rng.uniform(4.0, 7.0)
    c.polygon(road, [(vx, yh), st.xy(left, 0, far), st.xy(right, 0, far)])
    dash, gap, lw = rng.uniform(2.0, 4.0), rng.uniform(3.0, 6.0), rng.uniform(0.12, 0.2)
    lx = 0.5 * (left + right) + rng.uniform(-0.5, 0.5)
    z = st.Z_BOTTOM * 0.5 + rng.uniform(0.0, dash + gap)
    while z < 60:
        t0, t1 = st.t_of(z), st.t_of(z + dash)
        c.polygon(lane, [st.xy(lx - lw, 0, t0), st.xy(lx + lw, 0, t0), st.xy(lx + lw, 0, t1), st.xy(lx - lw, 0, t1)])
        z += dash + gap

    # Buildings: a row along each side (planes X = const) and a frontal row at the far end.
    z_end = st.Z_BOTTOM / rng.uniform(0.12, 0.2)
    outer = {-1: left - walk_l, 1: right + walk_r}
    if rng.random() < 0.85:
        t_end = st.t_of(z_end)
        xa = outer[-1] - rng.uniform(0, 6)
        while xa < outer[1] + 6:
            wb = rng.uniform(6, 14)
            hb = rng.uniform(6, 16)
            b, win = c.new("building", BUILDING), c.new("window", BUILDING)
            x0, y0 = st.xy(xa, hb, t_end)
            x1, y1 = st.xy(xa + wb, 0, t_end)
            c.rect(b, x0, y0, x1, y1)
            _draw_front_windows(c, st, win, xa, xa + wb, t_end, hb, rng)
            xa += wb
    for side in (-1, 1):
        X = outer[side]
        z = st.Z_BOTTOM / far
        while z < z_end:
            length = rng.uniform(8, 20)
            if rng.random() < 0.12:  # a gap in the row (side street)
                z += rng.uniform(4, 10)
                continue
            hb = rng.uniform(4, 12)
            b, win = c.new("building", BUILDING), c.new("window", BUILDING)
            z1 = min(z + length, z_end)
            t0, t1 = st.t_of(z), st.t_of(z1)
            c.polygon(b, [st.xy(X, 0, t0), st.xy(X, 0, t1), st.xy(X, hb, t1), st.xy(X, hb, t0)])
            _draw_facade_windows(c, st, win, X, z, z1, hb, rng)
            z = z1

    # Objects on the ground plane, drawn far to near (painter's algorithm).
    objects: list[tuple[float, Callable, float]] = []
    for _ in range(rng.poisson(freq.trees)):
        side = rng.choice((-1, 1))
        X = outer[side] - side * rng.uniform(0.6, 1.4)
        objects.append((rng.uniform(0.15, 1.1), _draw_tree, X))
    for _ in range(rng.poisson(freq.poles)):
        side = rng.choice((-1, 1))
        edge = left if side < 0 else right
        objects.append((rng.uniform(0.4, 1.0), _draw_pole, edge + side * rng.uniform(0.3, 0.9)))
    for _ in range(rng.poisson(freq.cars)):
        X = rng.uniform(left + 1.0, right - 1.0)
        objects.append((rng.uniform(0.25, 0.85), _draw_car, X))
    for _ in range(rng.poisson(freq.people)):
        side = rng.choice((-1, 1))
        edge = left if side < 0 else right
        if rng.random() < 0.2:  # crossing the road
            X = rng.uniform(left + 0.5, right - 0.5)
        else:
            X = edge + side * rng.uniform(0.4, max(0.5, (walk_l if side < 0 else walk_r) - 0.4))
        objects.append((rng.uniform(0.4, 1.1), _draw_person, X))
    objects.sort(key=lambda o: o[0])
    for t, fn, X in objects:
        fn(c, st, X, t, rng)

    # The ego-vehicle hood (Cityscapes labels it void -> 255).
    if rng.random() < freq.hood:
        hood = c.new("hood", IGNORE_INDEX)
        hh = rng.uniform(0.06, 0.12) * H
        c.ellipse(hood, W * rng.uniform(0.45, 0.55), H + 0.4 * hh, 0.8 * W, 1.4 * hh)
    return c


# --------------------------------------------------------------------------------------------
# Rendering a canvas in a style
# --------------------------------------------------------------------------------------------

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


def render(canvas: _Canvas, shift: SynthShift, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
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


# --------------------------------------------------------------------------------------------
# The dataset
# --------------------------------------------------------------------------------------------


class SynthStreets(torch.utils.data.Dataset):
    """Procedural two-domain street scenes with Cityscapes trainId labels.

    Args:
        domain: ``"source"`` (game-like) or ``"target"`` (real-like). Selects the random
            stream of scenes and the default shift (none for source, :meth:`SynthShift.full`
            for target).
        split: ``"train"`` or ``"val"``; disjoint random streams.
        size: ``(H, W)``; default 64 x 128.
        length: number of items (default 4000 for train, 500 for val). Any length gives the
            same first items: item ``i`` depends only on ``(seed, domain, split, i)``.
        seed: base seed of the scene streams.
        shift: a :class:`SynthShift` to render with instead of the domain's default (e.g.
            target scenes with only one component on).
        transform: callable ``(image, label) -> anything`` applied to each item.
        cache_dir: if given, all items are rendered once into
            ``cache_dir/synthstreets-<hash>.npz`` (hash of every parameter that changes the
            pixels) and read back from there afterwards.

    Items (no transform): ``(image, label)``, image a uint8 tensor 3 x H x W (RGB), label an
    int64 tensor H x W of trainIds (255 = ignore).
    """

    num_classes: int = NUM_CLASSES
    class_ids: tuple[int, ...] = SYNTH_CLASS_IDS
    has_labels: bool = True

    def __init__(
        self,
        domain: str = "source",
        split: str = "train",
        size: tuple[int, int] = (64, 128),
        length: Optional[int] = None,
        seed: int = 0,
        shift: Optional[SynthShift] = None,
        transform: Optional[Callable] = None,
        cache_dir: Optional[str | os.PathLike] = None,
    ) -> None:
        if domain not in _DOMAINS:
            raise ValueError(f"SynthStreets domain must be one of {tuple(_DOMAINS)}, got {domain!r}")
        if split not in _SPLITS:
            raise ValueError(f"SynthStreets split must be one of {tuple(_SPLITS)}, got {split!r}")
        try:
            h, w = (int(v) for v in size)
        except (TypeError, ValueError):
            raise ValueError(f"SynthStreets size must be (H, W), got {size!r}") from None
        if h < 16 or w < 16:
            raise ValueError(f"SynthStreets size must be at least 16 x 16, got {size!r}")
        if length is None:
            length = _DEFAULT_LENGTH[split]
        if int(length) < 1:
            raise ValueError(f"SynthStreets length must be >= 1, got {length!r}")
        if shift is None:
            shift = SynthShift.none() if domain == "source" else SynthShift.full()
        if not isinstance(shift, SynthShift):
            raise TypeError(f"shift must be a SynthShift, got {type(shift).__name__}")
        self.domain, self.split, self.size, self.length = domain, split, (h, w), int(length)
        self.seed, self.shift, self.transform = int(seed), shift, transform
        self.name = f"synth:{domain}:{split}"
        self.cache_path: Optional[Path] = None
        self._cache: Optional[tuple[np.ndarray, np.ndarray]] = None
        if cache_dir is not None:
            self.cache_path = Path(cache_dir) / f"synthstreets-{self.cache_key()}.npz"
            self._cache = self._load_or_build_cache(self.cache_path)

    def __len__(self) -> int:
        return self.length

    def __repr__(self) -> str:
        return (f"SynthStreets(domain={self.domain!r}, split={self.split!r}, size={self.size}, "
                f"length={self.length}, seed={self.seed}, shift={self.shift})")

    def cache_key(self) -> str:
        """Hash of every parameter that changes the rendered items (16 hex digits)."""
        params = dict(version=1, domain=self.domain, split=self.split, size=self.size,
                      length=self.length, seed=self.seed, shift=self.shift.as_dict())
        return hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:16]

    def render(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """Draw item ``index``: (uint8 H x W x 3 RGB image, uint8 H x W trainId label)."""
        if not 0 <= index < self.length:
            raise IndexError(f"index {index} out of range for SynthStreets of length {self.length}")
        ss = np.random.SeedSequence([self.seed, _DOMAINS[self.domain], _SPLITS[self.split], int(index)])
        layout_seed, style_seed = ss.spawn(2)  # layout and appearance: separate streams
        canvas = draw_scene(np.random.default_rng(layout_seed), *self.size, layout=self.shift.layout)
        return render(canvas, self.shift, np.random.default_rng(style_seed))

    def _load_or_build_cache(self, path: Path) -> tuple[np.ndarray, np.ndarray]:
        if path.exists():
            try:
                with np.load(path) as z:
                    images, labels = z["images"], z["labels"]
                if images.shape == (self.length, *self.size, 3) and labels.shape == (self.length, *self.size):
                    return images, labels
            except (OSError, ValueError, KeyError):
                pass  # unreadable cache: rebuild it
        images = np.empty((self.length, *self.size, 3), np.uint8)
        labels = np.empty((self.length, *self.size), np.uint8)
        for i in range(self.length):
            images[i], labels[i] = self.render(i)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                np.savez(f, images=images, labels=labels)
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
        return images, labels

    def __getitem__(self, index: int):
        if index < 0:
            index += self.length
        if self._cache is not None:
            if not 0 <= index < self.length:
                raise IndexError(f"index {index} out of range for SynthStreets of length {self.length}")
            image, label = self._cache[0][index], self._cache[1][index]
        else:
            image, label = self.render(index)
        return to_item(image, label, self.transform)
