"""Histogram matching, ``--method hist_match``: the cheapest pixel-space alignment, a sanity row.

Each source image of a training batch has each RGB channel's histogram matched to the target
training image at the same place in the iteration's target batch (FDA's pairing,
:mod:`pfrlib.methods.beyond.fda`), then the network trains on it with the source labels by
Eq. (1), as ``source_only`` does. No network, no parameter, no loss term of its own, nothing to
tune: it removes the per-channel colour statistics of the shift (each channel's value
distribution becomes the target image's) and nothing else. Spatial structure, texture, blur,
noise, the layout and the scene (class prior, camera, shape) are untouched, and the three
channels are matched one at a time, so the joint colour distribution is not matched either.

It stands in the per-component grid (``sweeps/components.yaml``; docs/results.md, "Which
shift each family closes") as the floor of the input-space methods: a translation row that
closes no more of a component's gap than this closes nothing a per-channel colour map could not.

**The mapping** (:func:`match_histograms`), per image and channel: a source value ``v`` whose
cumulative count is ``c = #{source pixels <= v}`` (of ``n``) becomes the reference's value of rank
``ceil(c m / n) - 1`` (0-based, among its ``m`` sorted values): the reference's quantile function
at the source value's quantile ``c / n``. Equal source values get one value (a flat region stays
flat); where source and reference have one size and the source's values are distinct, the
output's values are exactly the reference's, permuted. Every output value is one of the
reference's, so no value is invented. The target batch is not forwarded through the network
(:attr:`HistMatch.forwards_target`): its images are only read for their histograms, and a train-mode
forward would also move the normalisation statistics toward the target, which is another method.
"""

from __future__ import annotations

import torch
from torch import Tensor

from pfrlib.paper.step import Baseline, BaselineInputs, BaselineTerms

__all__ = ["match_histograms", "HistMatch"]


def match_histograms(src: Tensor, ref: Tensor) -> Tensor:
    """Each channel of each ``src`` image with the value distribution of the same channel of the
    ``ref`` image at the same batch position (module docstring: the rank mapping).

    Args:
        src: B x C x H x W images (any scale: the run loop passes 0..255, uint8 or float).
        ref: B x C x H' x W' images of the same B and C (any size: quantiles, not pixels, are paired).

    Returns:
        B x C x H x W float32: every value is one of ``ref``'s values of that image and channel.
    """
    if src.dim() != 4 or ref.dim() != 4 or src.shape[:2] != ref.shape[:2]:
        raise ValueError(f"src, ref: expected two B x C x H x W batches of one B and C, got {tuple(src.shape)} "
                         f"and {tuple(ref.shape)}")
    b, c, h, w = src.shape
    x = src.float().reshape(b * c, h * w)
    y = ref.float().reshape(b * c, -1)
    n, m = x.shape[1], y.shape[1]
    sorted_src = x.sort(dim=1).values.contiguous()
    sorted_ref = y.sort(dim=1).values
    counts = torch.searchsorted(sorted_src, x.contiguous(), right=True)  # c = #{source <= v}, 1..n
    rank = (counts * m + n - 1) // n - 1  # ceil(c m / n) - 1, in 0..m-1 (integer arithmetic: exact)
    return sorted_ref.gather(1, rank).reshape(b, c, h, w)


class HistMatch(Baseline):
    """``--method hist_match``: the source batch matched to the target batch (:meth:`source_images`);
    no term of its own, no target forward."""

    #: The run loop skips the target forward (:meth:`pfrlib.engine.trainer.Trainer.step`).
    forwards_target = False

    def __init__(self, model, cfg) -> None:
        super().__init__()

    def source_images(self, xs: Tensor, xt: Tensor) -> Tensor:
        return match_histograms(xs, xt)

    def network_terms(self, inp: BaselineInputs) -> BaselineTerms:
        return BaselineTerms()
