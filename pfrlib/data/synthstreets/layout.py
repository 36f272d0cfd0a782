"""SynthStreets scene layout: a street sampled from one random stream, drawn as a canvas of part ids.

:func:`draw_scene` samples the horizon and vanishing point, a perspective road with lane marks,
sidewalks, a row of building facades with windows on each side of the street and usually one
across its far end, then trees, poles (street lamps, or carrying one or two traffic signs), cars
and people, placed on the ground plane and scaled with depth (:class:`Street`). Every drawn part
gets a *part id* on an 8-bit :class:`Canvas` (PIL polygons, no per-pixel Python); each id
carries its trainId and its colour style (:mod:`.styles`). The ``layout`` strength of the shift
moves the object frequencies from the source's to the target's.

Scale: at the default 64 x 128 a stride-8 network predicts an 8 x 16 grid, so the scenes are
built coarse: objects are drawn larger than life (``Street.THING_SCALE``) and not too far away,
people are stocky and poles thick.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
from PIL import Image, ImageDraw

from pfrlib.data.labels import IGNORE_INDEX
from pfrlib.data.synthstreets.styles import part_colours, style_index

__all__ = ["SYNTH_CLASS_IDS", "Canvas", "Street", "draw_scene"]

# trainIds used by SynthStreets (Cityscapes order).
ROAD, SIDEWALK, BUILDING, POLE, SIGN, VEGETATION, SKY, PERSON, CAR = 0, 1, 2, 5, 7, 8, 10, 11, 13

#: The trainIds a SynthStreets label can contain (mIoU is averaged over these).
SYNTH_CLASS_IDS: tuple[int, ...] = (ROAD, SIDEWALK, BUILDING, POLE, SIGN, VEGETATION, SKY, PERSON, CAR)


class Canvas:
    """An 8-bit image of part ids plus, per id, its trainId and colour style.

    Drawing uses only PIL primitives (no per-pixel Python). Colours are sampled for all parts at
    once by :meth:`colours`, in both styles, so one layout can be rendered in any style.
    """

    def __init__(self, height: int, width: int, mode: str = "L") -> None:
        # "L" (8-bit, up to 256 parts) for the 9-class scenes; "I" (32-bit) for busier ones
        self.image = Image.new(mode, (width, height), 0)
        self.draw = ImageDraw.Draw(self.image)
        self.max_parts = 256 if mode == "L" else 65536
        self.cls: list[int] = []
        self.style: list[int] = []

    def new(self, style: str, cls: int) -> int:
        """Register a part of ``style`` (a key of :data:`.styles.STYLES`) with trainId ``cls``; returns its id."""
        if len(self.cls) >= self.max_parts:
            raise RuntimeError(f"SynthStreets scene has more than {self.max_parts} parts")
        self.cls.append(cls)
        self.style.append(style_index(style))
        return len(self.cls) - 1

    def colours(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Sample every part's colours: (source RGB (n, 3), target RGB (n, 3), texture kind (n,))."""
        return part_colours(self.style, rng)

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


class Street:
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


def _draw_facade_windows(c: Canvas, st: Street, pid: int, X: float, z0: float, z1: float, h: float,
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


def _draw_front_windows(c: Canvas, st: Street, pid: int, xa: float, xb: float, t: float, h: float,
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


def _draw_tree(c: Canvas, st: Street, X: float, t: float, rng: np.random.Generator) -> None:
    s = st.thing_scale(t)
    trunk = c.new("trunk", VEGETATION)
    crown = c.new("foliage", VEGETATION)
    th, tw, r = rng.uniform(1.2, 2.2), rng.uniform(0.35, 0.55), rng.uniform(1.8, 3.0)
    x, y = st.xy(X, 0.0, t)
    c.rect(trunk, x - 0.5 * tw * s, y - th * s, x + 0.5 * tw * s, y)
    for _ in range(3):
        dx, dy, rr = rng.uniform(-0.6, 0.6) * r, rng.uniform(-0.3, 0.5) * r, rng.uniform(0.6, 1.0) * r
        c.ellipse(crown, x + dx * s, y - (th + 0.6 * r + dy) * s, rr * s, rr * s * rng.uniform(0.8, 1.1))


def _draw_pole(c: Canvas, st: Street, X: float, t: float, rng: np.random.Generator) -> None:
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


def _draw_car(c: Canvas, st: Street, X: float, t: float, rng: np.random.Generator) -> None:
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


def _draw_person(c: Canvas, st: Street, X: float, t: float, rng: np.random.Generator) -> None:
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


def draw_scene(rng: np.random.Generator, height: int, width: int, layout: float = 0.0) -> Canvas:
    """Sample one street layout and draw it on an instance-id canvas.

    Args:
        rng: the scene's random generator (its state is consumed).
        height, width: image size in pixels.
        layout: strength of the ``layout`` shift component (0 = source object frequencies,
            1 = target's).

    Returns:
        the canvas (``.image``: PIL "L" image of part ids; ``.cls``, ``.style``: per-id trainId
        and colour style; :meth:`Canvas.colours` samples the parts' colours in both styles).
    """
    H, W = height, width
    freq = _Frequencies.blend(_SOURCE_FREQ, _TARGET_FREQ, layout)
    c = Canvas(H, W)
    yh = H * rng.uniform(0.4, 0.52)
    vx = W * rng.uniform(0.38, 0.62)
    st = Street(H, W, yh, vx)
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
