"""Unit tests for pfrlib.paper.losses (Eq. 1-6)."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from pfrlib.paper import losses


def feats(seed: int = 0, b: int = 2, size: tuple[int, int] = (8, 12), channels=(4, 6, 8, 8)):
    g = torch.Generator().manual_seed(seed)
    h, w = size
    sizes = [(h, w), (h // 2, w // 2), (h // 2, w // 2), (h // 2, w // 2)]
    return tuple(torch.randn(b, c, *s, generator=g) for c, s in zip(channels, sizes))


def spatial_shuffle(f: torch.Tensor, seed: int = 1) -> torch.Tensor:
    b, c, h, w = f.shape
    perm = torch.randperm(h * w, generator=torch.Generator().manual_seed(seed))
    return f.reshape(b, c, h * w)[:, :, perm].reshape(b, c, h, w)


# ---------------------------------------------------------------- Gram matrix
def test_gram_matches_definition_and_normalisations():
    f = torch.randn(3, 5, 4, 6)
    flat = f.reshape(3, 5, 24)
    raw = flat @ flat.transpose(1, 2)
    torch.testing.assert_close(losses.gram_matrix(f, "none"), raw)
    torch.testing.assert_close(losses.gram_matrix(f, "hw"), raw / 24)
    torch.testing.assert_close(losses.gram_matrix(f), raw / (5 * 24))
    # explicit loop for one entry
    assert math.isclose(float(losses.gram_matrix(f)[1, 2, 3]), float((f[1, 2] * f[1, 3]).sum()) / 120, rel_tol=1e-5)


def test_gram_symmetric_psd():
    g = losses.gram_matrix(torch.randn(4, 7, 5, 5, dtype=torch.float64))
    torch.testing.assert_close(g, g.transpose(1, 2))
    eig = torch.linalg.eigvalsh(g)
    assert (eig > -1e-10).all()


def test_gram_bad_input():
    with pytest.raises(ValueError, match=r"\(B, C, H, W\)"):
        losses.gram_matrix(torch.randn(3, 4, 5))
    with pytest.raises(ValueError, match="normalize"):
        losses.gram_matrix(torch.randn(1, 2, 3, 3), normalize="bogus")


# ---------------------------------------------------------------- style / content
def test_style_zero_under_spatial_shuffle_content_not():
    fs = feats(0)
    ft = tuple(spatial_shuffle(f) for f in fs)
    assert float(losses.style_loss(fs, ft)) < 1e-5
    assert float(losses.content_loss(fs, ft)) > 0.5
    assert float(losses.style_loss(fs, feats(3))) > 1e-3


def test_style_loss_is_sum_of_frobenius_norms_batch_mean():
    fs, ft = feats(0), feats(1)
    expected = 0.0
    for a, b in zip(fs, ft):
        d = losses.gram_matrix(a) - losses.gram_matrix(b)
        expected += float(torch.sqrt((d**2).sum(dim=(1, 2))).mean())
    assert math.isclose(float(losses.style_loss(fs, ft)), expected, rel_tol=1e-5)


def test_style_pairing_batch_compares_domain_means():
    fs, ft = feats(0, b=3), feats(1, b=3)
    expected = 0.0
    for a, b in zip(fs, ft):
        d = losses.gram_matrix(a).mean(0) - losses.gram_matrix(b).mean(0)
        expected += float(torch.sqrt((d**2).sum()))
    assert math.isclose(float(losses.style_loss(fs, ft, pairing="batch")), expected, rel_tol=1e-5)
    # the same images in another order within the batch: "batch" does not care, "pair" does
    rolled = tuple(torch.roll(f, 1, dims=0) for f in ft)
    assert math.isclose(float(losses.style_loss(fs, rolled, pairing="batch")), expected, rel_tol=1e-5)
    assert not math.isclose(float(losses.style_loss(fs, rolled)), float(losses.style_loss(fs, ft)), rel_tol=1e-3)
    # a batch of one pair: both readings agree; the averaged distance is never larger
    one_s, one_t = feats(2, b=1), feats(3, b=1)
    assert math.isclose(float(losses.style_loss(one_s, one_t, pairing="batch")), float(losses.style_loss(one_s, one_t)), rel_tol=1e-6)
    assert float(losses.style_loss(fs, ft, pairing="batch")) <= float(losses.style_loss(fs, ft)) + 1e-6
    total = losses.pfr_loss(fs, ft, style_weight=1.0, content_weight=0.0, style_pairing="batch").total
    assert math.isclose(float(total), expected, rel_tol=1e-5)
    with pytest.raises(ValueError, match="style_pairing"):
        losses.style_loss(fs, ft, pairing="images")


def test_content_rms_and_literal():
    fs, ft = feats(0), feats(1)
    lit = losses.content_loss(fs, ft, stages=(2,), form="literal")
    rms = losses.content_loss(fs, ft, stages=(2,), form="rms")
    n = fs[0][0].numel()
    expected = float(torch.sqrt(((fs[0] - ft[0]) ** 2).flatten(1).sum(1)).mean())
    assert math.isclose(float(lit), expected, rel_tol=1e-5)
    assert math.isclose(float(rms), expected / math.sqrt(n), rel_tol=1e-5)


def test_content_rms_is_resolution_free_literal_is_not():
    torch.manual_seed(0)
    small = [torch.randn(1, 4, 8, 8) for _ in range(4)]
    # nearest-upsampled copies: same values, 4x the pixels
    big = [F.interpolate(f, scale_factor=2, mode="nearest") for f in small]
    zero_s = [torch.zeros_like(f) for f in small]
    zero_b = [torch.zeros_like(f) for f in big]
    assert math.isclose(float(losses.content_loss(small, zero_s)), float(losses.content_loss(big, zero_b)), rel_tol=1e-5)
    ratio = float(losses.content_loss(big, zero_b, form="literal")) / float(losses.content_loss(small, zero_s, form="literal"))
    assert math.isclose(ratio, 2.0, rel_tol=1e-5)


def test_content_resizes_target_to_source():
    fs = feats(0, size=(8, 12))
    ft = feats(1, size=(6, 10))
    value = losses.content_loss(fs, ft)
    assert torch.isfinite(value)
    # same target, resized by hand, gives the same number
    ft_resized = [F.interpolate(t, size=s.shape[-2:], mode="bilinear", align_corners=False) for s, t in zip(fs, ft)]
    assert math.isclose(float(value), float(losses.content_loss(fs, ft_resized)), rel_tol=1e-6)
    # style needs no resizing: Gram matrices are C x C
    assert torch.isfinite(losses.style_loss(fs, ft))


def test_stage_selection():
    fs, ft = feats(0), feats(1)
    per = [float(losses.style_loss(fs, ft, stages=(s,))) for s in (2, 3, 4, 5)]
    assert math.isclose(sum(per), float(losses.style_loss(fs, ft)), rel_tol=1e-5)
    with pytest.raises(ValueError, match="subset"):
        losses.style_loss(fs, ft, stages=(1,))
    with pytest.raises(ValueError, match="at least one"):
        losses.content_loss(fs, ft, stages=())
    with pytest.raises(ValueError, match="4 stage outputs"):
        losses.style_loss(fs[:3], ft[:3])


def test_channel_mismatch_is_a_clear_error():
    fs = feats(0)
    ft = feats(1, channels=(4, 6, 8, 9))
    with pytest.raises(ValueError, match="stage 5"):
        losses.pfr_loss(fs, ft)


# ---------------------------------------------------------------- PFR (Eq. 4)
def test_pfr_total_and_terms():
    fs, ft = feats(0), feats(1)
    out = losses.pfr_loss(fs, ft, style_weight=2.0, content_weight=0.5)
    assert set(out.style) == set(out.content) == {2, 3, 4, 5}
    expected = 2.0 * sum(out.style.values()) + 0.5 * sum(out.content.values())
    assert math.isclose(float(out.total), float(expected), rel_tol=1e-5)
    assert math.isclose(float(sum(out.style.values())), float(losses.style_loss(fs, ft)), rel_tol=1e-5)
    assert not out.style[2].requires_grad
    with pytest.raises(ValueError, match="style_weight"):
        losses.pfr_loss(fs, ft, style_weight=-1.0)


def test_pfr_gradients_reach_both_domains():
    fs = [f.clone().requires_grad_(True) for f in feats(0)]
    ft = [f.clone().requires_grad_(True) for f in feats(1)]
    losses.pfr_loss(fs, ft).total.backward()
    for f in fs + ft:
        assert f.grad is not None and float(f.grad.abs().sum()) > 0


def test_literal_content_dwarfs_style_at_realistic_scale():
    """The loss-scale trap: unnormalised content norm vs the Gram term on unpaired features."""
    torch.manual_seed(0)
    fs = [torch.relu(torch.randn(1, c, 65, 129)) for c in (256, 512, 1024, 2048)]
    ft = [torch.relu(torch.randn(1, c, 65, 129)) for c in (256, 512, 1024, 2048)]
    out_lit = losses.pfr_loss(fs, ft, content_form="literal")
    style = float(sum(out_lit.style.values()))
    content = float(sum(out_lit.content.values()))
    assert content > 100 * style


# ---------------------------------------------------------------- Eq. (1)
def test_segmentation_loss_upsamples_and_ignores():
    torch.manual_seed(0)
    logits = torch.randn(2, 5, 4, 6, requires_grad=True)
    labels = torch.randint(0, 5, (2, 16, 24))
    labels[0, :8] = 255
    loss = losses.segmentation_loss(logits, labels)
    up = F.interpolate(logits, size=(16, 24), mode="bilinear", align_corners=True)
    ref = F.cross_entropy(up, labels, ignore_index=255)
    assert math.isclose(float(loss.detach()), float(ref.detach()), rel_tol=1e-6)
    loss.backward()
    assert logits.grad is not None


def test_segmentation_loss_all_ignored_is_zero_not_nan():
    logits = torch.randn(1, 3, 4, 4, requires_grad=True)
    loss = losses.segmentation_loss(logits, torch.full((1, 4, 4), 255))
    assert float(loss.detach()) == 0.0
    loss.backward()


def test_segmentation_loss_bad_labels():
    logits = torch.randn(1, 3, 4, 4)
    with pytest.raises(ValueError, match="outside 0..2"):
        losses.segmentation_loss(logits, torch.full((1, 4, 4), 7))
    with pytest.raises(TypeError, match="int64"):
        losses.segmentation_loss(logits, torch.zeros(1, 4, 4))
    with pytest.raises(ValueError, match=r"\(B, H, W\)"):
        losses.segmentation_loss(logits, torch.zeros(2, 4, 4, dtype=torch.long))


# ---------------------------------------------------------------- Eq. (5)
@pytest.mark.parametrize("kind", ["bce", "lsgan"])
def test_adversarial_losses(kind):
    confident_src = torch.full((2, 1, 3, 3), -8.0 if kind == "bce" else 0.0)
    confident_tgt = torch.full((2, 1, 3, 3), 8.0 if kind == "bce" else 1.0)
    # a perfect discriminator has ~zero loss, and the generator then has a large fooling loss
    assert float(losses.discriminator_loss(confident_src, confident_tgt, kind)) < 1e-3
    assert float(losses.generator_loss(confident_tgt, kind)) > 0.9
    # fooled: target output scored as source
    assert float(losses.generator_loss(confident_src, kind)) < 1e-3


def test_bce_matches_adaptsegnet_labels():
    d = torch.randn(1, 1, 4, 4)
    assert math.isclose(
        float(losses.generator_loss(d)), float(F.binary_cross_entropy_with_logits(d, torch.zeros_like(d))), rel_tol=1e-6
    )
    with pytest.raises(ValueError, match="bce"):
        losses.generator_loss(d, kind="wgan")


# ---------------------------------------------------------------- Eq. (4) = Eq. (2) + Eq. (3)
def _eq4_by_hand(fs, ft, stages, sw, cw, norm, form, pairing):
    """Eq. (4) written out from the public Eq. (2) and Eq. (3), one stage at a time."""
    style = {i: losses.style_loss(fs, ft, (i,), norm, pairing) for i in stages}
    content = {i: losses.content_loss(fs, ft, (i,), form) for i in stages}
    total = sw * torch.stack(list(style.values())).sum() + cw * torch.stack(list(content.values())).sum()
    return total, style, content


@pytest.mark.parametrize("stages,norm,form,pairing,sw,cw", [
    ((2, 3, 4, 5), "chw", "rms", "pair", 1.0, 1.0),
    ((3, 5), "hw", "literal", "batch", 3.0, 0.0),
    ((4,), "none", "rms", "pair", 0.5, 2.0),
])
def test_pfr_loss_is_style_plus_content_bit_identically(stages, norm, form, pairing, sw, cw):
    # target maps at another resolution: the content term resizes them
    fs = [f.requires_grad_() for f in feats(3, b=3)]
    ft = [f.requires_grad_() for f in feats(4, b=3, size=(10, 14))]
    pfr = losses.pfr_loss(fs, ft, stages, sw, cw, norm, form, pairing)
    grads = torch.autograd.grad(pfr.total, [*fs, *ft], allow_unused=True)
    total, style, content = _eq4_by_hand(fs, ft, stages, sw, cw, norm, form, pairing)
    grads_by_hand = torch.autograd.grad(total, [*fs, *ft], allow_unused=True)
    assert torch.equal(pfr.total, total)
    assert pfr.style.keys() == style.keys() and pfr.content.keys() == content.keys()
    assert all(torch.equal(pfr.style[i], style[i]) and torch.equal(pfr.content[i], content[i]) for i in stages)
    for a, b in zip(grads, grads_by_hand):
        assert (a is None and b is None) or torch.equal(a, b)


@pytest.mark.parametrize("option,value", [("gram_normalize", "x"), ("content_form", "x"), ("style_pairing", "x")])
def test_pfr_loss_names_a_bad_option(option, value):
    with pytest.raises(ValueError, match=f"{option} must be .*, got 'x'"):
        losses.pfr_loss(feats(0), feats(1), **{option: value})


def test_inputs_are_checked_before_anything_is_computed(monkeypatch):
    """A bad stage, option or kind raises on entry: no Gram matrix or content norm is taken first."""
    def not_reached(*args, **kwargs):
        raise AssertionError("computed before the inputs were checked")

    for helper in ("_gram", "_style_term", "_content_term", "_adv_criterion"):
        monkeypatch.setattr(losses, helper, not_reached)
    bad_stage_5 = feats(1, channels=(4, 6, 8, 9))
    with pytest.raises(ValueError, match="stage 5"):
        losses.pfr_loss(feats(0), bad_stage_5)
    with pytest.raises(ValueError, match="content_form"):
        losses.pfr_loss(feats(0), feats(1), content_form="x")
    with pytest.raises(ValueError, match="style_pairing"):
        losses.style_loss(feats(0), feats(1), pairing="x")
    with pytest.raises(ValueError, match="normalize"):
        losses.gram_matrix(torch.zeros(1, 2, 3, 3), normalize="x")
    with pytest.raises(ValueError, match="bce"):
        losses.discriminator_loss(torch.zeros(1, 1, 2, 2), torch.zeros(1, 1, 2, 2), kind="wgan")


def test_definitions_follow_the_paper_order():
    """The module reads like Section 3: Eq. (1), (2), (3), (4), (5), (6) from top to bottom."""
    import inspect

    order = ["segmentation_loss", "gram_matrix", "style_loss", "content_loss", "pfr_loss", "discriminator_loss",
             "generator_loss", "total_loss"]
    lines = [inspect.getsourcelines(getattr(losses, name))[1] for name in order]
    assert lines == sorted(lines)


def test_choices_are_the_literals():
    assert losses.GRAM_NORMALIZATIONS == ("chw", "hw", "none") and losses.GAN_KINDS == ("bce", "lsgan")
    with pytest.raises(ValueError, match="content_form must be 'rms' or 'literal', got 'x'"):
        losses.content_loss(feats(), feats(1), form="x")
    with pytest.raises(ValueError, match="normalize must be 'chw', 'hw' or 'none', got 'x'"):
        losses.gram_matrix(torch.zeros(1, 2, 3, 3), normalize="x")
