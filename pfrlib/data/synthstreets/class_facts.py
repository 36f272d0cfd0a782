"""What each class of a benchmark is like, counted from its label maps: pixel share and instance size.

Claim (b) of the paper (docs/protocol.md) says where PFR's gain comes from: the dominant classes,
not the less frequent objects. Reading a per-class difference against that needs two facts per
class, taken from the benchmark itself (never from a model's results):

* its **pixel share**: the share of the labelled pixels it covers (how frequent it is);
* its **mean instance size**: its pixels per connected component (4-connected) in the label
  maps, how large one piece of it is. A wall or a bus is one large piece, a pole or a sign many
  small ones.

:func:`connected_components` labels the pieces (a union-find over neighbouring pixels of the same
class, vectorised with numpy: scipy is not a dependency), :func:`label_class_facts` counts both
facts on label maps, and :func:`benchmark_class_facts` on a SynthStreets split (by default
SynthStreets-19's target test split, the one every reported number is scored on).
"""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np

from pfrlib.data.labels import CLASS_NAMES
from pfrlib.data.synthstreets.dataset import DEFAULT_CLASSES, SynthStreets

__all__ = ["FACTS_IMAGES", "connected_components", "label_class_facts", "benchmark_class_facts"]

#: Test images :func:`benchmark_class_facts` counts by default.
FACTS_IMAGES = 300


def connected_components(labels: np.ndarray, ignore_index: int = 255) -> np.ndarray:
    """The 4-connected pieces of each class in label maps.

    Two pixels are in one piece when a path of horizontally or vertically neighbouring pixels of
    their class joins them inside one map. Each round hooks, for every pair of neighbours of one
    class, the larger of their two pieces' roots to the smaller, then follows every pixel's
    pointer to its root; it stops when no pair joins two pieces (a few rounds: each one at least
    halves the pieces that still touch).

    Args:
        labels: (H, W) or (N, H, W) integer class ids; ``ignore_index`` pixels belong to no piece.

    Returns:
        int64 array of ``labels``' shape: per pixel, its piece's id (the flat index of the piece's
        first pixel in C order, unique across the maps), -1 for ignored pixels.
    """
    labels = np.asarray(labels)
    if labels.ndim not in (2, 3) or not np.issubdtype(labels.dtype, np.integer) or 0 in labels.shape:
        raise ValueError(f"labels: expected (H, W) or (N, H, W) integer class ids, got shape {labels.shape} "
                         f"of {labels.dtype}")
    flat = labels.reshape(-1)
    index = np.arange(flat.size).reshape(labels.shape)
    pairs = [(index[..., :, :-1], index[..., :, 1:]), (index[..., :-1, :], index[..., 1:, :])]
    a = np.concatenate([p[0].reshape(-1) for p in pairs])
    b = np.concatenate([p[1].reshape(-1) for p in pairs])
    same = (flat[a] == flat[b]) & (flat[a] != ignore_index)
    a, b = a[same], b[same]
    parent = np.arange(flat.size)  # parent[i] <= i always, so pointers never form a cycle
    while True:
        ra, rb = parent[a], parent[b]
        apart = ra != rb
        if not apart.any():
            break
        np.minimum.at(parent, np.maximum(ra, rb)[apart], np.minimum(ra, rb)[apart])
        while True:  # every pixel straight to its root
            nxt = parent[parent]
            if np.array_equal(nxt, parent):
                break
            parent = nxt
    return np.where(flat == ignore_index, -1, parent).reshape(labels.shape)


def label_class_facts(labels: np.ndarray, names: Sequence[str] = CLASS_NAMES, ignore_index: int = 255
                      ) -> dict[str, dict[str, Optional[float]]]:
    """Each class's pixel share and mean instance size in label maps.

    Args:
        labels: (H, W) or (N, H, W) class ids: 0..len(names) - 1 or ``ignore_index``.
        names: the class names, by id (default: the 19 Cityscapes classes in trainId order).
        ignore_index: the unlabelled value, left out of every count.

    Returns:
        ``{name: {"share": % of the labelled pixels, "pixels": its pixel count, "instances": its
        pieces (:func:`connected_components`), "mean_instance_px": pixels per piece, None for a
        class that never occurs}}`` in ``names``' order.
    """
    labels = np.asarray(labels)
    if labels.ndim not in (2, 3) or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels: expected (H, W) or (N, H, W) integer class ids, got shape {labels.shape} "
                         f"of {labels.dtype}")
    kept = labels[labels != ignore_index]
    if kept.size == 0:
        raise ValueError("labels: every pixel is ignore_index; nothing to count")
    if kept.min() < 0 or kept.max() >= len(names):
        raise ValueError(f"labels: expected class ids in 0..{len(names) - 1} or {ignore_index}, "
                         f"got values {kept.min()}..{kept.max()}")
    pieces = connected_components(labels, ignore_index)
    flat, roots = labels.reshape(-1), pieces.reshape(-1)
    pixels = np.bincount(kept.reshape(-1).astype(np.int64), minlength=len(names))
    is_root = roots == np.arange(roots.size)  # one pixel per piece: its root
    instances = np.bincount(flat[is_root].astype(np.int64), minlength=len(names))
    return {name: {"share": 100 * float(pixels[c]) / kept.size, "pixels": int(pixels[c]),
                   "instances": int(instances[c]),
                   "mean_instance_px": float(pixels[c] / instances[c]) if instances[c] else None}
            for c, name in enumerate(names)}


def benchmark_class_facts(images: int = FACTS_IMAGES, classes: int = DEFAULT_CLASSES,
                          size: Optional[tuple[int, int]] = None, seed: int = 0, domain: str = "target",
                          split: str = "test") -> dict[str, dict[str, Optional[float]]]:
    """:func:`label_class_facts` of the first ``images`` label maps of a SynthStreets split.

    Args:
        images: how many maps (default :data:`FACTS_IMAGES`).
        classes, size, seed: the benchmark (:class:`~pfrlib.data.synthstreets.dataset.SynthStreets`'
            ``classes``, ``size``, ``seed``; a results file's ``benchmark`` names them).
        domain, split: which maps (default: the target test split, where every number is scored).
    """
    if isinstance(images, bool) or not isinstance(images, (int, np.integer)) or images < 1:
        raise ValueError(f"images: expected a positive number of test images, got {images!r}")
    dataset = SynthStreets(domain, split, size=size, length=int(images), seed=seed, classes=classes)
    labels = np.stack([dataset.render(i)[1] for i in range(len(dataset))])
    return label_class_facts(labels)
