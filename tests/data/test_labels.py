"""pfrlib.data.labels: the label tables, against cityscapesscripts'."""

from __future__ import annotations


import numpy as np
from cityscapesscripts.helpers.labels import labels as cs_labels

from pfrlib.data.labels import CLASS_NAMES, ID_TO_TRAINID, PALETTE, ids_to_train_ids


def test_lookup_table_matches_cityscapesscripts():
    for l in cs_labels:
        want = l.trainId if 0 <= l.trainId < 255 else 255
        assert ID_TO_TRAINID[l.id % 256] == want, l.name
    assert ID_TO_TRAINID[34:255].tolist() == [255] * (255 - 34)
    train = sorted((l for l in cs_labels if 0 <= l.trainId < 255), key=lambda l: l.trainId)
    assert CLASS_NAMES == tuple(l.name for l in train) and len(CLASS_NAMES) == 19
    assert PALETTE.tolist() == [list(l.color) for l in train]
    # int arrays with negative / large ids
    assert ids_to_train_ids(np.array([-1, 7, 26, 300, 33])).tolist() == [255, 0, 13, 255, 18]
