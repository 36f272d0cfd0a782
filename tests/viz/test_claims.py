"""Claim (b)'s figure (pfrlib.viz.claims): two panels, the axes saying what they are, the paper's
classes marked, the zero line, the intervals drawn, classes without pixels left out and said so."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from pfrlib.evaluation.class_comparisons import ClassComparison  # noqa: E402
from pfrlib.viz.claims import CLASS_AXES, plot_class_differences  # noqa: E402


def _row(name: str, mean: float, interval: tuple[float, float], verdict: str, method: str = "clan") -> ClassComparison:
    return ClassComparison(name, method, "pfr_adv", (5, 6, 7), (mean,) * 3, mean, interval, "seeds", 0.01, 0.02,
                           verdict, "t", 0.95, 0.05)


ROWS = [_row("road", 4.0, (2.0, 6.0), "beats"), _row("pole", -3.0, (-5.0, -1.0), "loses to"),
        _row("bus", 1.0, (-2.0, 4.0), "ties"), _row("train", 0.5, (-1.0, 2.0), "ties")]
FACTS = {"road": {"share": 35.0, "mean_instance_px": 1500.0}, "pole": {"share": 1.3, "mean_instance_px": 40.0},
         "bus": {"share": 0.3, "mean_instance_px": 850.0}, "train": {"share": 0.0, "mean_instance_px": None}}


def test_two_panels_with_labelled_log_axes_marks_and_intervals():
    fig = plot_class_differences(ROWS, FACTS)
    share_ax, size_ax = fig.axes
    assert [ax.get_xlabel() for ax in (share_ax, size_ax)] == [label for _, label in CLASS_AXES]
    assert share_ax.get_xscale() == size_ax.get_xscale() == "log"
    assert "IoU difference (points)" in share_ax.get_ylabel() and "minus CLAN" in share_ax.get_ylabel()
    assert any(list(line.get_ydata()) == [0, 0] for line in share_ax.lines)  # the zero line
    squares, circles = share_ax.collections[-2:]  # the paper's classes (road, bus), then the others (pole)
    assert np.allclose(squares.get_offsets(), [[35.0, 4.0], [0.3, 1.0]])
    assert np.allclose(circles.get_offsets(), [[1.3, -3.0]])
    assert np.allclose(size_ax.collections[-2].get_offsets(), [[1500.0, 4.0], [850.0, 1.0]])
    bars = [seg for c in share_ax.collections[:-2] for seg in c.get_segments()]  # one interval per class drawn
    assert sorted((s[0][1], s[1][1]) for s in bars) == [(-5.0, -1.0), (-2.0, 4.0), (2.0, 6.0)]
    names = {t.get_text() for t in share_ax.texts}
    assert {"road", "pole", "bus"} <= names and "train" not in names
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "named by the paper (Sec. 4.2)" in legend and "not drawn (no pixel counted): train" in legend
    assert any(text.endswith("beats CLAN") for text in legend)
    plt.close(fig)


@pytest.mark.reliability
def test_bad_input_is_named():
    with pytest.raises(ValueError, match="^rows: expected at least one"):
        plot_class_differences([], FACTS)
    with pytest.raises(ValueError, match=r"^facts: no pixel share or instance size for \['pole'\]"):
        plot_class_differences(ROWS, {k: v for k, v in FACTS.items() if k != "pole"})
    with pytest.raises(ValueError, match="^rows: expected one reference and one method"):
        plot_class_differences([*ROWS, _row("car", 1.0, (0.0, 2.0), "ties", method="dlow")], FACTS)
    with pytest.raises(ValueError, match="none of the classes compared has a pixel"):
        plot_class_differences(ROWS[3:], FACTS)
