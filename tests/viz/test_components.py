"""The per-component maps (pfrlib.viz.components): a cell per method and component in each panel,
its value and interval written, bold where the interval excludes 0, grey with its run count where
runs are missing. (Their layout: tests/viz/test_figure_layout.py.)"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from pfrlib.evaluation.components import FULL_COLUMN, GAP, Cell, ComponentGrid  # noqa: E402
from pfrlib.viz.components import plot_component_maps  # noqa: E402

METHODS = ("source_only", "hist_match", "fda", "oracle")


def _grid() -> ComponentGrid:
    cells = [Cell("alone", GAP, c, 6, 6, 10.0, 5.0, 15.0) for c in (FULL_COLUMN, "palette", "camera")]
    cells += [Cell("alone", "hist_match", FULL_COLUMN, 9, 9, 20.0, -5.0, 40.0),
              Cell("alone", "hist_match", "palette", 9, 9, 80.0, 60.0, 95.0),
              Cell("alone", "hist_match", "camera", 3, 9),
              Cell("alone", "fda", FULL_COLUMN, 9, 9, -30.0, -50.0, -10.0),
              Cell("alone", "fda", "palette", 9, 9, 250.0, 120.0, 400.0),
              Cell("alone", "fda", "camera", 9, 9, 5.0, float("nan"), float("nan"))]
    cells += [Cell("minus", m, c, 12, 12, 50.0, 10.0, 90.0) for m in METHODS[:3] for c in ("palette", "camera")]
    return ComponentGrid(METHODS, ("palette", "camera"), (0, 1, 2), cells, 60, 72)


def test_each_panel_has_a_cell_per_method_and_component():
    fig = plot_component_maps(_grid())
    try:
        alone, minus = fig.axes[:2]  # the two panels, then their colour bars
        assert [t.get_text() for t in alone.get_yticklabels()] == ["Histogram matching", "FDA"]
        assert [t.get_text() for t in alone.get_xticklabels()] == [FULL_COLUMN, "palette", "camera"]
        assert len(minus.get_yticklabels()) == 3 and len(minus.get_xticklabels()) == 2  # no oracle, no full column
        texts = {t.get_text(): t for t in alone.texts}
        assert len(alone.texts) == 6 and len(minus.texts) == 6
        assert texts["80\n[60, 95]"].get_fontweight() == "bold"  # excludes 0
        assert texts["20\n[-5, 40]"].get_fontweight() == "normal"  # includes 0
        assert texts["-30\n[-50, -10]"].get_fontweight() == "bold"
        assert "3 of 9\nruns" in texts and "5" in texts  # unfinished; no interval
        values = alone.images[0].get_array()
        assert values.mask[0, 2] and values[1, 1] == 100.0  # grey where unfinished, clipped at the limit
        assert "60 of 72 runs finished" in fig._suptitle.get_text()
    finally:
        plt.close(fig)


def test_an_empty_grid_is_refused():
    with pytest.raises(ValueError, match="grid: expected at least one component"):
        plot_component_maps(ComponentGrid(METHODS, (), (0, 1), [], 0, 0))
