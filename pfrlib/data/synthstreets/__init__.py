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
built coarse: objects are drawn larger than life (``layout.Street.THING_SCALE``) and not too far
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

SynthStreets-19 (``SynthStreets(..., classes=19)``, ``DataConfig.synth_classes = 19``) draws all
19 Cityscapes classes with Cityscapes' long tail through a pinhole camera
(:func:`draw_scene19`), and its shift (:class:`SynthShift19`) adds three scene components to the
appearance ones: ``class_prior`` (object frequencies), ``camera`` (horizon, height, focal
length, aspect ratio) and ``shape`` (instance proportions). Its default size is 128 x 256.
Every split (``train``, ``val``, ``test``) of either benchmark is its own scene stream.

The package, one module per idea:

* :mod:`.shift` - :class:`SynthShift`, the named components of the domain shift.
* :mod:`.styles` - the source and target palettes of every kind of part.
* :mod:`.layout` - :func:`draw_scene`: a street sampled and drawn as a canvas of part ids.
* :mod:`.rendering` - :func:`render`: a canvas in the style a shift sets.
* :mod:`.layout19`, :mod:`.things19` - :func:`draw_scene19`: a SynthStreets-19 street, and the
  camera and object drawers it uses.
* :mod:`.shares` - per-class pixel shares against Cityscapes' published ones.
* :mod:`.dataset` - :class:`SynthStreets`, the ``torch`` dataset over seeded items.
"""

from __future__ import annotations


__all__ = []
