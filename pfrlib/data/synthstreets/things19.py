"""SynthStreets-19's drawing kit: the camera projection and one function per kind of object.

:class:`View` projects street coordinates (lateral offset, height, depth in metres) through a
:class:`Camera`; the primitives draw frontal, side and ground-plane rectangles, lines and rings on
a :class:`~.layout.Canvas`; the object functions (trees, poles with signs or traffic lights, cars,
trucks, buses, trams, pedestrians, bicycles and motorcycles with or without riders) each draw one
instance standing at ``(X, Z)`` with the proportions of a :class:`Shapes`. What is drawn where is
:func:`.layout19.draw_scene19`'s.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pfrlib.data.labels import NUM_CLASSES
from pfrlib.data.synthstreets.layout import Canvas

__all__ = ["Camera", "Shapes", "View", "front_rect", "side_rect", "ground_rect", "side_windows", "front_windows",
           "draw_tree", "draw_hedge", "draw_pole", "draw_car", "draw_truck", "draw_bus", "draw_tram", "draw_human",
           "draw_two_wheeler"]

(ROAD, SIDEWALK, BUILDING, WALL, FENCE, POLE, LIGHT, SIGN, VEGETATION, TERRAIN, SKY, PERSON, RIDER, CAR,
 TRUCK, BUS, TRAIN, MOTORCYCLE, BICYCLE) = range(NUM_CLASSES)


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
def front_rect(c: Canvas, v: View, pid: int, X0: float, X1: float, Y0: float, Y1: float, Z: float) -> None:
    """A frontal rectangle (plane Z = const) from lateral X0..X1 and height Y0..Y1."""
    x0, y1 = v.xy(X0, Y0, Z)
    x1, y0 = v.xy(X1, Y1, Z)
    c.rect(pid, min(x0, x1), y0, max(x0, x1), y1)


def side_rect(c: Canvas, v: View, pid: int, X: float, Za: float, Zb: float, Y0: float, Y1: float) -> None:
    """A rectangle on the plane X = const from depth Za to Zb and height Y0..Y1."""
    c.polygon(pid, [v.xy(X, Y0, Za), v.xy(X, Y0, Zb), v.xy(X, Y1, Zb), v.xy(X, Y1, Za)])


def ground_rect(c: Canvas, v: View, pid: int, X0: float, X1: float, Za: float, Zb: float) -> None:
    """A patch of the ground plane, lateral X0..X1, depth Za..Zb."""
    c.polygon(pid, [v.xy(X0, 0, Za), v.xy(X1, 0, Za), v.xy(X1, 0, Zb), v.xy(X0, 0, Zb)])


def _line(c: Canvas, pid: int, pts, width: float) -> None:
    c.draw.line([tuple(p) for p in pts], fill=pid, width=max(1, int(round(width))))


def _ring(c: Canvas, pid: int, cx: float, cy: float, r: float, width: float) -> None:
    if r >= 0.6:
        c.draw.ellipse((cx - r, cy - r, cx + r, cy + r), outline=pid, width=max(1, int(round(width))))


def side_windows(c: Canvas, v: View, pid: int, X: float, Za: float, Zb: float, h: float, size: float,
             rng: np.random.Generator) -> None:
    """A grid of windows on the side facade X = const between depths Za < Zb, up to height h."""
    ww, wh = size * rng.uniform(1.0, 1.5), size * rng.uniform(1.2, 1.7)
    zs = np.arange(Za + 1.0, Zb - ww - 0.4, rng.uniform(2.6, 3.6) * size)
    ys = np.arange(rng.uniform(1.6, 2.6), h - wh - 0.6, rng.uniform(2.8, 3.4) * size)
    for z in zs.tolist():
        if abs(X) * (v.t_of(z) - v.t_of(z + ww)) * v.k * v.ax < 0.8:
            continue  # less than about a pixel wide
        for y in ys.tolist():
            side_rect(c, v, pid, X, z, z + ww, y, y + wh)


def front_windows(c: Canvas, v: View, pid: int, Xa: float, Xb: float, Z: float, h: float, size: float,
                   rng: np.random.Generator) -> None:
    if v.ppm(Z) * size < 0.8:
        return
    ww, wh = size * rng.uniform(1.0, 1.5), size * rng.uniform(1.2, 1.7)
    for x in np.arange(Xa + 0.8, Xb - ww - 0.4, rng.uniform(2.6, 3.6) * size).tolist():
        for y in np.arange(rng.uniform(1.6, 2.6), h - wh - 0.6, rng.uniform(2.8, 3.4) * size).tolist():
            front_rect(c, v, pid, x, x + ww, y, y + wh, Z)


# ------------------------------------------------------------------------- objects
# Each draws one object standing at lateral X, depth Z (its nearest face), given the shapes.

def draw_tree(c: Canvas, v: View, X: float, Z: float, sh: Shapes, rng: np.random.Generator) -> None:
    trunk, crown = c.new("trunk", VEGETATION), c.new("foliage", VEGETATION)
    s = v.ppm(Z)
    th, tw, r = rng.uniform(1.8, 3.0), rng.uniform(0.3, 0.5), rng.uniform(2.2, 3.8) * sh.crown
    front_rect(c, v, trunk, X - tw / 2, X + tw / 2, 0, th + r * 0.5, Z)
    x, y = v.xy(X, 0, Z)
    for _ in range(4):
        dx, dy, rr = rng.uniform(-0.7, 0.7) * r, rng.uniform(-0.4, 0.5) * r, rng.uniform(0.6, 1.0) * r
        c.ellipse(crown, x + dx * s * v.ax, y - (th + 0.7 * r + dy) * s, rr * s * v.ax, rr * s * rng.uniform(0.8, 1.1))


def draw_hedge(c: Canvas, v: View, X: float, Za: float, Zb: float, rng: np.random.Generator) -> None:
    pid = c.new("foliage", VEGETATION)
    side_rect(c, v, pid, X, Za, Zb, 0, rng.uniform(0.8, 1.8))


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
    """A traffic-light housing with a back plate and three lamps, its top at height Y.

    Drawn about 1.5x life size (0.6 x 1.5 m), as the 9-class scenes draw their objects: at
    stride 8 a true-to-size housing is a fraction of one output cell.
    """
    box, lamp = c.new("tl_box", LIGHT), c.new("tl_lamp", LIGHT)
    w, h = rng.uniform(0.55, 0.7), rng.uniform(1.4, 1.7)
    front_rect(c, v, box, X - 0.65 * w, X + 0.65 * w, Y - 1.05 * h, Y + 0.05 * h, Z + 0.02)  # back plate
    front_rect(c, v, box, X - w / 2, X + w / 2, Y - h, Y, Z)
    s = v.ppm(Z)
    on = rng.integers(3)
    x, _ = v.xy(X, 0, Z)
    for i in range(3):
        if i == on:
            _, y = v.xy(X, Y - h * (i + 0.5) / 3, Z)
            c.ellipse(lamp, x, y, 0.3 * w * s * v.ax, 0.3 * w * s)


def draw_pole(c: Canvas, v: View, X: float, Z: float, sh: Shapes, kind: str, side: int, rng: np.random.Generator) -> None:
    """A street lamp (``lamp``), a pole with one or two signs (``sign``) or with traffic lights (``light``)."""
    pole = c.new("pole", POLE)
    w = rng.uniform(0.22, 0.32) * sh.pole_w
    if kind == "lamp":
        h = rng.uniform(6.5, 9.0)
        front_rect(c, v, pole, X - w / 2, X + w / 2, 0, h, Z)
        arm = rng.uniform(1.0, 2.0) * -side
        front_rect(c, v, pole, min(X, X + arm), max(X, X + arm), h - 0.25, h, Z)
        return
    if kind == "sign":
        h = rng.uniform(2.6, 3.6)
        front_rect(c, v, pole, X - w / 2, X + w / 2, 0, h, Z)
        top = h
        for _ in range(1 + int(rng.random() < 0.35)):
            r = rng.uniform(0.35, 0.5)
            _sign_plate(c, v, X, top - r, Z - 0.05, r, rng)
            top -= 2.2 * r
        return
    h = rng.uniform(3.2, 4.2)
    front_rect(c, v, pole, X - w / 2, X + w / 2, 0, h, Z)
    _traffic_light(c, v, X, h + 1.0, Z - 0.05, rng)
    if rng.random() < 0.5:  # an arm over the road with a second light
        reach = rng.uniform(3.0, 5.0) * -side
        y_arm = h + rng.uniform(1.5, 2.5)
        front_rect(c, v, pole, X - w / 2, X + w / 2, h, y_arm + 0.2, Z)
        front_rect(c, v, pole, min(X, X + reach), max(X, X + reach), y_arm, y_arm + 0.2, Z)
        _traffic_light(c, v, X + reach, y_arm, Z - 0.05, rng)
    else:
        front_rect(c, v, pole, X - w / 2, X + w / 2, h, h + 1.0, Z)


def _box_vehicle(c: Canvas, v: View, X: float, Z: float, w: float, h: float, length: float, cls: int,
                 body_style: str, rng: np.random.Generator, windows: str = "none") -> None:
    """A box-shaped vehicle: the side face the camera sees (if any), then the rear face."""
    body, glass, wheel = c.new(body_style, cls), c.new("car_glass", cls), c.new("wheel", cls)
    Xl, Xr = X - w / 2, X + w / 2
    face = Xl if Xl > 0.3 else (Xr if Xr < -0.3 else None)
    if face is not None:
        side_rect(c, v, body, face, Z, Z + length, 0.35, h)
        for zw in (Z + 0.15 * length, Z + 0.85 * length):
            side_rect(c, v, wheel, face, zw - 0.45, zw + 0.45, 0.0, 0.7)
        if windows == "row":  # a bus's or tram's window band
            n = max(1, int(length / 2.0))
            for i in range(n):
                za = Z + 0.4 + i * (length - 0.8) / n
                side_rect(c, v, glass, face, za, za + 0.75 * (length - 0.8) / n, 0.55 * h, 0.88 * h)
        elif windows == "cab":  # a truck's cab at the front (far) end
            side_rect(c, v, glass, face, Z + length - 1.6, Z + length - 0.4, 0.62 * h, 0.85 * h)
    front_rect(c, v, body, Xl, Xr, 0.3, h, Z)
    front_rect(c, v, wheel, Xl + 0.1, Xl + 0.5, 0, 0.5, Z)
    front_rect(c, v, wheel, Xr - 0.5, Xr - 0.1, 0, 0.5, Z)
    if windows in ("row", "rear"):
        front_rect(c, v, glass, Xl + 0.2, Xr - 0.2, 0.55 * h, 0.9 * h, Z)


def draw_car(c: Canvas, v: View, X: float, Z: float, sh: Shapes, rng: np.random.Generator) -> None:
    """A car: body box (side face if visible), a narrower cabin with windows, wheels, tail lights."""
    body, glass, wheel, tail = (c.new("car_body", CAR), c.new("car_glass", CAR), c.new("wheel", CAR),
                                c.new("tail_light", CAR))
    w, h, length = rng.uniform(1.7, 2.0) * sh.car_w, rng.uniform(1.4, 1.65) * sh.car_h, rng.uniform(3.8, 4.8)
    Xl, Xr = X - w / 2, X + w / 2
    face = Xl if Xl > 0.3 else (Xr if Xr < -0.3 else None)
    if face is not None:
        side_rect(c, v, body, face, Z, Z + length, 0.3, 0.62 * h)
        side_rect(c, v, body, face, Z + 0.25 * length, Z + 0.8 * length, 0.6 * h, h)
        side_rect(c, v, glass, face, Z + 0.3 * length, Z + 0.75 * length, 0.66 * h, 0.94 * h)
        for zw in (Z + 0.18 * length, Z + 0.82 * length):
            side_rect(c, v, wheel, face, zw - 0.33, zw + 0.33, 0.0, 0.62)
    front_rect(c, v, wheel, Xl + 0.05, Xl + 0.4, 0, 0.45, Z)
    front_rect(c, v, wheel, Xr - 0.4, Xr - 0.05, 0, 0.45, Z)
    front_rect(c, v, body, Xl, Xr, 0.2, 0.62 * h, Z)
    front_rect(c, v, body, Xl + 0.1 * w, Xr - 0.1 * w, 0.6 * h, h, Z + 0.4)
    front_rect(c, v, glass, Xl + 0.16 * w, Xr - 0.16 * w, 0.66 * h, 0.94 * h, Z + 0.4)
    front_rect(c, v, tail, Xl + 0.02, Xl + 0.3, 0.45 * h, 0.55 * h, Z - 0.01)
    front_rect(c, v, tail, Xr - 0.3, Xr - 0.02, 0.45 * h, 0.55 * h, Z - 0.01)


def draw_truck(c: Canvas, v: View, X: float, Z: float, sh: Shapes, rng: np.random.Generator) -> None:
    _box_vehicle(c, v, X, Z, rng.uniform(2.3, 2.55), rng.uniform(3.0, 3.8), rng.uniform(6.5, 9.5) * sh.long,
                 TRUCK, "cargo", rng, windows="cab")


def draw_bus(c: Canvas, v: View, X: float, Z: float, sh: Shapes, rng: np.random.Generator) -> None:
    _box_vehicle(c, v, X, Z, rng.uniform(2.45, 2.55), rng.uniform(2.9, 3.3), rng.uniform(11.0, 13.0) * sh.long,
                 BUS, "bus_body", rng, windows="row")


def draw_tram(c: Canvas, v: View, X: float, Z: float, sh: Shapes, rng: np.random.Generator) -> None:
    _box_vehicle(c, v, X, Z, rng.uniform(2.3, 2.5), rng.uniform(3.2, 3.6), rng.uniform(18.0, 30.0) * sh.long,
                 TRAIN, "tram_body", rng, windows="row")


def draw_human(c: Canvas, v: View, X: float, Z: float, sh: Shapes, cls: int, rng: np.random.Generator,
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


def draw_two_wheeler(c: Canvas, v: View, X: float, Z: float, sh: Shapes, motor: bool, ridden: bool,
                 rng: np.random.Generator) -> None:
    """A bicycle or motorcycle in side view (seen obliquely: foreshortened), with or without a rider."""
    cls = MOTORCYCLE if motor else BICYCLE
    frame, tyre = c.new("car_body" if motor else "frame", cls), c.new("tyre", cls)
    s = v.ppm(Z)
    fore = rng.uniform(0.45, 1.0) * v.ax  # cosine of the viewing angle
    heading = rng.choice((-1, 1))
    r = (0.34 if motor else 0.36) * s
    base = (1.4 if motor else 1.1) * s * fore
    x, y = v.xy(X, 0, Z)
    xr, xf = x - heading * base / 2, x + heading * base / 2
    wy = y - r
    tw = (0.16 if motor else 0.1) * s * 1.5
    seat = (x - heading * 0.15 * base, y - (0.85 if motor else 0.92) * s)
    bar = (xf - heading * 0.1 * base, y - 1.05 * s)
    if motor:  # bulky: solid wheels, an engine block down between them, a tank and fairing up front
        for xw in (xr, xf):
            c.ellipse(tyre, xw, wy, r * (0.9 * fore + 0.1), r)  # foreshortened like the base
        c.polygon(frame, [(xr + heading * 0.15 * base, wy), (xr + heading * 0.3 * base, y - 0.2 * s),
                          (xf - heading * 0.3 * base, y - 0.2 * s), (xf - heading * 0.1 * base, wy),
                          (xf - heading * 0.02 * base, y - 1.15 * s), (x + heading * 0.1 * base, y - 1.0 * s), seat,
                          (xr - heading * 0.05 * base, y - 0.8 * s)])
        _line(c, frame, [(xf, wy), bar], 0.1 * s)
    else:
        _ring(c, tyre, xr, wy, r, tw)
        _ring(c, tyre, xf, wy, r, tw)
        fw = 0.08 * s * 1.5
        crank = (x, wy + 0.05 * s)
        _line(c, frame, [(xr, wy), crank, seat, (xr, wy)], fw)
        _line(c, frame, [crank, bar, (xf, wy)], fw)
        _line(c, frame, [seat, bar], fw)
    if ridden:
        draw_human(c, v, X - heading * 0.15 * base / (s * v.ax), Z - 0.05, sh, RIDER, rng,
               base=(0.85 if motor else 0.92), seated=True, heading=heading)
