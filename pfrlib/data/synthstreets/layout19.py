"""SynthStreets-19 scene layout: all 19 Cityscapes classes, a pinhole camera, and three scene shifts.

:func:`draw_scene19` samples a street seen by a pinhole camera (:class:`Camera`: horizon row,
mounting height, focal length, aspect ratio) and draws every one of Cityscapes' 19 evaluation
classes on a :class:`~.layout.Canvas` of part ids:

* stuff: road (with lane marks and, under a tram, rails), sidewalk, terrain verges, building
  rows with windows (both sides and across the far end), walls and fences in front of them,
  hedges and trees, sky;
* thin things: street lamps, sign poles and traffic-light poles (some with an arm over the
  road); traffic lights and signs are small boxes and plates on them;
* people: pedestrians, and riders on bicycles and motorcycles (side view); parked bicycles;
* vehicles: cars, trucks and buses (rear face plus the side face the camera sees) and trams on
  rails, the bulky rare classes.

Every object stands on the ground plane at a physical depth; its size in pixels follows from the
camera (``focal * H / depth`` pixels per metre), so one camera setting fixes every scale. The
frequencies (:class:`Prior`), the camera and the objects' proportions (:class:`Shapes`) each
have a game-like source value and a Cityscapes-like target value; the ``class_prior``,
``camera`` and ``shape`` strengths of :class:`~.shift.SynthShift19` interpolate between them.
The target's values are set so that the per-class pixel shares follow Cityscapes' published ones
(:mod:`pfrlib.reference.cityscapes_class_shares`; checked by ``tests/test_synthstreets19.py``).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from ..labels import IGNORE_INDEX, NUM_CLASSES
from .layout import Canvas

__all__ = ["SYNTH19_CLASS_IDS", "Camera", "Prior", "Shapes", "View", "draw_scene19",
           "SOURCE_CAMERA", "TARGET_CAMERA", "SOURCE_PRIOR", "TARGET_PRIOR", "SOURCE_SHAPES", "TARGET_SHAPES"]

(ROAD, SIDEWALK, BUILDING, WALL, FENCE, POLE, LIGHT, SIGN, VEGETATION, TERRAIN, SKY, PERSON, RIDER, CAR,
 TRUCK, BUS, TRAIN, MOTORCYCLE, BICYCLE) = range(NUM_CLASSES)

#: The trainIds a SynthStreets-19 label can contain: all 19 Cityscapes evaluation classes.
SYNTH19_CLASS_IDS: tuple[int, ...] = tuple(range(NUM_CLASSES))


def _lerp(a, b, t: float):
    """Field-wise linear interpolation of two dataclasses of floats (t = 0: a, 1: b)."""
    return type(a)(*[x + t * (y - x) for x, y in zip(dataclasses.astuple(a), dataclasses.astuple(b))])


@dataclass(frozen=True)
class Camera:
    """A pinhole camera over a flat street.

    ``horizon``: the horizon's row as a fraction of the height (pitch); ``height``: mounting
    height in metres; ``focal``: focal length in units of the image height (Cityscapes' 2262 px
    over 1024 rows is 2.2; GTA5's wider field of view is shorter); ``aspect``: horizontal
    stretch of the frame (a 1914 x 1052 GTA5 frame resized to 2:1 is stretched by 1.1).
    """

    horizon: float
    height: float
    focal: float
    aspect: float


@dataclass(frozen=True)
class Prior:
    """How often each kind of object occurs: mean counts per scene (Poisson) or probabilities.

    Counts: ``cars``, ``people``, ``trees``, ``lamps`` (street lamps), ``signs`` (sign poles),
    ``lights`` (traffic-light poles), ``bicycles`` (parked), ``cyclists``, ``motorcyclists``,
    ``trucks``, ``buses``. Probabilities: ``tram`` (a tram on rails in the scene), and per side
    of the street ``wall``, ``fence``, ``terrain`` (a grass verge), ``hedge``. Building
    heights are drawn from ``building_min`` .. ``building_max`` metres (lower buildings, more sky).
    """

    cars: float
    people: float
    trees: float
    lamps: float
    signs: float
    lights: float
    bicycles: float
    cyclists: float
    motorcyclists: float
    trucks: float
    buses: float
    tram: float
    wall: float
    fence: float
    terrain: float
    hedge: float
    building_min: float
    building_max: float


@dataclass(frozen=True)
class Shapes:
    """Instance proportions as factors of the target's (1 = Cityscapes-like).

    ``car_w`` / ``car_h``: car width and height; ``person_w`` / ``person_h``: pedestrians and
    riders; ``crown``: tree-crown radius; ``pole_w``: pole and sign width; ``long``: truck, bus
    and tram length; ``window``: window size on facades.
    """

    car_w: float
    car_h: float
    person_w: float
    person_h: float
    crown: float
    pole_w: float
    long: float
    window: float


TARGET_CAMERA = Camera(horizon=0.42, height=1.25, focal=2.0, aspect=1.0)
SOURCE_CAMERA = Camera(horizon=0.50, height=1.7, focal=1.5, aspect=1.1)

TARGET_PRIOR = Prior(cars=1.6, people=4.5, trees=6.5, lamps=1.6, signs=1.4, lights=2.6, bicycles=1.8,
                     cyclists=0.18, motorcyclists=0.1, trucks=0.02, buses=0.018, tram=0.03,
                     wall=0.22, fence=0.3, terrain=0.6, hedge=0.6, building_min=9.0, building_max=24.0)
SOURCE_PRIOR = Prior(cars=4.5, people=1.0, trees=2.6, lamps=1.6, signs=1.2, lights=0.5, bicycles=0.2,
                     cyclists=0.1, motorcyclists=0.12, trucks=0.3, buses=0.12, tram=0.03,
                     wall=0.3, fence=0.35, terrain=0.7, hedge=0.3, building_min=5.0, building_max=16.0)

TARGET_SHAPES = Shapes(car_w=1.0, car_h=1.0, person_w=1.0, person_h=1.0, crown=1.0, pole_w=1.0, long=1.0, window=1.0)
SOURCE_SHAPES = Shapes(car_w=1.1, car_h=0.85, person_w=0.8, person_h=1.1, crown=0.75, pole_w=1.5, long=1.25,
                       window=1.4)


class View:
    """Projection of street coordinates into the image.

    A point at lateral offset ``X`` (metres, camera at 0), height ``Y`` above the road and depth
    ``Z`` projects with ``t = z0 / Z`` (``z0``: depth of the bottom image row) to
    ``x = vx + aspect * X * t * k``, ``y = yh + t * (H - yh) - Y * t * k`` with
    ``k = (H - yh) / camera height`` pixels per metre at the bottom row.
    """

    def __init__(self, height: int, width: int, yh: float, vx: float, cam: Camera) -> None:
        self.H, self.W, self.yh, self.vx = height, width, yh, vx
        self.k = (height - yh) / cam.height
        self.ax = cam.aspect
        self.z0 = cam.focal * height * cam.height / (height - yh)

    def t_of(self, Z: float) -> float:
        return self.z0 / Z

    def xy(self, X: float, Y: float, Z: float) -> tuple[float, float]:
        t = self.z0 / Z
        return self.vx + self.ax * X * t * self.k, self.yh + t * (self.H - self.yh) - Y * t * self.k

    def ppm(self, Z: float) -> float:
        """Pixels per metre (vertical) at depth Z; horizontal is ``aspect`` times this."""
        return self.z0 / Z * self.k


# ------------------------------------------------------------------------- primitives
def _quad(c: Canvas, v: View, pid: int, X0: float, X1: float, Y0: float, Y1: float, Z: float) -> None:
    """A frontal rectangle (plane Z = const) from lateral X0..X1 and height Y0..Y1."""
    x0, y1 = v.xy(X0, Y0, Z)
    x1, y0 = v.xy(X1, Y1, Z)
    c.rect(pid, min(x0, x1), y0, max(x0, x1), y1)


def _side(c: Canvas, v: View, pid: int, X: float, Za: float, Zb: float, Y0: float, Y1: float) -> None:
    """A rectangle on the plane X = const from depth Za to Zb and height Y0..Y1."""
    c.polygon(pid, [v.xy(X, Y0, Za), v.xy(X, Y0, Zb), v.xy(X, Y1, Zb), v.xy(X, Y1, Za)])


def _ground(c: Canvas, v: View, pid: int, X0: float, X1: float, Za: float, Zb: float) -> None:
    """A patch of the ground plane, lateral X0..X1, depth Za..Zb."""
    c.polygon(pid, [v.xy(X0, 0, Za), v.xy(X1, 0, Za), v.xy(X1, 0, Zb), v.xy(X0, 0, Zb)])


def _line(c: Canvas, pid: int, pts, width: float) -> None:
    c.draw.line([tuple(p) for p in pts], fill=pid, width=max(1, int(round(width))))


def _ring(c: Canvas, pid: int, cx: float, cy: float, r: float, width: float) -> None:
    if r >= 0.6:
        c.draw.ellipse((cx - r, cy - r, cx + r, cy + r), outline=pid, width=max(1, int(round(width))))


def _windows(c: Canvas, v: View, pid: int, X: float, Za: float, Zb: float, h: float, size: float,
             rng: np.random.Generator) -> None:
    """A grid of windows on the side facade X = const between depths Za < Zb, up to height h."""
    ww, wh = size * rng.uniform(1.0, 1.5), size * rng.uniform(1.2, 1.7)
    zs = np.arange(Za + 1.0, Zb - ww - 0.4, rng.uniform(2.6, 3.6) * size)
    ys = np.arange(rng.uniform(1.6, 2.6), h - wh - 0.6, rng.uniform(2.8, 3.4) * size)
    for z in zs.tolist():
        if abs(X) * (v.t_of(z) - v.t_of(z + ww)) * v.k * v.ax < 0.8:
            continue  # less than about a pixel wide
        for y in ys.tolist():
            _side(c, v, pid, X, z, z + ww, y, y + wh)


def _front_windows(c: Canvas, v: View, pid: int, Xa: float, Xb: float, Z: float, h: float, size: float,
                   rng: np.random.Generator) -> None:
    if v.ppm(Z) * size < 0.8:
        return
    ww, wh = size * rng.uniform(1.0, 1.5), size * rng.uniform(1.2, 1.7)
    for x in np.arange(Xa + 0.8, Xb - ww - 0.4, rng.uniform(2.6, 3.6) * size).tolist():
        for y in np.arange(rng.uniform(1.6, 2.6), h - wh - 0.6, rng.uniform(2.8, 3.4) * size).tolist():
            _quad(c, v, pid, x, x + ww, y, y + wh, Z)


# ------------------------------------------------------------------------- objects
# Each draws one object standing at lateral X, depth Z (its nearest face), given the shapes.

def _tree(c: Canvas, v: View, X: float, Z: float, sh: Shapes, rng: np.random.Generator) -> None:
    trunk, crown = c.new("trunk", VEGETATION), c.new("foliage", VEGETATION)
    s = v.ppm(Z)
    th, tw, r = rng.uniform(1.8, 3.0), rng.uniform(0.3, 0.5), rng.uniform(2.2, 3.8) * sh.crown
    _quad(c, v, trunk, X - tw / 2, X + tw / 2, 0, th + r * 0.5, Z)
    x, y = v.xy(X, 0, Z)
    for _ in range(4):
        dx, dy, rr = rng.uniform(-0.7, 0.7) * r, rng.uniform(-0.4, 0.5) * r, rng.uniform(0.6, 1.0) * r
        c.ellipse(crown, x + dx * s * v.ax, y - (th + 0.7 * r + dy) * s, rr * s * v.ax, rr * s * rng.uniform(0.8, 1.1))


def _hedge(c: Canvas, v: View, X: float, Za: float, Zb: float, rng: np.random.Generator) -> None:
    pid = c.new("foliage", VEGETATION)
    _side(c, v, pid, X, Za, Zb, 0, rng.uniform(0.8, 1.8))


def _sign_plate(c: Canvas, v: View, X: float, Y: float, Z: float, r: float, rng: np.random.Generator) -> None:
    sign = c.new(("sign_red", "sign_blue", "sign_yellow")[rng.integers(3)], SIGN)
    back = c.new("sign_back", SIGN)
    s = v.ppm(Z)
    cx, cy = v.xy(X, Y, Z)
    rx, ry = r * s * v.ax, r * s
    shape = rng.integers(3)
    if shape == 0:  # round sign with a light centre
        c.ellipse(sign, cx, cy, rx, ry)
        c.ellipse(back, cx, cy, 0.55 * rx, 0.55 * ry)
    elif shape == 1:  # triangle
        c.polygon(sign, [(cx - rx, cy + 0.8 * ry), (cx + rx, cy + 0.8 * ry), (cx, cy - ry)])
        c.polygon(back, [(cx - 0.5 * rx, cy + 0.5 * ry), (cx + 0.5 * rx, cy + 0.5 * ry), (cx, cy - 0.4 * ry)])
    else:  # rectangular plate
        c.rect(sign, cx - 1.1 * rx, cy - 0.8 * ry, cx + 1.1 * rx, cy + 0.8 * ry)
        c.rect(back, cx - 0.8 * rx, cy - 0.5 * ry, cx + 0.8 * rx, cy + 0.5 * ry)


def _traffic_light(c: Canvas, v: View, X: float, Y: float, Z: float, rng: np.random.Generator) -> None:
    """A traffic-light housing (0.4 x 1.1 m) with three lamps, its top at height Y."""
    box, lamp = c.new("tl_box", LIGHT), c.new("tl_lamp", LIGHT)
    w, h = rng.uniform(0.35, 0.45), rng.uniform(1.0, 1.2)
    _quad(c, v, box, X - w / 2, X + w / 2, Y - h, Y, Z)
    s = v.ppm(Z)
    on = rng.integers(3)
    x, _ = v.xy(X, 0, Z)
    for i in range(3):
        if i == on:
            _, y = v.xy(X, Y - h * (i + 0.5) / 3, Z)
            c.ellipse(lamp, x, y, 0.3 * w * s * v.ax, 0.3 * w * s)


def _pole(c: Canvas, v: View, X: float, Z: float, sh: Shapes, kind: str, side: int, rng: np.random.Generator) -> None:
    """A street lamp (``lamp``), a pole with one or two signs (``sign``) or with traffic lights (``light``)."""
    pole = c.new("pole", POLE)
    w = rng.uniform(0.22, 0.32) * sh.pole_w
    if kind == "lamp":
        h = rng.uniform(6.5, 9.0)
        _quad(c, v, pole, X - w / 2, X + w / 2, 0, h, Z)
        arm = rng.uniform(1.0, 2.0) * -side
        _quad(c, v, pole, min(X, X + arm), max(X, X + arm), h - 0.25, h, Z)
        return
    if kind == "sign":
        h = rng.uniform(2.6, 3.6)
        _quad(c, v, pole, X - w / 2, X + w / 2, 0, h, Z)
        top = h
        for _ in range(1 + int(rng.random() < 0.35)):
            r = rng.uniform(0.35, 0.5)
            _sign_plate(c, v, X, top - r, Z - 0.05, r, rng)
            top -= 2.2 * r
        return
    h = rng.uniform(3.2, 4.2)
    _quad(c, v, pole, X - w / 2, X + w / 2, 0, h, Z)
    _traffic_light(c, v, X, h + 1.0, Z - 0.05, rng)
    if rng.random() < 0.5:  # an arm over the road with a second light
        reach = rng.uniform(3.0, 5.0) * -side
        y_arm = h + rng.uniform(1.5, 2.5)
        _quad(c, v, pole, X - w / 2, X + w / 2, h, y_arm + 0.2, Z)
        _quad(c, v, pole, min(X, X + reach), max(X, X + reach), y_arm, y_arm + 0.2, Z)
        _traffic_light(c, v, X + reach, y_arm, Z - 0.05, rng)
    else:
        _quad(c, v, pole, X - w / 2, X + w / 2, h, h + 1.0, Z)


def _box_vehicle(c: Canvas, v: View, X: float, Z: float, w: float, h: float, length: float, cls: int,
                 body_style: str, rng: np.random.Generator, windows: str = "none") -> None:
    """A box-shaped vehicle: the side face the camera sees (if any), then the rear face."""
    body, glass, wheel = c.new(body_style, cls), c.new("car_glass", cls), c.new("wheel", cls)
    Xl, Xr = X - w / 2, X + w / 2
    face = Xl if Xl > 0.3 else (Xr if Xr < -0.3 else None)
    if face is not None:
        _side(c, v, body, face, Z, Z + length, 0.35, h)
        for zw in (Z + 0.15 * length, Z + 0.85 * length):
            _side(c, v, wheel, face, zw - 0.45, zw + 0.45, 0.0, 0.7)
        if windows == "row":  # a bus's or tram's window band
            n = max(1, int(length / 2.0))
            for i in range(n):
                za = Z + 0.4 + i * (length - 0.8) / n
                _side(c, v, glass, face, za, za + 0.75 * (length - 0.8) / n, 0.55 * h, 0.88 * h)
        elif windows == "cab":  # a truck's cab at the front (far) end
            _side(c, v, glass, face, Z + length - 1.6, Z + length - 0.4, 0.62 * h, 0.85 * h)
    _quad(c, v, body, Xl, Xr, 0.3, h, Z)
    _quad(c, v, wheel, Xl + 0.1, Xl + 0.5, 0, 0.5, Z)
    _quad(c, v, wheel, Xr - 0.5, Xr - 0.1, 0, 0.5, Z)
    if windows in ("row", "rear"):
        _quad(c, v, glass, Xl + 0.2, Xr - 0.2, 0.55 * h, 0.9 * h, Z)


def _car(c: Canvas, v: View, X: float, Z: float, sh: Shapes, rng: np.random.Generator) -> None:
    """A car: body box (side face if visible), a narrower cabin with windows, wheels, tail lights."""
    body, glass, wheel, tail = (c.new("car_body", CAR), c.new("car_glass", CAR), c.new("wheel", CAR),
                                c.new("tail_light", CAR))
    w, h, length = rng.uniform(1.7, 2.0) * sh.car_w, rng.uniform(1.4, 1.65) * sh.car_h, rng.uniform(3.8, 4.8)
    Xl, Xr = X - w / 2, X + w / 2
    face = Xl if Xl > 0.3 else (Xr if Xr < -0.3 else None)
    if face is not None:
        _side(c, v, body, face, Z, Z + length, 0.3, 0.62 * h)
        _side(c, v, body, face, Z + 0.25 * length, Z + 0.8 * length, 0.6 * h, h)
        _side(c, v, glass, face, Z + 0.3 * length, Z + 0.75 * length, 0.66 * h, 0.94 * h)
        for zw in (Z + 0.18 * length, Z + 0.82 * length):
            _side(c, v, wheel, face, zw - 0.33, zw + 0.33, 0.0, 0.62)
    _quad(c, v, wheel, Xl + 0.05, Xl + 0.4, 0, 0.45, Z)
    _quad(c, v, wheel, Xr - 0.4, Xr - 0.05, 0, 0.45, Z)
    _quad(c, v, body, Xl, Xr, 0.2, 0.62 * h, Z)
    _quad(c, v, body, Xl + 0.1 * w, Xr - 0.1 * w, 0.6 * h, h, Z + 0.4)
    _quad(c, v, glass, Xl + 0.16 * w, Xr - 0.16 * w, 0.66 * h, 0.94 * h, Z + 0.4)
    _quad(c, v, tail, Xl + 0.02, Xl + 0.3, 0.45 * h, 0.55 * h, Z - 0.01)
    _quad(c, v, tail, Xr - 0.3, Xr - 0.02, 0.45 * h, 0.55 * h, Z - 0.01)


def _truck(c: Canvas, v: View, X: float, Z: float, sh: Shapes, rng: np.random.Generator) -> None:
    _box_vehicle(c, v, X, Z, rng.uniform(2.3, 2.55), rng.uniform(3.0, 3.8), rng.uniform(6.5, 9.5) * sh.long,
                 TRUCK, "cargo", rng, windows="cab")


def _bus(c: Canvas, v: View, X: float, Z: float, sh: Shapes, rng: np.random.Generator) -> None:
    _box_vehicle(c, v, X, Z, rng.uniform(2.45, 2.55), rng.uniform(2.9, 3.3), rng.uniform(11.0, 13.0) * sh.long,
                 BUS, "bus_body", rng, windows="row")


def _tram(c: Canvas, v: View, X: float, Z: float, sh: Shapes, rng: np.random.Generator) -> None:
    _box_vehicle(c, v, X, Z, rng.uniform(2.3, 2.5), rng.uniform(3.2, 3.6), rng.uniform(18.0, 30.0) * sh.long,
                 TRAIN, "tram_body", rng, windows="row")


def _human(c: Canvas, v: View, X: float, Z: float, sh: Shapes, cls: int, rng: np.random.Generator,
           base: float = 0.0, seated: bool = False, heading: int = 1) -> None:
    """A person (or a rider when ``cls`` is RIDER): legs, torso, head; ``base`` lifts the feet."""
    skin, top, legs = c.new("skin", cls), c.new("clothes", cls), c.new("clothes", cls)
    s = v.ppm(Z)
    h, w = rng.uniform(1.6, 1.9) * sh.person_h, rng.uniform(0.45, 0.6) * sh.person_w
    x, y = v.xy(X, base, Z)
    H, Wp = h * s, w * s * v.ax
    hip = y - 0.48 * H
    lw = 0.2 * Wp
    if seated:  # on a saddle at ``base``: thighs forward, shins down to the pedal
        hip = y
        knee = (x + heading * 0.3 * Wp * 1.6, hip - 0.02 * H)
        c.polygon(legs, [(x - lw, hip - lw), (x + lw, hip + lw), (knee[0] + lw, knee[1] + lw), (knee[0] - lw, knee[1] - lw)])
        c.polygon(legs, [(knee[0] - lw, knee[1]), (knee[0] + lw, knee[1]), (knee[0] + lw, hip + 0.3 * H),
                         (knee[0] - lw, hip + 0.3 * H)])
        lean = heading * 0.18 * Wp
        c.polygon(top, [(x - 0.5 * Wp + lean, hip - 0.37 * H), (x + 0.5 * Wp + lean, hip - 0.37 * H),
                        (x + 0.5 * Wp, hip + 0.02 * H), (x - 0.5 * Wp, hip + 0.02 * H)])
        c.ellipse(skin, x + lean * 1.3, hip - 0.45 * H, 0.3 * Wp, 0.07 * H)
        return
    stride = rng.uniform(0.0, 0.3)
    for sgn in (-1, 1):
        foot = x + sgn * stride * H * 0.5
        c.polygon(legs, [(x + sgn * 0.06 * Wp - lw, hip), (x + sgn * 0.06 * Wp + lw, hip), (foot + lw, y), (foot - lw, y)])
    c.polygon(top, [(x - 0.45 * Wp, y - 0.84 * H), (x + 0.45 * Wp, y - 0.84 * H),
                    (x + 0.5 * Wp, hip + 0.02 * H), (x - 0.5 * Wp, hip + 0.02 * H)])
    c.ellipse(skin, x, y - 0.92 * H, 0.3 * Wp, 0.08 * H)


def _two_wheeler(c: Canvas, v: View, X: float, Z: float, sh: Shapes, motor: bool, ridden: bool,
                 rng: np.random.Generator) -> None:
    """A bicycle or motorcycle in side view (seen obliquely: foreshortened), with or without a rider."""
    cls = MOTORCYCLE if motor else BICYCLE
    frame, tyre = c.new("car_body" if motor else "frame", cls), c.new("tyre", cls)
    s = v.ppm(Z)
    fore = rng.uniform(0.45, 1.0) * v.ax  # cosine of the viewing angle
    heading = rng.choice((-1, 1))
    r = (0.32 if motor else 0.34) * s
    base = (1.35 if motor else 1.05) * s * fore
    x, y = v.xy(X, 0, Z)
    xr, xf = x - heading * base / 2, x + heading * base / 2
    wy = y - r
    tw = (0.12 if motor else 0.06) * s * 1.5
    _ring(c, tyre, xr, wy, r, tw)
    _ring(c, tyre, xf, wy, r, tw)
    seat = (x - heading * 0.15 * base, y - (0.85 if motor else 0.92) * s)
    bar = (xf - heading * 0.1 * base, y - 1.05 * s)
    if motor:
        c.polygon(frame, [(xr + heading * 0.2 * base, wy), (xf - heading * 0.15 * base, wy + 0.1 * r),
                          (xf - heading * 0.05 * base, y - 0.95 * s), (x, y - 0.9 * s), seat,
                          (xr, y - 0.75 * s)])
        _line(c, frame, [(xf, wy), bar], 0.08 * s)
    else:
        fw = 0.05 * s * 1.5
        crank = (x, wy + 0.05 * s)
        _line(c, frame, [(xr, wy), crank, seat, (xr, wy)], fw)
        _line(c, frame, [crank, bar, (xf, wy)], fw)
        _line(c, frame, [seat, bar], fw)
    if ridden:
        _human(c, v, X - heading * 0.15 * base / (s * v.ax), Z - 0.05, sh, RIDER, rng,
               base=(0.85 if motor else 0.92), seated=True, heading=heading)


# ------------------------------------------------------------------------- the scene
def draw_scene19(rng: np.random.Generator, height: int, width: int, class_prior: float = 0.0,
                 camera: float = 0.0, shape: float = 0.0, layout: float = 0.0) -> Canvas:
    """Sample one SynthStreets-19 street and draw it on a part-id canvas.

    Args:
        rng: the scene's random generator (its state is consumed). The street's frame (horizon,
            road, verges, far end) comes from a fixed number of draws; how many objects follow
            depends on the strengths, so the scene strengths change the scene.
        height, width: image size in pixels.
        class_prior, camera, shape, layout: the scene strengths of :class:`~.shift.SynthShift19`
            (0 = source, 1 = target).

    Returns:
        the canvas (``.image``: PIL "I" image of part ids; ``.cls``, ``.style``: per-id trainId
        and colour style).
    """
    H, W = height, width
    pr = _lerp(SOURCE_PRIOR, TARGET_PRIOR, class_prior)
    cam = _lerp(SOURCE_CAMERA, TARGET_CAMERA, camera)
    sh = _lerp(SOURCE_SHAPES, TARGET_SHAPES, shape)
    cam = Camera(horizon=min(max(cam.horizon, 0.15), 0.85), height=max(cam.height, 0.3),
                 focal=max(cam.focal, 0.3), aspect=max(cam.aspect, 0.3))
    sh = Shapes(*[max(0.2, x) for x in dataclasses.astuple(sh)])
    u = rng.random(40)  # the scene-wide draws, fixed in number whatever the strengths
    c = Canvas(H, W, mode="I")
    yh = H * (cam.horizon + 0.06 * (u[0] - 0.5))
    vx = W * (0.5 + 0.2 * (u[1] - 0.5))
    v = View(H, W, yh, vx, cam)
    z_far = 60.0 + 60.0 * u[2]

    sky = c.new("sky", SKY)  # id 0: the background
    walk = c.new("sidewalk", SIDEWALK)
    road = c.new("road", ROAD)
    lane = c.new("lane", ROAD)
    c.rect(walk, -1, yh, W + 1, H + 1)
    left, right = -(3.2 + 3.5 * u[3]), 3.2 + 3.5 * u[4]
    walk_w = {-1: 3.5 + 4.0 * u[5], 1: 3.5 + 4.0 * u[6]}
    edge = {-1: left, 1: right}
    zn = v.z0 * 0.5  # nearer than the bottom row: ground patches run out of the image
    _ground(c, v, road, left, right, zn, 400.0)
    # terrain verges between the road and the sidewalk, or along the buildings
    outer = {}
    for i, side in enumerate((-1, 1)):
        X = edge[side]
        if u[7 + i] < pr.terrain:
            wv = 1.0 + 2.5 * u[9 + i]
            za = zn if u[11 + i] < 0.5 else v.z0 * (1.2 + 3.0 * u[13 + i])
            zb = za + 15.0 + 60.0 * u[15 + i]
            ter = c.new("terrain", TERRAIN)
            if u[17 + i] < 0.5:  # a verge next to the road; the sidewalk beyond it
                _ground(c, v, ter, X, X + side * wv, za, zb)
            else:  # a lawn in front of the buildings
                Xo = X + side * walk_w[side]
                _ground(c, v, ter, Xo, Xo + side * wv, za, zb)
                walk_w[side] += wv
        outer[side] = X + side * walk_w[side]
    lx = 0.5 * (left + right) + (u[19] - 0.5)
    dash, gap, lw = 2.0 + 2.0 * u[20], 3.0 + 4.0 * u[21], 0.12 + 0.06 * u[22]
    tram = u[23] < pr.tram
    if tram:  # rails (part of the road, as in Cityscapes) along the middle of the street
        rail = c.new("rail", ROAD)
        for dx in (-0.72, 0.72):
            _ground(c, v, rail, lx + dx - 0.05, lx + dx + 0.05, zn, 400.0)
    else:
        z = zn + u[24] * (dash + gap)
        while z < 80:
            _ground(c, v, lane, lx - lw, lx + lw, z, z + dash)
            z += dash + gap

    # Buildings: a row along each side and (usually) one across the far end.
    win_size = sh.window
    bmin, bmax = min(pr.building_min, pr.building_max), max(pr.building_min, pr.building_max)
    if u[25] < 0.85:
        xa = outer[-1] - 8 * u[26]
        while xa < outer[1] + 8:
            wb, hb = rng.uniform(6, 14), rng.uniform(bmin, bmax)
            b, win = c.new("building", BUILDING), c.new("window", BUILDING)
            _quad(c, v, b, xa, xa + wb, 0, hb, z_far)
            _front_windows(c, v, win, xa, xa + wb, z_far, hb, win_size, rng)
            xa += wb
    for side in (-1, 1):
        X = outer[side]
        z = zn
        while z < z_far:
            length = rng.uniform(8, 20)
            gap_ = rng.random() < 0.1
            hb = rng.uniform(bmin, bmax)
            if gap_:  # a side street
                z += rng.uniform(4, 10)
                continue
            b, win = c.new("building", BUILDING), c.new("window", BUILDING)
            z1 = min(z + length, z_far)
            _side(c, v, b, X, z, z1, 0, hb)
            _windows(c, v, win, X, z, z1, hb, win_size, rng)
            z = z1

    # Walls, fences and hedges in front of the buildings (stuff: drawn before the objects).
    for side in (-1, 1):
        X = outer[side] - side * 0.3
        for kind, p in (("wall", pr.wall), ("fence", pr.fence), ("hedge", pr.hedge)):
            draw = rng.random() < p
            za = v.z0 * rng.uniform(0.6, 3.0)
            zb = za + rng.uniform(8.0, 40.0)
            hgt = rng.uniform(1.0, 2.4)
            if not draw:
                continue
            if kind == "wall":
                _side(c, v, c.new("wall", WALL), X, za, zb, 0, hgt)
            elif kind == "hedge":
                _hedge(c, v, X, za, zb, rng)
            else:
                f = c.new("fence", FENCE)
                Xf = edge[side] + side * 0.4 if rng.random() < 0.5 else X
                hgt = min(hgt, 1.6)
                for y0 in (0.15, 0.5 * hgt, hgt - 0.15):
                    _side(c, v, f, Xf, za, zb, y0 - 0.08, y0 + 0.08)
                step = rng.uniform(0.8, 1.4)
                for zp in np.arange(za, zb, step).tolist():
                    _side(c, v, f, Xf, zp, zp + 0.12, 0, hgt)

    # Things on the ground plane, drawn far to near (painter's algorithm).
    objects: list[tuple[float, Callable[[float, float], None], float]] = []

    def add(Z: float, X: float, fn: Callable[[float, float], None]) -> None:
        objects.append((Z, fn, X))

    def near_z() -> float:
        return v.z0 * rng.uniform(1.05, 1.4)

    def depth(lo: float, hi: float) -> float:
        """A depth with inverse depth uniform between z0/lo and z0/hi (near ones as common as far)."""
        return v.z0 / rng.uniform(v.z0 / hi, v.z0 / lo)

    for _ in range(rng.poisson(pr.trees)):
        side = rng.choice((-1, 1))
        X = outer[side] - side * rng.uniform(0.6, 1.6)
        add(depth(near_z(), 45.0), X, lambda X, Z: _tree(c, v, X, Z, sh, rng))
    for kind, n in (("lamp", pr.lamps), ("sign", pr.signs), ("light", pr.lights)):
        for _ in range(rng.poisson(n)):
            side = rng.choice((-1, 1))
            X = edge[side] + side * rng.uniform(0.3, 0.8)
            add(depth(near_z(), 40.0), X, lambda X, Z, kind=kind, side=side: _pole(c, v, X, Z, sh, kind, side, rng))
    for _ in range(rng.poisson(pr.cars)):
        X = rng.uniform(left + 1.1, right - 1.1)
        add(depth(near_z() + 1.0, 45.0), X, lambda X, Z: _car(c, v, X, Z, sh, rng))
    for kind, n, fn in (("truck", pr.trucks, _truck), ("bus", pr.buses, _bus)):
        for _ in range(rng.poisson(n)):
            X = rng.uniform(left + 1.4, right - 1.4)
            add(depth(near_z() + 2.0, 35.0), X, lambda X, Z, fn=fn: fn(c, v, X, Z, sh, rng))
    if tram:
        add(depth(near_z() + 3.0, 30.0), lx, lambda X, Z: _tram(c, v, X, Z, sh, rng))
    for _ in range(rng.poisson(pr.people)):
        side = rng.choice((-1, 1))
        if rng.random() < 0.15:  # crossing the road
            X = rng.uniform(left + 0.5, right - 0.5)
        else:
            X = edge[side] + side * rng.uniform(0.4, max(0.5, walk_w[side] - 0.3))
        add(depth(near_z(), 35.0), X, lambda X, Z: _human(c, v, X, Z, sh, PERSON, rng))
    for _ in range(rng.poisson(pr.bicycles)):  # parked bicycles on the sidewalk, often in a row
        side = rng.choice((-1, 1))
        X = edge[side] + side * rng.uniform(0.5, max(0.6, walk_w[side] - 0.5))
        Z0 = depth(near_z(), 30.0)
        for j in range(1 + rng.poisson(1.0)):
            add(Z0 + 0.7 * j, X, lambda X, Z: _two_wheeler(c, v, X, Z, sh, False, False, rng))
    for motor, n in ((False, pr.cyclists), (True, pr.motorcyclists)):
        for _ in range(rng.poisson(n)):
            side = rng.choice((-1, 1))
            X = edge[side] - side * rng.uniform(0.6, 1.6)
            add(depth(near_z() + 0.5, 35.0), X,
                lambda X, Z, motor=motor: _two_wheeler(c, v, X, Z, sh, motor, True, rng))
    objects.sort(key=lambda o: -o[0])
    for Z, fn, X in objects:
        fn(X, Z)

    # The ego-vehicle hood (Cityscapes labels it void: 255) in some frames.
    if u[30] < layout * 0.8:
        hood = c.new("hood", IGNORE_INDEX)
        hh = (0.08 + 0.08 * u[31]) * H
        c.ellipse(hood, W * (0.45 + 0.1 * u[32]), H + 0.4 * hh, 0.85 * W, 1.4 * hh)
    return c
