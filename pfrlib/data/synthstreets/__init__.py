"""SynthStreets: procedural street scenes in two domains, the embedded benchmark.

Why it exists: the paper adapts GTA5 (a game) to Cityscapes (real photographs). Neither can be
downloaded in a classroom, so SynthStreets draws a miniature version of the same problem on the
fly: street scenes with Cityscapes trainId labels, in a *source* domain (game-like: flat,
saturated colours, sharp edges, game-like object frequencies, camera and proportions) and a
*target* domain (Cityscapes-like: a different, desaturated palette, textures, uneven light,
colour casts, blur and sensor noise, and the real frequencies, camera and proportions).

Two benchmarks, chosen by class count (``SynthStreets(..., classes=...)``,
``DataConfig.synth_classes``):

* **SynthStreets-19** (the default) draws all 19 Cityscapes classes with Cityscapes' long tail
  through a pinhole camera (:func:`draw_scene19`). Its shift (:class:`SynthShift19`) adds three
  scene components to the appearance ones: ``class_prior`` (object frequencies), ``camera``
  (horizon, height, focal length, aspect ratio) and ``shape`` (instance proportions).
* **SynthStreets** (``classes=9``) draws road, sidewalk, building, pole, traffic sign,
  vegetation, sky, person and car (trainIds 0, 1, 2, 5, 7, 8, 10, 11, 13,
  :data:`SYNTH_CLASS_IDS`), nearly flat in frequency, with objects drawn larger than life
  (``layout.Street.THING_SCALE``); its shift is appearance plus a mild ``layout`` component.

255 (ignore) marks the ego-vehicle hood that some target frames show, as in Cityscapes.

How a scene is made:

1. A *layout* is sampled from one random stream: horizon and vanishing point, a perspective
   road with lane marks, sidewalks, facades, vegetation, poles with lamps, lights and signs,
   vehicles and people, placed on the ground plane and scaled with depth.
2. Every drawn part gets a *part id* on an 8-bit canvas (PIL polygons, no per-pixel Python).
   Each id carries its trainId, a texture kind, and two colours: one from the source style and
   one from the target style, both from the same random draw (a brighter source part is a
   brighter target part). The label and the flat image are table look-ups.
3. The domain shift is applied on top, each component with a strength knob (0 = source,
   1 = target): palette, texture, illumination, vignette, white balance, exposure, blur, noise
   and layout, and for SynthStreets-19 the scene components above. Source colours are saturated,
   so a source-only model can take a *hue* shortcut; the target keeps each class's relative
   brightness but loses the hue, and also differs in what is where and how large.

Scale: both benchmarks default to 64 x 128 (:data:`DEFAULT_SIZE`), the course's size. A
stride-8 network predicts an 8 x 16 grid there, so SynthStreets-19's thinnest classes (pole,
traffic light, sign, motorcycle: one or two pixels wide) stay hard for any model; at 128 x 256
every class is learnable (``docs/datasets.md``).

Determinism: item ``i`` depends only on ``(seed, domain, split, i)`` (a numpy ``SeedSequence``),
never on worker count or access order. Every split (``train``, ``val``, ``test``) is its own
scene stream.

The package, one module per idea:

* :mod:`.shift` - :class:`SynthShift`, the named components of the domain shift.
* :mod:`.styles` - the source and target palettes of every kind of part.
* :mod:`.layout` - :func:`draw_scene`: a street sampled and drawn as a canvas of part ids.
* :mod:`.rendering` - :func:`render`: a canvas in the style a shift sets.
* :mod:`.layout19`, :mod:`.things19` - :func:`draw_scene19`: a SynthStreets-19 street, and the
  camera and object drawers it uses.
* :mod:`.shares` - per-class pixel shares against Cityscapes' published ones.
* :mod:`.dataset` - :class:`SynthStreets`, the ``torch`` dataset over seeded items.
* :mod:`.class_facts` - each class's pixel share and mean instance size (connected pieces) on a
  split: what claim (b)'s per-class differences are read against.
"""

from __future__ import annotations


__all__ = []
