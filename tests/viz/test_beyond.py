"""The figures of notebook 09 (pfrlib.viz.beyond): what each panel shows, where FDA's window is
drawn, and bad input named (their layout is checked with every figure's in test_figure_layout.py)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

from pfrlib.methods.beyond.fda import log_amplitude, swapped_window  # noqa: E402
from pfrlib.viz.beyond import entropy_grid, fda_grid, style_three_ways  # noqa: E402

H, W = 16, 32


def _images(n: int) -> torch.Tensor:
    return torch.randint(0, 256, (n, 3, H, W), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))


def _image_axes(fig):
    return [ax for ax in fig.axes if ax.get_images() and ax.get_label() != "<colorbar>"]


def test_style_three_ways_shows_each_view_of_each_image_on_one_scale():
    images = _images(2)
    spectra = log_amplitude(images)
    fig = style_three_ways(images, [torch.eye(4), 2 * torch.eye(4)], spectra, [torch.zeros(H, W), torch.ones(H, W)],
                           ["source", "target"], title="t")
    try:
        axes = _image_axes(fig)
        assert len(axes) == 8  # 2 rows x (image, Gram, spectrum, entropy)
        np.testing.assert_allclose(axes[2].get_images()[0].get_array(), spectra[0].numpy())
        assert axes[3].get_images()[0].get_clim() == (0.0, 1.0) == axes[7].get_images()[0].get_clim()
        assert axes[1].get_images()[0].get_clim() == axes[5].get_images()[0].get_clim() == (0.0, 2.0)
        assert [ax.get_ylabel() for ax in axes[::4]] == ["source", "target"]
    finally:
        plt.close(fig)
    with pytest.raises(ValueError, match="expected 2 of each"):
        style_three_ways(images, [torch.eye(4)], spectra, [torch.zeros(H, W)] * 2, ["a", "b"])


def test_fda_grid_draws_each_beta_and_its_window_where_the_mask_is():
    images = _images(2).float()
    swapped = {0.1: images[0] + 1, 0.2: images[0] + 2}
    windows = {0.1: swapped_window(H, W, 1), 0.2: swapped_window(H, W, 3)}
    fig = fda_grid(images[0], images[1], swapped, windows, title="t")
    try:
        axes = _image_axes(fig)
        assert len(axes) == 2 * 4  # source, two betas, target; images over spectra
        assert [ax.get_title() for ax in axes[:4]] == ["source", "beta = 0.1", "beta = 0.2", "target"]
        boxes = [[p for p in ax.patches if isinstance(p, Rectangle)] for ax in axes[4:]]
        assert [len(b) for b in boxes] == [0, 1, 1, 0]
        # b = 3: the training code's 2b x 2b square around the zero frequency (H/2, W/2)
        box = boxes[2][0]
        assert (box.get_width(), box.get_height()) == (6, 6)
        assert box.get_xy() == (W // 2 - 3 - 0.5, H // 2 - 3 - 0.5)
    finally:
        plt.close(fig)
    with pytest.raises(ValueError, match="one window per beta"):
        fda_grid(images[0], images[1], swapped, {0.1: windows[0.1]})


def test_entropy_grid_puts_every_map_on_the_zero_one_scale_with_its_mean():
    images = _images(2)
    maps = {"before": torch.full((2, H, W), 0.5), "after": torch.full((2, H, W), 0.25)}
    fig = entropy_grid(images, maps, title="t")
    try:
        axes = _image_axes(fig)
        assert len(axes) == 6 and [ax.get_title() for ax in axes[:3]] == ["target image", "before", "after"]
        assert all(ax.get_images()[0].get_clim() == (0.0, 1.0) for ax in axes if ax not in axes[::3])
        assert [t.get_text() for t in axes[2].texts] == ["mean 0.25"]
    finally:
        plt.close(fig)
    with pytest.raises(ValueError, match="every map must hold 2 images"):
        entropy_grid(images, {"before": torch.zeros(1, H, W)})
