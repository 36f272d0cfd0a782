"""pfrlib.methods.translation.flow: the set statistics, their distances, and the monotonicity check on
hand-made numbers."""

from __future__ import annotations

import pytest
import torch

from pfrlib.methods.translation.flow import (flow_ends, flow_monotone, flow_table, is_monotone, set_distances,
                                             set_statistics)


def _constant(value: int, n: int = 2, size: int = 8) -> torch.Tensor:
    return torch.full((n, 3, size, size), value, dtype=torch.uint8)


def _checkerboard(n: int = 2, size: int = 8) -> torch.Tensor:
    i = torch.arange(size)
    board = ((i[:, None] + i[None, :]) % 2 * 255).to(torch.uint8)
    return board.expand(n, 3, size, size).clone()


def test_statistics_by_hand():
    stats = set_statistics(_constant(51))
    assert torch.allclose(stats["colour"], torch.full((3,), 51.0, dtype=torch.float64))
    gram = stats["gram"]
    assert gram.shape == (9, 9)
    assert torch.allclose(gram[:3, :3], torch.full((3, 3), 0.2 ** 2, dtype=torch.float64))  # (51 / 255)^2
    assert gram[3:, :].abs().max() == 0  # a constant image has no edges
    # the same mean colour, drawn as a checkerboard: its edges show in the Gram matrix only
    board = _checkerboard()
    grey = _constant(int(board.float().mean().round()))
    d = set_distances(set_statistics(board), set_statistics(grey))
    assert d["colour"] < 1.0 and d["gram"] > 1.0
    assert set_distances(stats, stats) == {"colour": 0.0, "gram": 0.0}


def test_flow_table_of_an_identity_and_a_constant_translation():
    torch.manual_seed(0)
    source = torch.randint(0, 128, (3, 3, 8, 8), dtype=torch.uint8)
    target = torch.randint(128, 256, (3, 3, 8, 8), dtype=torch.uint8)
    rows = flow_table({1.0: target.clone(), 0.0: source.clone()}, source, target)
    assert [r["z"] for r in rows] == [0.0, 1.0]  # ascending, whatever the dict's order
    assert rows[0]["colour_to_source"] == 0 and rows[0]["pixels_to_own_source"] == 0
    assert rows[1]["colour_to_target"] == 0 and rows[1]["gram_to_target"] == 0
    assert flow_monotone(rows, "colour")["monotone"] and flow_monotone(rows, "gram")["monotone"]


def test_monotonicity_on_hand_made_numbers():
    assert is_monotone([3.0, 2.0, 2.0, 1.0], "non_increasing")
    assert not is_monotone([3.0, 2.0, 2.5, 1.0], "non_increasing")
    assert is_monotone([0.0, 0.0, 4.0], "non_decreasing") and not is_monotone([0.0, 5.0, 4.0], "non_decreasing")
    assert is_monotone([7.0], "non_decreasing")
    z = [0.0, 0.25, 0.5, 0.75, 1.0]
    to_target, to_source = [30.0, 20.0, 20.0, 10.0, 5.0], [0.0, 5.0, 5.0, 12.0, 30.0]
    rows = [{"z": a, "colour_to_target": t, "colour_to_source": s} for a, t, s in zip(z, to_target, to_source)]
    assert flow_monotone(rows, "colour") == {"to_target_non_increasing": True, "to_source_non_decreasing": True,
                                            "monotone": True}
    rows[2]["colour_to_target"] = 21.0  # one step back towards the source's side
    assert flow_monotone(rows, "colour") == {"to_target_non_increasing": False, "to_source_non_decreasing": True,
                                            "monotone": False}
    rows[4]["colour_to_source"] = 11.0
    assert not flow_monotone(rows, "colour")["to_source_non_decreasing"]


def test_flow_ends_on_hand_made_numbers():
    """Monotone but on one side: every z target-like (the flow of a translator that ignores z)."""
    one_sided = [{"z": 0.0, "colour_to_source": 55.0, "colour_to_target": 22.0},
                 {"z": 1.0, "colour_to_source": 64.0, "colour_to_target": 13.0}]
    assert flow_monotone(one_sided, "colour")["monotone"]
    assert flow_ends(one_sided, "colour") == {"first_nearer_source": False, "last_nearer_target": True}
    across = [{"z": 0.0, "colour_to_source": 19.0, "colour_to_target": 59.0},
              {"z": 1.0, "colour_to_source": 51.0, "colour_to_target": 27.0}]
    assert flow_ends(across, "colour") == {"first_nearer_source": True, "last_nearer_target": True}


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="images: expected uint8"):
        set_statistics(torch.zeros(2, 3, 8, 8))
    with pytest.raises(ValueError, match="direction"):
        is_monotone([1.0], "up")
    with pytest.raises(ValueError, match="statistic"):
        flow_monotone([], "hue")
    with pytest.raises(ValueError, match="rows"):
        flow_ends([], "colour")
    with pytest.raises(ValueError, match="ascending z"):
        flow_monotone([{"z": 1.0}, {"z": 0.0}], "colour")
    with pytest.raises(ValueError, match=r"translated\[0.5\]: expected the shape"):
        flow_table({0.5: _constant(1, n=1)}, _constant(1, n=2), _constant(2))
