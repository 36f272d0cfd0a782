"""pfrlib.models.common: the ASPP classifier (two branches are the sum of the first two of four)."""

from __future__ import annotations


import torch

from pfrlib.models.common import ASPPClassifier



def test_aspp_two_branches_is_sum_of_first_two():
    torch.manual_seed(0)
    head = ASPPClassifier(8, 3)
    x = torch.randn(2, 8, 9, 11)
    with torch.no_grad():
        for conv in head.conv2d_list:
            conv.weight.normal_()
        full = head(x)
        head.branches_used = 2
        two = head(x)
        branches = [conv(x) for conv in head.conv2d_list]
    torch.testing.assert_close(two, branches[0] + branches[1])
    torch.testing.assert_close(full, sum(branches))
    assert not torch.allclose(two, full)
    assert [c.dilation for c in head.conv2d_list] == [(6, 6), (12, 12), (18, 18), (24, 24)]
