"""The SynthStreets domain shift: a named strength for each way the target differs from the source.

:class:`SynthShift` is what :func:`~pfrlib.data.synthstreets.rendering.render` reads (the
appearance components) and :func:`~pfrlib.data.synthstreets.layout.draw_scene` reads (the
``layout`` component). Strength 0 everywhere is the source style, :meth:`SynthShift.full` the
default target style.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

__all__ = ["SynthShift", "SynthShift19"]


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
                raise ValueError(f"{type(self).__name__}.{f.name} must be a finite number >= 0 "
                                 f"(0 = source, 1 = default target), got {v!r}")

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
            raise ValueError(f"unknown {cls.__name__} component(s) {unknown}; expected some of {cls.components()}")
        return cls(**{n: (strength if n in names else 0.0) for n in cls.components()})

    def scaled(self, factor: float) -> "SynthShift":
        """Every strength multiplied by ``factor`` (0 = source style, 1 = unchanged)."""
        return type(self)(**{n: getattr(self, n) * factor for n in self.components()})

    def replace(self, **changes: float) -> "SynthShift":
        """A copy with some strengths changed, e.g. ``shift.replace(noise=0)``."""
        unknown = [n for n in changes if n not in self.components()]
        if unknown:
            raise ValueError(f"unknown {type(self).__name__} component(s) {unknown}; "
                             f"expected some of {self.components()}")
        return dataclasses.replace(self, **changes)

    def as_dict(self) -> dict[str, float]:
        return {n: float(getattr(self, n)) for n in self.components()}

    @classmethod
    def parse(cls, text: str) -> "SynthShift":
        """A shift from its text form (``DataConfig.synth_shift``, a run's folder name):
        ``"full"`` or ``"none"``, optionally followed by ``,component=strength`` items that change
        those components, e.g. ``"full,camera=0"`` (all but the camera) or ``"none,camera=1"``
        (only the camera).

        Raises:
            ValueError naming the text, the bad item and what was expected.
        """
        expected = (f"'full' or 'none', then optional ',component=strength' items (components: "
                    f"{', '.join(cls.components())}; strengths >= 0)")
        if not isinstance(text, str) or not text.strip():
            raise ValueError(f"shift {text!r}: expected {expected}")
        base, *items = [t.strip() for t in text.split(",")]
        if base not in ("full", "none"):
            raise ValueError(f"shift {text!r}: starts with {base!r}; expected {expected}")
        changes: dict[str, float] = {}
        for item in items:
            name, eq, value = item.partition("=")
            name = name.strip()
            try:
                strength = float(value)
            except ValueError:
                strength = math.nan
            if not eq or name not in cls.components() or not math.isfinite(strength) or strength < 0 or name in changes:
                raise ValueError(f"shift {text!r}: item {item!r}; expected {expected}, each component once")
            changes[name] = strength
        return (cls.full() if base == "full" else cls.none()).replace(**changes)

    def text(self) -> str:
        """The shortest :meth:`parse` form of this shift: from ``"full"`` or ``"none"``, whichever
        needs fewer changed components (``SynthShift19.only("camera").text() == "none,camera=1"``)."""
        forms = []
        for base, start in (("full", self.full()), ("none", self.none())):
            changed = [f"{n}={getattr(self, n):g}" for n in self.components() if getattr(self, n) != getattr(start, n)]
            forms.append(",".join([base, *changed]))
        return min(forms, key=lambda f: f.count(","))


@dataclass(frozen=True)
class SynthShift19(SynthShift):
    """The shift of SynthStreets-19: the appearance components above plus three that change the scene.

    The nine inherited components keep their meaning (appearance, as in the 9-class benchmark)
    except ``layout``, which here is only the ego-vehicle hood (Cityscapes' void "ego vehicle",
    4.6% of its pixels, labelled 255) in most target frames. The scene components stand for the
    parts of the GTA5 -> Cityscapes gap that no per-class colour map can remove:

    * ``class_prior``: how often each kind of object occurs. GTA5's streets have more vehicles
      (cars, trucks, buses), more terrain and sky (lower buildings), and fewer pedestrians,
      riders and bicycles than Cityscapes'; at 0 the scene's object counts are game-like, at 1
      Cityscapes-like (the target's pixel shares follow Cityscapes' published ones,
      ``pfrlib/reference/cityscapes_class_shares.csv``).
    * ``camera``: where the camera is and what it sees. GTA5 frames (1914 x 1052, a driving
      game's chase/hood camera) and Cityscapes frames (2048 x 1024, a windscreen rig) differ in
      camera height, pitch (the horizon's row), focal length (object scale) and aspect ratio
      (resizing a 1.82:1 frame to 2:1 stretches it horizontally by 1.1).
    * ``shape``: instance shape and size statistics. Game assets have their own proportions
      (lower, wider cars; taller, slimmer people; rounder tree crowns; chunkier poles; longer
      buses and trucks; larger window grids), so the same class has another silhouette.

    Every component interpolates linearly between the source's and the target's statistics
    (0 = source, 1 = default target; above 1 extrapolates, clipped to valid values).
    """

    class_prior: float = 1.0
    camera: float = 1.0
    shape: float = 1.0
