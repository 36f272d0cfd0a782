"""pfrlib.config.validation: a bad value or a missing data root is named by its field."""

from __future__ import annotations


import pytest

from pfrlib.config.train_config import TrainConfig


@pytest.mark.parametrize("overrides,field", [
    ({"method": "dann"}, "method"),
    ({"lambda_pfr": -1.0}, "lambda_pfr"),
    ({"lambda_adv": -0.1}, "lambda_adv"),
    ({"style_weight": float("nan")}, "style_weight"),
    ({"source": "imagenet:/x"}, "source"),
    ({"target": "nothing"}, "target"),
    ({"optimizer": "rmsprop"}, "optimizer"),
    ({"iterations": 0}, "iterations"),
    ({"batch_size": 0}, "batch_size"),
    ({"pfr_stages": (1, 2)}, "pfr_stages"),
    ({"content_form": "l1"}, "content_form"),
    ({"style_pairing": "images"}, "style_pairing"),
    ({"image_scales": (0.8, 1.0)}, "image_scales: needs target_size"),
    ({"image_scales": (0.8, 1.0), "target_size": (32, 64)}, "image_scales: each image gets its own size"),
    ({"image_scales": (0.8, 0.0), "target_size": (32, 64), "batch_size": 1}, "image_scales must be"),
])
def test_validation_names_the_field(overrides, field):
    with pytest.raises(ValueError, match=field):
        TrainConfig.preset("cpu", **overrides).validate()


def test_missing_data_root_is_named(tmp_path):
    cfg = TrainConfig.preset("cpu", target=f"folder:{tmp_path / 'missing'}")
    with pytest.raises(FileNotFoundError, match="target"):
        cfg.validate()
    with pytest.raises(FileNotFoundError, match="source"):
        TrainConfig.preset("paper").replace(source=f"gta5:{tmp_path / 'gta'}").validate()


def test_a_cityscapes_test_split_as_target_test_is_refused_in_one_line(tmp_path):
    for spec in (f"cityscapes:{tmp_path}", f"cityscapes:{tmp_path}:test"):
        with pytest.raises(ValueError, match=r"^target_test: .* labels are not public .* --target-test none") as err:
            TrainConfig.preset("paper", target_test=spec).validate(check_paths=False)
        assert "\n" not in str(err.value)
    TrainConfig.preset("paper", target_test=f"cityscapes:{tmp_path}:val").validate(check_paths=False)
    with pytest.raises(FileNotFoundError, match="target_test"):
        TrainConfig.preset("cpu", target_test=f"folder:{tmp_path / 'missing'}").validate()
