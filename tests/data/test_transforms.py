"""pfrlib.data.transforms: normalisation, the train and eval transforms, image scales drawn from the stream seed."""

from __future__ import annotations


import pytest
import torch

from pfrlib.data.transforms import EvalTransform, TrainTransform, denormalize, normalize


def test_normalize_modes():
    img = torch.tensor([[[0]], [[128]], [[255]]], dtype=torch.uint8)  # R=0, G=128, B=255
    unit = normalize(img, "unit")
    assert torch.allclose(unit.flatten(), torch.tensor([-1.0, 128 / 127.5 - 1, 1.0]))
    caffe = normalize(img, "caffe_bgr")  # BGR order, mean subtracted, no std
    assert torch.allclose(caffe.flatten(), torch.tensor([255 - 104.00698793, 128 - 116.66876762, 0 - 122.67891434]))
    imnet = normalize(img[None], "imagenet")
    assert imnet.shape == (1, 3, 1, 1)
    assert torch.allclose(imnet.flatten(), torch.tensor([(0 - 0.485) / 0.229, (128 / 255 - 0.456) / 0.224, (1 - 0.406) / 0.225]))
    for mode in ("unit", "caffe_bgr", "imagenet"):
        assert torch.equal(denormalize(normalize(img, mode), mode), img)
    with pytest.raises(ValueError, match="caffe_bgr"):
        normalize(img, "bgr")


def test_train_transform_is_seedable_and_keeps_labels_discrete():
    g = torch.Generator().manual_seed(0)
    image = torch.randint(0, 256, (3, 40, 60), dtype=torch.uint8, generator=g)
    label = torch.randint(0, 19, (40, 60), generator=g)
    label[:5] = 255
    t = TrainTransform(size=(32, 48), scale=(0.75, 1.5), crop=(32, 48), hflip=True, normalize="imagenet")
    torch.manual_seed(3)
    a = t(image, label)
    torch.manual_seed(3)
    b = t(image, label)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    x, y = a
    assert x.dtype == torch.float32 and x.shape == (3, 32, 48) and y.dtype == torch.int64 and y.shape == (32, 48)
    assert set(y.unique().tolist()) <= set(label.unique().tolist())  # nearest: no new ids
    small = TrainTransform(crop=(64, 64), hflip=False)(image, label)[1]
    assert small.shape == (64, 64) and int((small == 255).sum()) >= 64 * 64 - 40 * 60  # padded with ignore


def _scaled(t: TrainTransform, image, label, seed: int):
    torch.manual_seed(seed)
    return t(image, label)


def test_image_scales_resize_the_image_alone_to_int_size_times_a_factor_of_the_set():
    """CLAN's ``__scale__``: the image goes to ``int(size * f)`` (truncated: 41 x 81 at 0.8 is
    32 x 64, not 33 x 65), the label stays at ``size`` and is the plain resize's label."""
    g = torch.Generator().manual_seed(1)
    image = torch.randint(0, 256, (3, 50, 90), dtype=torch.uint8, generator=g)
    label = torch.randint(0, 19, (50, 90), generator=g)
    t = TrainTransform(size=(41, 81), image_scales=(0.8, 1.0, 1.1), hflip=False, normalize=None)
    plain_label = TrainTransform(size=(41, 81), hflip=False, normalize=None)(image, label)[1]
    sizes = set()
    for seed in range(30):
        x, y = _scaled(t, image, label, seed)
        sizes.add(tuple(x.shape[-2:]))
        assert x.dtype == torch.uint8 and torch.equal(y, plain_label)
    assert sizes == {(32, 64), (41, 81), (45, 89)}


def test_image_scales_factor_one_is_the_plain_resize():
    g = torch.Generator().manual_seed(2)
    image = torch.randint(0, 256, (3, 50, 90), dtype=torch.uint8, generator=g)
    label = torch.randint(0, 19, (50, 90), generator=g)
    a = TrainTransform(size=(41, 81), image_scales=(1.0,), hflip=False, normalize="unit")(image, label)
    b = TrainTransform(size=(41, 81), hflip=False, normalize="unit")(image, label)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])


def test_image_scales_are_drawn_uniformly_so_repeats_give_clans_30_40_30():
    from pfrlib.methods.baselines.clan import CLAN_IMAGE_SCALES
    image, label = torch.zeros(3, 10, 20, dtype=torch.uint8), torch.zeros(10, 20, dtype=torch.int64)
    t = TrainTransform(size=(10, 20), image_scales=CLAN_IMAGE_SCALES, hflip=False, normalize=None)
    heights = [_scaled(t, image, label, seed)[0].shape[-2] for seed in range(1000)]
    share = {h: heights.count(h) / len(heights) for h in (8, 10, 11)}
    assert sum(share.values()) == 1.0
    assert share[8] == pytest.approx(0.3, abs=0.05) and share[10] == pytest.approx(0.4, abs=0.05)
    assert share[11] == pytest.approx(0.3, abs=0.05)


def test_image_scales_follow_the_stream_seed_so_a_resumed_stream_draws_the_same_sizes():
    from pfrlib.data.streams import SOURCE_STREAM, make_stream

    class Items(torch.utils.data.Dataset):
        def __init__(self):
            self.t = TrainTransform(size=(20, 40), image_scales=(0.8, 1.0, 1.1), hflip=True, normalize=None)

        def __len__(self):
            return 3

        def __getitem__(self, i):
            return self.t(torch.full((3, 24, 48), i, dtype=torch.uint8), torch.full((24, 48), i, dtype=torch.int64))

    def batches(seed, start, n):
        it = iter(make_stream(Items(), seed, SOURCE_STREAM, 1, with_labels=True, start_iteration=start))
        return [next(it) for _ in range(n)]

    run = batches(0, 0, 12)
    assert {tuple(x.shape[-2:]) for x, _ in run} == {(16, 32), (20, 40), (22, 44)}
    assert all(tuple(y.shape[-2:]) == (20, 40) for _, y in run)
    for (xa, ya), (xb, yb) in zip(run[5:], batches(0, 5, 7)):  # resumed at iteration 5
        assert torch.equal(xa, xb) and torch.equal(ya, yb)
    assert [x.shape for x, _ in run] != [x.shape for x, _ in batches(1, 0, 12)]  # another seed, other draws


def test_image_scales_bad_values_name_the_field():
    for bad in ((), (0.8, -1.0), (float("nan"),), ("big",)):
        with pytest.raises(ValueError, match="image_scales"):
            TrainTransform(size=(8, 8), image_scales=bad)
    with pytest.raises(ValueError, match="image_scales.*crop"):
        TrainTransform(size=(8, 8), crop=(4, 4), image_scales=(0.8, 1.0))


def test_eval_transform_keeps_label_resolution():
    image = torch.zeros(3, 64, 128, dtype=torch.uint8)
    label = torch.ones(64, 128, dtype=torch.int64)
    x, y = EvalTransform(size=(32, 64), normalize="caffe_bgr")(image, label)
    assert x.shape == (3, 32, 64) and y.shape == (64, 128)
    _, y2 = EvalTransform(size=(32, 64), resize_label=True)(image, label)
    assert y2.shape == (32, 64)
