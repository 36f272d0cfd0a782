"""The SynthStreets dataset: item ``i`` of a domain and split, drawn and rendered on the fly.

Item ``i`` depends only on ``(seed, domain, split, i)`` (and, for SynthStreets-19, the class
count) through a numpy ``SeedSequence`` that spawns two streams, one for the layout
(:func:`.layout.draw_scene`, :func:`.layout19.draw_scene19`) and one for the appearance
(:func:`.rendering.render`); never on worker count or access order. The splits ``train``,
``val`` and ``test`` are separate entropy words of that sequence, so three disjoint scene
streams. ``cache_dir`` keeps every rendered item of a dataset in one ``.npz`` keyed by the
parameters that change the pixels.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Callable, Optional

import numpy as np
import torch

from pfrlib.data.labels import NUM_CLASSES
from pfrlib.data.transforms import to_item
from pfrlib.data.synthstreets.layout import SYNTH_CLASS_IDS, draw_scene
from pfrlib.data.synthstreets.layout19 import SYNTH19_CLASS_IDS, draw_scene19
from pfrlib.data.synthstreets.rendering import render
from pfrlib.data.synthstreets.shift import SynthShift, SynthShift19

__all__ = ["SynthStreets", "SYNTH_VERSIONS", "DEFAULT_CLASSES", "BENCHMARK_NAMES", "CLASS_IDS", "DEFAULT_SIZE", "SHIFT_TYPES"]

_DOMAINS = {"source": 1, "target": 2}
_SPLITS = {"train": 0, "val": 1, "test": 2}
_DEFAULT_LENGTH = {"train": 4000, "val": 500, "test": 500}
#: The two benchmarks by class count: 9 (the original SynthStreets) or 19 (SynthStreets-19).
SYNTH_VERSIONS: tuple[int, ...] = (9, 19)
#: The default benchmark: SynthStreets-19 (the 9-class SynthStreets stays an option).
DEFAULT_CLASSES: int = 19
#: Each benchmark's name, for titles and captions.
BENCHMARK_NAMES: dict[int, str] = {9: "SynthStreets", 19: "SynthStreets-19"}
#: The trainIds each benchmark draws.
CLASS_IDS: dict[int, tuple[int, ...]] = {9: SYNTH_CLASS_IDS, 19: SYNTH19_CLASS_IDS}
#: Default image size (H, W) of either benchmark: the course's size, where a lesson's run takes a
#: minute or two on one core. SynthStreets-19's thinnest classes (pole, traffic light, sign,
#: motorcycle) are one or two pixels wide there; at 128 x 256 every class is learnable to 20 IoU
#: (docs/datasets.md, "Learnable at the benchmark's size").
DEFAULT_SIZE: tuple[int, int] = (64, 128)
#: The shift of each benchmark: SynthStreets-19's adds the scene components (class prior, camera, shape).
SHIFT_TYPES: dict[int, type[SynthShift]] = {9: SynthShift, 19: SynthShift19}


class SynthStreets(torch.utils.data.Dataset):
    """Procedural two-domain street scenes with Cityscapes trainId labels.

    Args:
        domain: ``"source"`` (game-like) or ``"target"`` (real-like). Selects the random
            stream of scenes and the default shift (none for source, :meth:`SynthShift.full`
            for target).
        split: ``"train"``, ``"val"`` or ``"test"``; disjoint random streams. In adaptation the
            target ``train`` split is the unlabelled target data, ``val`` is for tuning and
            checkpoint choice, ``test`` only for reported numbers.
        size: ``(H, W)``; default :data:`DEFAULT_SIZE` (64 x 128).
        length: number of items (default 4000 for train, 500 for val and test). Any length
            gives the same first items: item ``i`` depends only on ``(seed, domain, split, i)``.
        seed: base seed of the scene streams (the benchmark's data seed; configs set it with
            ``DataConfig.synth_seed``).
        shift: a :class:`SynthShift` (for 19 classes a :class:`SynthShift19`) to render with
            instead of the domain's default (e.g. target scenes with only one component on).
        transform: callable ``(image, label) -> anything`` applied to each item.
        cache_dir: if given, all items are rendered once into
            ``cache_dir/synthstreets-<hash>.npz`` (hash of every parameter that changes the
            pixels) and read back from there afterwards.
        keep_in_memory: keep each item after its first rendering (uint8, about 33 KB at
            64 x 128), so reading it again costs no rendering: a run's second pass over its
            training set and every validation after the first. The items are the same either
            way; it trades memory (about 130 MB for 4000 items) for time.
        classes: 19 (SynthStreets-19, the default: all Cityscapes classes with their long tail,
            and a shift that also changes class frequencies, camera and shapes) or 9 (the
            original SynthStreets: road, sidewalk, building, pole, sign, vegetation, sky,
            person, car; a shift of appearance and a few more cars and people).

    Items (no transform): ``(image, label)``, image a uint8 tensor 3 x H x W (RGB), label an
    int64 tensor H x W of trainIds (255 = ignore).
    """

    num_classes: int = NUM_CLASSES
    #: The trainIds the benchmark draws (mIoU averages over these): the default benchmark's on the
    #: class, the chosen one's on an instance.
    class_ids: tuple[int, ...] = CLASS_IDS[DEFAULT_CLASSES]
    has_labels: bool = True

    def __init__(
        self,
        domain: str = "source",
        split: str = "train",
        size: Optional[tuple[int, int]] = None,
        length: Optional[int] = None,
        seed: int = 0,
        shift: Optional[SynthShift] = None,
        transform: Optional[Callable] = None,
        cache_dir: Optional[str | os.PathLike] = None,
        classes: int = DEFAULT_CLASSES,
        keep_in_memory: bool = False,
    ) -> None:
        if classes not in SYNTH_VERSIONS or isinstance(classes, bool):
            raise ValueError(f"SynthStreets classes must be one of {SYNTH_VERSIONS}, got {classes!r}")
        if size is None:
            size = DEFAULT_SIZE
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
        shift_type = SHIFT_TYPES[classes]
        if shift is None:
            shift = shift_type.none() if domain == "source" else shift_type.full()
        if type(shift) is not shift_type:
            raise TypeError(f"shift must be a {shift_type.__name__} for classes={classes}, got "
                            f"{type(shift).__name__}")
        self.domain, self.split, self.size, self.length = domain, split, (h, w), int(length)
        self.seed, self.shift, self.transform, self.classes = int(seed), shift, transform, classes
        self.class_ids = CLASS_IDS[classes]
        self.name = f"synth:{domain}:{split}" if classes == 9 else f"synth19:{domain}:{split}"
        self.cache_path: Optional[Path] = None
        self._cache: Optional[tuple[np.ndarray, np.ndarray]] = None
        self._kept: Optional[dict[int, tuple[np.ndarray, np.ndarray]]] = {} if keep_in_memory else None
        if cache_dir is not None:
            self.cache_path = Path(cache_dir) / f"synthstreets-{self.cache_key()}.npz"
            self._cache = self._load_or_build_cache(self.cache_path)

    def __len__(self) -> int:
        return self.length

    def __repr__(self) -> str:
        return (f"SynthStreets(domain={self.domain!r}, split={self.split!r}, size={self.size}, "
                f"length={self.length}, seed={self.seed}, classes={self.classes}, shift={self.shift})")

    def cache_key(self) -> str:
        """Hash of every parameter that changes the rendered items (16 hex digits)."""
        params = dict(version=1, domain=self.domain, split=self.split, size=self.size,
                      length=self.length, seed=self.seed, shift=self.shift.as_dict())
        if self.classes != 9:  # (the 9-class key stays what it was: existing caches stay valid)
            params["classes"] = self.classes
        return hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()[:16]

    def render(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """Draw item ``index``: (uint8 H x W x 3 RGB image, uint8 H x W trainId label)."""
        if not 0 <= index < self.length:
            raise IndexError(f"index {index} out of range for SynthStreets of length {self.length}")
        words = [self.seed, _DOMAINS[self.domain], _SPLITS[self.split], int(index)]
        if self.classes == 19:
            words.append(19)  # SynthStreets-19's scenes: streams of their own
        layout_seed, style_seed = np.random.SeedSequence(words).spawn(2)  # layout, appearance
        rng = np.random.default_rng(layout_seed)
        if self.classes == 19:
            sh = self.shift
            canvas = draw_scene19(rng, *self.size, class_prior=sh.class_prior, camera=sh.camera, shape=sh.shape,
                                  layout=sh.layout)
        else:
            canvas = draw_scene(rng, *self.size, layout=self.shift.layout)
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
        elif self._kept is not None:
            if index not in self._kept:
                self._kept[index] = self.render(index)
            image, label = self._kept[index]
        else:
            image, label = self.render(index)
        return to_item(image, label, self.transform)
