"""Class facts of a benchmark (pfrlib.data.synthstreets.class_facts): connected pieces on hand-made
label maps, pixel share and mean instance size, the benchmark's split, bad input."""

from __future__ import annotations

import numpy as np
import pytest

from pfrlib.data.synthstreets.class_facts import benchmark_class_facts, connected_components, label_class_facts

# 0 = road: a U of 8 (only the path round the bottom joins its two arms) and one pixel alone;
# 1 = sidewalk: (0, 4) alone (ignore below it), (3, 0) and (4, 1) each alone (they touch only at a
# corner: 4-connectivity keeps them apart), and a block of 5 from (2, 4); 2 = building: 4 in the U;
# 255 = ignore, in no piece
MAP = np.array([[0, 2, 2, 0, 1],
                [0, 2, 2, 0, 255],
                [0, 0, 0, 0, 1],
                [1, 255, 255, 1, 1],
                [255, 1, 0, 1, 1]])


def _pieces(labels: np.ndarray) -> dict[int, list[set]]:
    roots = connected_components(labels)
    out: dict[int, list[set]] = {}
    for root in np.unique(roots[roots >= 0]):
        where = set(zip(*np.nonzero(roots == root)))
        (cls,) = {int(labels[p]) for p in where}
        out.setdefault(cls, []).append(where)
    return out


def test_hand_made_map_pieces():
    pieces = _pieces(MAP)
    assert [len(p) for p in pieces[0]] == [8, 1]  # the U, and the single road pixel at the bottom
    assert len(pieces[2]) == 1 and len(pieces[2][0]) == 4
    assert sorted(len(p) for p in pieces[1]) == [1, 1, 1, 5]
    assert (connected_components(MAP)[MAP == 255] == -1).all()
    assert connected_components(MAP)[2, 3] == 0  # a piece's id is its first pixel's flat index


def test_pieces_never_join_across_images_or_through_a_diagonal():
    stack = np.stack([np.eye(3, dtype=np.int64), np.eye(3, dtype=np.int64)])
    roots = connected_components(stack)
    assert len(np.unique(roots[stack == 1])) == 6  # three diagonal pixels per image, none 4-connected
    assert len(np.unique(roots[stack == 0])) == 4  # the two off-diagonal triangles of each image


def test_share_and_mean_instance_size_by_hand():
    names = ("road", "sidewalk", "building", "wall")
    facts = label_class_facts(MAP, names)
    labelled = 25 - 4
    assert facts["road"] == {"share": pytest.approx(100 * 9 / labelled), "pixels": 9, "instances": 2,
                             "mean_instance_px": 4.5}
    assert facts["sidewalk"]["instances"] == 4 and facts["sidewalk"]["mean_instance_px"] == 2.0
    assert facts["building"]["mean_instance_px"] == 4.0
    assert facts["wall"] == {"share": 0.0, "pixels": 0, "instances": 0, "mean_instance_px": None}
    assert sum(f["share"] for f in facts.values()) == pytest.approx(100)


def test_the_benchmark_s_test_split():
    facts = benchmark_class_facts(images=3)
    assert len(facts) == 19 and sum(f["share"] for f in facts.values()) == pytest.approx(100)
    assert facts["road"]["instances"] >= 1 and facts["road"]["share"] > facts["bicycle"]["share"]
    assert facts == benchmark_class_facts(images=3)  # a split's items are fixed


@pytest.mark.reliability
def test_bad_input_is_named():
    with pytest.raises(ValueError, match=r"^labels: expected \(H, W\) or \(N, H, W\) integer class ids, got "
                                         r"shape \(3,\)"):
        connected_components(np.zeros(3, np.int64))
    with pytest.raises(ValueError, match="integer class ids"):
        label_class_facts(np.zeros((2, 2)))
    with pytest.raises(ValueError, match=r"^labels: expected class ids in 0..3 or 255, got values 0..7"):
        label_class_facts(np.array([[0, 7]]), ("a", "b", "c", "d"))
    with pytest.raises(ValueError, match="every pixel is ignore_index"):
        label_class_facts(np.full((2, 2), 255))
    with pytest.raises(ValueError, match=r"^images: expected a positive number of test images, got 0"):
        benchmark_class_facts(images=0)
