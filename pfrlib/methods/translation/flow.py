"""DLOW's domain flow, measured: how far a translated image set lies from the source and the target.

DLOW (Gong et al., CVPR 2019) asks ``G(x_s, z)`` to land in an intermediate domain ``M(z)`` whose
distance to the source grows with ``z`` and whose distance to the target shrinks. These functions
measure that on image sets (uint8 ``N x 3 x H x W``), with two statistics of a set:

* ``colour``: the mean RGB of its pixels (3 numbers, 0-255);
* ``gram``: the mean over its images of the Gram matrix (:func:`pfrlib.paper.losses.gram_matrix`,
  normalised by ``H W``) of nine feature channels: the RGB values in ``[0, 1]`` and their
  horizontal and vertical differences. It records which colours and which edges occur together
  (texture, contrast, and a checkerboard's alternating pixels), not where.

:func:`set_distances` gives the distance between two sets' statistics (Euclidean for the
colours, Frobenius for the Gram matrices, times :data:`GRAM_SCALE`), :func:`flow_table` one row
per ``z`` of a translated set's distances to the source and to the target sets, and
:func:`flow_monotone` whether the flow moves the right way: the distance to the target non-increasing in ``z`` and the distance to the
source non-decreasing. A flow can be monotone and still stay on one side (every ``z`` target-like,
moving a little): :func:`flow_ends` says whether its first ``z`` lies nearer the source than the
target, and its last nearer the target than the source.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import torch
from torch import Tensor

from pfrlib.paper.losses import gram_matrix

__all__ = ["STATISTICS", "GRAM_SCALE", "set_statistics", "set_distances", "flow_table", "is_monotone",
           "flow_monotone", "flow_ends"]

#: The statistics of a set, in the order the tables show them.
STATISTICS: tuple[str, ...] = ("colour", "gram")
#: :func:`set_distances` gives the Gram distance times this (the Frobenius norm of a difference of
#: Gram matrices of values in [0, 1] is a small fraction; scaled, it reads at one decimal).
GRAM_SCALE = 1000


def _check_images(images: Tensor, name: str) -> None:
    if images.dtype != torch.uint8 or images.dim() != 4 or images.shape[1] != 3 or images.shape[0] == 0:
        raise ValueError(f"{name}: expected uint8 images N x 3 x H x W with N >= 1, "
                         f"got {images.dtype} of shape {tuple(images.shape)}")


def _features(images: Tensor) -> Tensor:
    """``N x 9 x (H-1) x (W-1)``: RGB in [0, 1], then its horizontal and vertical differences."""
    x = images.float() / 255.0
    rgb = x[:, :, :-1, :-1]
    dx = x[:, :, :-1, 1:] - rgb
    dy = x[:, :, 1:, :-1] - rgb
    return torch.cat([rgb, dx, dy], dim=1)


@torch.no_grad()
def set_statistics(images: Tensor, batch_size: int = 64) -> dict[str, Tensor]:
    """The statistics of an image set (module docstring): ``{"colour": (3,), "gram": (9, 9)}``.

    ``images``: uint8 ``N x 3 x H x W`` (``H, W >= 2``); computed in batches of ``batch_size``.
    """
    _check_images(images, "images")
    colour = torch.zeros(3, dtype=torch.float64)
    gram = torch.zeros(9, 9, dtype=torch.float64)
    for start in range(0, images.shape[0], batch_size):
        batch = images[start:start + batch_size]
        colour += batch.double().mean(dim=(2, 3)).sum(0)
        gram += gram_matrix(_features(batch), normalize="hw").double().sum(0)
    n = images.shape[0]
    return {"colour": colour / n, "gram": gram / n}


def set_distances(a: Mapping[str, Tensor], b: Mapping[str, Tensor]) -> dict[str, float]:
    """How far two sets' statistics (:func:`set_statistics`) lie apart: ``{"colour": Euclidean
    distance of the mean colours (0-255 units), "gram": Frobenius norm of the Gram difference
    times GRAM_SCALE}``."""
    return {"colour": float((a["colour"] - b["colour"]).norm()),
            "gram": GRAM_SCALE * float((a["gram"] - b["gram"]).norm())}


@torch.no_grad()
def flow_table(translated: Mapping[float, Tensor], source: Tensor, target: Tensor) -> list[dict[str, float]]:
    """One row per ``z`` (ascending): the translated set's distances to the source set's and to
    the target set's statistics, and its mean absolute pixel difference (0-255) to the source
    images it was translated from.

    Args:
        translated: ``{z: uint8 N x 3 x H x W}``, the source images translated at each ``z``.
        source: the same ``N`` source images, uint8, as translated.
        target: target images (any number), uint8.

    Returns:
        rows ``{"z", "colour_to_source", "colour_to_target", "gram_to_source", "gram_to_target",
        "pixels_to_own_source"}``.
    """
    _check_images(source, "source")
    _check_images(target, "target")
    if not translated:
        raise ValueError("translated: expected at least one domainness value z")
    src, tgt = set_statistics(source), set_statistics(target)
    rows = []
    for z in sorted(translated):
        images = translated[z]
        _check_images(images, f"translated[{z}]")
        if images.shape != source.shape:
            raise ValueError(f"translated[{z}]: expected the shape of the source images {tuple(source.shape)}, "
                             f"got {tuple(images.shape)}")
        stats = set_statistics(images)
        to_s, to_t = set_distances(stats, src), set_distances(stats, tgt)
        rows.append({"z": float(z), **{f"{k}_to_source": to_s[k] for k in STATISTICS},
                     **{f"{k}_to_target": to_t[k] for k in STATISTICS},
                     "pixels_to_own_source": float((images.float() - source.float()).abs().mean())})
    return rows


def is_monotone(values: Sequence[float], direction: str) -> bool:
    """Whether ``values`` never go up (``"non_increasing"``) or never go down (``"non_decreasing"``)."""
    if direction not in ("non_increasing", "non_decreasing"):
        raise ValueError(f"direction: expected 'non_increasing' or 'non_decreasing', got {direction!r}")
    pairs = list(zip(values, values[1:]))
    if direction == "non_increasing":
        return all(b <= a for a, b in pairs)
    return all(b >= a for a, b in pairs)


def flow_monotone(rows: Sequence[Mapping[str, float]], statistic: str) -> dict[str, bool]:
    """Whether the flow of :func:`flow_table`'s ``rows`` (ascending ``z``) is monotone in ``statistic``
    (one of :data:`STATISTICS`): ``{"to_target_non_increasing", "to_source_non_decreasing",
    "monotone"}`` (``monotone``: both)."""
    if statistic not in STATISTICS:
        raise ValueError(f"statistic: expected one of {STATISTICS}, got {statistic!r}")
    zs = [r["z"] for r in rows]
    if zs != sorted(zs):
        raise ValueError(f"rows: expected ascending z, got {zs}")
    to_target = is_monotone([r[f"{statistic}_to_target"] for r in rows], "non_increasing")
    to_source = is_monotone([r[f"{statistic}_to_source"] for r in rows], "non_decreasing")
    return {"to_target_non_increasing": to_target, "to_source_non_decreasing": to_source,
            "monotone": to_target and to_source}


def flow_ends(rows: Sequence[Mapping[str, float]], statistic: str) -> dict[str, bool]:
    """Whether the flow of :func:`flow_table`'s ``rows`` (ascending ``z``) starts on the source's side
    and ends on the target's, in ``statistic``: ``{"first_nearer_source", "last_nearer_target"}``."""
    if statistic not in STATISTICS:
        raise ValueError(f"statistic: expected one of {STATISTICS}, got {statistic!r}")
    if not rows:
        raise ValueError("rows: expected at least one row")
    first, last = rows[0], rows[-1]
    return {"first_nearer_source": first[f"{statistic}_to_source"] < first[f"{statistic}_to_target"],
            "last_nearer_target": last[f"{statistic}_to_target"] < last[f"{statistic}_to_source"]}
