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
(``pfrlib/reference/cityscapes_class_shares.csv``; checked by ``tests/test_synthstreets19.py``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Callable

import numpy as np

from pfrlib.data.labels import IGNORE_INDEX, NUM_CLASSES
from pfrlib.data.synthstreets.layout import Canvas
from pfrlib.data.synthstreets.things19 import (BUILDING, FENCE, PERSON, ROAD, SIDEWALK, SKY, TERRAIN, WALL, Camera, Shapes, View, draw_bus,
                       draw_car, draw_hedge, draw_human, draw_pole, draw_tram, draw_tree, draw_truck, draw_two_wheeler,
                       front_rect, front_windows, ground_rect, side_rect, side_windows)

__all__ = ["SYNTH19_CLASS_IDS", "Camera", "Prior", "Shapes", "View", "draw_scene19",
           "SOURCE_CAMERA", "TARGET_CAMERA", "SOURCE_PRIOR", "TARGET_PRIOR", "SOURCE_SHAPES", "TARGET_SHAPES"]

#: The trainIds a SynthStreets-19 label can contain: all 19 Cityscapes evaluation classes.
SYNTH19_CLASS_IDS: tuple[int, ...] = tuple(range(NUM_CLASSES))


def _lerp(a, b, t: float):
    """Field-wise linear interpolation of two dataclasses of floats (t = 0: a, 1: b)."""
    return type(a)(*[x + t * (y - x) for x, y in zip(dataclasses.astuple(a), dataclasses.astuple(b))])


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


#: Cameras: Cityscapes' windscreen rig (low, pitched down a little, long focal length) and a game's
#: (higher, horizon lower in the frame, wider field of view, a 1.82:1 frame stretched to 2:1).
TARGET_CAMERA = Camera(horizon=0.42, height=1.25, focal=2.0, aspect=1.0)
SOURCE_CAMERA = Camera(horizon=0.50, height=1.7, focal=1.5, aspect=1.1)

#: Frequencies: the target's are calibrated so that its pixel shares follow Cityscapes' published
#: ones (``tests/test_synthstreets19.py``); the source's are game-like (more vehicles, terrain and sky).
TARGET_PRIOR = Prior(cars=1.6, people=4.5, trees=6.5, lamps=1.8, signs=1.5, lights=1.0, bicycles=1.8,
                     cyclists=0.28, motorcyclists=0.15, trucks=0.035, buses=0.03, tram=0.03,
                     wall=0.14, fence=0.16, terrain=0.6, hedge=0.6, building_min=9.0, building_max=24.0)
SOURCE_PRIOR = Prior(cars=4.5, people=1.0, trees=2.6, lamps=1.6, signs=1.2, lights=0.5, bicycles=0.2,
                     cyclists=0.1, motorcyclists=0.12, trucks=0.3, buses=0.12, tram=0.03,
                     wall=0.3, fence=0.35, terrain=0.9, hedge=0.3, building_min=5.0, building_max=16.0)

#: Proportions: the target's are the reference (1); the source's are those of game assets.
TARGET_SHAPES = Shapes(car_w=1.0, car_h=1.0, person_w=1.0, person_h=1.0, crown=1.0, pole_w=1.0, long=1.0, window=1.0)
SOURCE_SHAPES = Shapes(car_w=1.1, car_h=0.85, person_w=0.8, person_h=1.1, crown=0.75, pole_w=1.5, long=1.25,
                       window=1.4)


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
    ground_rect(c, v, road, left, right, zn, 400.0)
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
                ground_rect(c, v, ter, X, X + side * wv, za, zb)
            else:  # a lawn in front of the buildings
                Xo = X + side * walk_w[side]
                ground_rect(c, v, ter, Xo, Xo + side * wv, za, zb)
                walk_w[side] += wv
        outer[side] = X + side * walk_w[side]
    lx = 0.5 * (left + right) + (u[19] - 0.5)
    dash, gap, lw = 2.0 + 2.0 * u[20], 3.0 + 4.0 * u[21], 0.12 + 0.06 * u[22]
    tram = u[23] < pr.tram
    if tram:  # rails (part of the road, as in Cityscapes) along the middle of the street
        rail = c.new("rail", ROAD)
        for dx in (-0.72, 0.72):
            ground_rect(c, v, rail, lx + dx - 0.05, lx + dx + 0.05, zn, 400.0)
    else:
        z = zn + u[24] * (dash + gap)
        while z < 80:
            ground_rect(c, v, lane, lx - lw, lx + lw, z, z + dash)
            z += dash + gap

    # Buildings: a row along each side and (usually) one across the far end.
    win_size = sh.window
    bmin, bmax = min(pr.building_min, pr.building_max), max(pr.building_min, pr.building_max)
    if u[25] < 0.85:
        xa = outer[-1] - 8 * u[26]
        while xa < outer[1] + 8:
            wb, hb = rng.uniform(6, 14), rng.uniform(bmin, bmax)
            b, win = c.new("building", BUILDING), c.new("window", BUILDING)
            front_rect(c, v, b, xa, xa + wb, 0, hb, z_far)
            front_windows(c, v, win, xa, xa + wb, z_far, hb, win_size, rng)
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
            side_rect(c, v, b, X, z, z1, 0, hb)
            side_windows(c, v, win, X, z, z1, hb, win_size, rng)
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
            if kind == "wall":  # free-standing, on the sidewalk in front of the buildings
                Xw = edge[side] + side * rng.uniform(1.0, max(1.1, walk_w[side] - 0.5))
                hw = hgt + rng.uniform(0.0, 1.0)
                side_rect(c, v, c.new("wall", WALL), Xw, za, zb, 0, hw)
                side_rect(c, v, c.new("wall_cap", WALL), Xw, za, zb, hw - 0.2, hw)
            elif kind == "hedge":
                draw_hedge(c, v, X, za, zb, rng)
            else:
                # a fence: a mesh panel with posts and a top rail (all 'fence', as in Cityscapes)
                f, post = c.new("fence", FENCE), c.new("fence_post", FENCE)
                Xf = edge[side] + side * 0.4 if rng.random() < 0.5 else X
                hgt = min(hgt, 1.8)
                side_rect(c, v, f, Xf, za, zb, 0.05, hgt)
                side_rect(c, v, post, Xf, za, zb, hgt - 0.15, hgt)
                step = rng.uniform(1.5, 2.5)
                for zp in np.arange(za, zb, step).tolist():
                    side_rect(c, v, post, Xf, zp, zp + 0.15, 0, hgt)

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
        add(depth(near_z(), 45.0), X, lambda X, Z: draw_tree(c, v, X, Z, sh, rng))
    for kind, n in (("lamp", pr.lamps), ("sign", pr.signs), ("light", pr.lights)):
        for _ in range(rng.poisson(n)):
            side = rng.choice((-1, 1))
            X = edge[side] + side * rng.uniform(0.3, 0.8)
            add(depth(near_z(), 40.0), X, lambda X, Z, kind=kind, side=side: draw_pole(c, v, X, Z, sh, kind, side, rng))
    for _ in range(rng.poisson(pr.cars)):
        X = rng.uniform(left + 1.1, right - 1.1)
        add(depth(near_z() + 1.0, 45.0), X, lambda X, Z: draw_car(c, v, X, Z, sh, rng))
    for kind, n, fn in (("truck", pr.trucks, draw_truck), ("bus", pr.buses, draw_bus)):
        for _ in range(rng.poisson(n)):
            X = rng.uniform(left + 1.4, right - 1.4)
            add(depth(near_z() + 2.0, 35.0), X, lambda X, Z, fn=fn: fn(c, v, X, Z, sh, rng))
    if tram:
        add(depth(near_z() + 3.0, 30.0), lx, lambda X, Z: draw_tram(c, v, X, Z, sh, rng))
    for _ in range(rng.poisson(pr.people)):
        side = rng.choice((-1, 1))
        if rng.random() < 0.15:  # crossing the road
            X = rng.uniform(left + 0.5, right - 0.5)
        else:
            X = edge[side] + side * rng.uniform(0.4, max(0.5, walk_w[side] - 0.3))
        add(depth(near_z(), 35.0), X, lambda X, Z: draw_human(c, v, X, Z, sh, PERSON, rng))
    for _ in range(rng.poisson(pr.bicycles)):  # parked bicycles on the sidewalk, often in a row
        side = rng.choice((-1, 1))
        X = edge[side] + side * rng.uniform(0.5, max(0.6, walk_w[side] - 0.5))
        Z0 = depth(near_z(), 30.0)
        for j in range(1 + rng.poisson(1.0)):
            add(Z0 + 0.7 * j, X, lambda X, Z: draw_two_wheeler(c, v, X, Z, sh, False, False, rng))
    for motor, n in ((False, pr.cyclists), (True, pr.motorcyclists)):
        for _ in range(rng.poisson(n)):
            side = rng.choice((-1, 1))
            X = edge[side] - side * rng.uniform(0.6, 1.6)
            add(depth(near_z() + 0.5, 35.0), X,
                lambda X, Z, motor=motor: draw_two_wheeler(c, v, X, Z, sh, motor, True, rng))
    objects.sort(key=lambda o: -o[0])
    for Z, fn, X in objects:
        fn(X, Z)

    # The ego-vehicle hood (Cityscapes labels it void: 255) in some frames.
    if u[30] < layout * 0.8:
        hood = c.new("hood", IGNORE_INDEX)
        hh = (0.08 + 0.08 * u[31]) * H
        c.ellipse(hood, W * (0.45 + 0.1 * u[32]), H + 0.4 * hh, 0.85 * W, 1.4 * hh)
    return c
