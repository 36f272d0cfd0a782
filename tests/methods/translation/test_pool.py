"""pfrlib.methods.translation.pool: the image pool of past translations."""

from __future__ import annotations


import torch

from pfrlib.methods.translation.pool import ImagePool


def test_pool_returns_fresh_images_until_full_and_is_seeded():
    a, b = ImagePool(2, seed=1), ImagePool(2, seed=1)
    first = torch.arange(2.0).reshape(2, 1, 1, 1)
    assert torch.equal(a.query(first), first) and torch.equal(b.query(first), first)
    for step in range(5):
        batch = torch.full((2, 1, 1, 1), 10.0 + step)
        out_a, out_b = a.query(batch), b.query(batch)
        assert torch.equal(out_a, out_b)
        assert all(v in [0.0, 1.0] + [10.0 + s for s in range(step + 1)] for v in out_a.flatten().tolist())
    c = ImagePool(2, seed=1)
    c.load_state_dict(a.state_dict())
    batch = torch.full((2, 1, 1, 1), 99.0)
    assert torch.equal(c.query(batch), a.query(batch))
    assert torch.equal(ImagePool(0).query(batch), batch)
