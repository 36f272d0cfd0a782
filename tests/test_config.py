"""pfrlib.config: presets, flat overrides, JSON round trip, command line, validation."""

from __future__ import annotations

import argparse

import pytest

from pfrlib.config import METHODS
from pfrlib.config.train_config import TrainConfig
from pfrlib.config.command_line import add_arguments, config_from_args, config_from_argv
from pfrlib.data.spec import parse_spec


def test_paper_preset_matches_the_paper_and_adaptsegnet():
    cfg = TrainConfig.preset("paper")
    assert cfg.model.arch == "deeplabv2_r101"
    assert (cfg.data.source_size, cfg.data.target_size) == ((720, 1280), (512, 1024))
    o = cfg.optim
    assert (o.optimizer, o.lr, o.momentum, o.weight_decay, o.head_lr_mult) == ("sgd", 2.5e-4, 0.9, 5e-4, 10.0)
    assert (o.iterations, o.schedule_iterations, o.power) == (150_000, 250_000, 0.9)
    assert (o.d_lr, o.d_betas) == (1e-4, (0.9, 0.99))
    assert (cfg.loss.lambda_adv, cfg.loss.lambda_pfr, cfg.data.batch_size) == (0.002, 0.004, 1)
    assert (cfg.loss.lambda_seg_aux, cfg.loss.lambda_adv_aux) == (0.1, 0.0002)


@pytest.mark.parametrize("method,adv,pfr", [
    ("source_only", 0, 0), ("adaptsegnet", 0.002, 0), ("pfr", 0, 0.004), ("pfr_adv", 0.002, 0.004), ("oracle", 0, 0),
])
def test_methods_are_presets_of_the_loss_weights(method, adv, pfr):
    w = TrainConfig.preset("paper", method=method).loss.effective_weights()
    assert (w["adv"], w["pfr"], w["seg"]) == (adv, pfr, 1.0)
    assert w["adv_aux"] == (0.0002 if adv else 0.0)


def test_flat_and_sectioned_overrides_with_string_coercion():
    cfg = TrainConfig.preset("cpu", lr="1e-3", iterations="20", synth_size="32x64", pfr_stages="3,4",
                             hflip="true", source_val="none", **{"optim.d_lr": 5e-5, "run__seed": 3})
    assert (cfg.optim.lr, cfg.optim.iterations, cfg.data.synth_size) == (1e-3, 20, (32, 64))
    assert (cfg.loss.pfr_stages, cfg.data.hflip, cfg.data.source_val) == ((3, 4), True, None)
    assert (cfg.optim.d_lr, cfg.run.seed) == (5e-5, 3)
    again = cfg.replace(seed=4)
    assert again.run.seed == 4 and cfg.run.seed == 3  # replace returns a copy


def test_unknown_field_and_bad_type_are_named():
    with pytest.raises(ValueError, match="lamda_pfr"):
        TrainConfig.preset("cpu", lamda_pfr=1.0)
    with pytest.raises(ValueError, match="iterations"):
        TrainConfig.preset("cpu", iterations="many")
    with pytest.raises(ValueError, match="preset"):
        TrainConfig.preset("gpu")


def test_json_round_trip(tmp_path):
    cfg = TrainConfig.preset("cpu", method="pfr", seed=7, model_kwargs={"width": 8}, eval_size=(32, 64))
    assert TrainConfig.from_dict(cfg.to_dict()) == cfg
    path = tmp_path / "config.json"
    cfg.to_json(path)
    assert TrainConfig.from_json(path) == cfg
    assert not list(tmp_path.glob(".*tmp"))  # atomic write left no temp file


def test_command_line_overrides_every_field():
    parser = add_arguments(argparse.ArgumentParser())
    args = parser.parse_args(["--preset", "cpu", "--method", "adaptsegnet", "--lambda-pfr", "3",
                              "--synth-size", "32", "64", "--no-progress", "--multi-level",
                              "--model-kwargs", '{"width": 4}', "--iterations", "5"])
    cfg = config_from_args(args)
    assert (cfg.loss.method, cfg.loss.lambda_pfr, cfg.data.synth_size) == ("adaptsegnet", 3.0, (32, 64))
    assert (cfg.run.progress, cfg.model.multi_level, cfg.model.model_kwargs) == (False, True, {"width": 4})
    assert cfg.optim.iterations == 5 and cfg.optim.lr == TrainConfig.preset("cpu").optim.lr
    assert len(TrainConfig.field_index()) == len(cfg.flat())  # flat names are unique
    # booleans also take an explicit value (as pfrlib.sweep writes them); lists as "2,3"
    args = parser.parse_args(["--overwrite", "true", "--progress", "false", "--pfr-stages", "2,3", "--hflip"])
    cfg = config_from_args(args)
    assert (cfg.run.overwrite, cfg.run.progress, cfg.loss.pfr_stages, cfg.data.hflip) == (True, False, (2, 3), True)


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


def test_image_scales_is_a_command_line_option_and_none_turns_it_off():
    """CLAN's rescaling through the field -> option machinery: several values, or ``none``."""
    cfg = config_from_argv(["--preset", "paper", "--image-scales", "0.8", "1", "1.1"])
    assert cfg.data.image_scales == (0.8, 1.0, 1.1)
    assert config_from_argv(["--preset", "paper", "--method", "clan", "--image-scales", "none"]).data.image_scales is None


def test_missing_data_root_is_named(tmp_path):
    cfg = TrainConfig.preset("cpu", target=f"folder:{tmp_path / 'missing'}")
    with pytest.raises(FileNotFoundError, match="target"):
        cfg.validate()
    with pytest.raises(FileNotFoundError, match="source"):
        TrainConfig.preset("paper").replace(source=f"gta5:{tmp_path / 'gta'}").validate()


def test_parse_spec():
    assert parse_spec("synth:target") == ("synth", "target", None)
    assert parse_spec("synth:source:val") == ("synth", "source", "val")
    assert parse_spec("cityscapes:/d/cs:val") == ("cityscapes", "/d/cs", "val")
    assert parse_spec("folder:/d/b") == ("folder", "/d/b", None)
    assert set(METHODS) == {"source_only", "adaptsegnet", "pfr", "pfr_adv", "oracle"}


# --------------------------------------------------------------------------- choices and the command line
def test_choices_are_field_metadata_read_by_validation_and_help():
    from pfrlib.paper import losses, optim
    from pfrlib import methods
    from pfrlib.config.train_config import field_choices_of
    from pfrlib.models import MODEL_NAMES

    assert field_choices_of("gram_normalize") == losses.GRAM_NORMALIZATIONS
    assert field_choices_of("content_form") == losses.CONTENT_FORMS and field_choices_of("gan") == losses.GAN_KINDS
    assert field_choices_of("param_listing") == optim.PARAM_LISTINGS and field_choices_of("schedule") == optim.SCHEDULES
    assert field_choices_of("method") == methods.names() and field_choices_of("arch") == MODEL_NAMES
    assert field_choices_of("lr") is None
    with pytest.raises(ValueError, match="unknown config field 'lamda'"):
        field_choices_of("lamda")
    with pytest.raises(ValueError, match=r"gan: unknown value 'wgan'; expected one of \('bce', 'lsgan'\)"):
        TrainConfig.preset("cpu", gan="wgan").validate()
    text = " ".join(add_arguments(argparse.ArgumentParser()).format_help().split())
    assert "one of chw, hw, none" in text and "one of " + ", ".join(methods.names()) in text


def test_baseline_sections_live_with_their_baselines():
    from pfrlib import methods

    cfg = TrainConfig.preset("cpu")
    for m in methods.methods("baseline"):
        section = getattr(cfg, m.section)
        assert type(section).__module__ == m.baseline.__module__  # CLANConfig beside CLAN
        assert set(section.loss_weights()) <= set(TrainConfig.preset("cpu", method=m.name).effective_weights())
        assert type(section).cpu() == section  # the cpu preset takes each section's own cpu values
    with pytest.raises(ValueError, match="clan_preheat"):
        TrainConfig.preset("cpu", clan_preheat=2.0).validate()


def test_summary_says_what_a_configuration_trains_in_a_few_lines():
    cfg = TrainConfig.preset("paper", method="pfr_adv", seed=3, iterations=20)
    lines = cfg.summary().splitlines()
    assert len(lines) <= 8
    text = cfg.summary()
    assert "pfr_adv" in text and "seed 3" in text and "20 iterations" in text and "deeplabv2_r101" in text
    assert "pfr 0.004" in text and "adv 0.002" in text  # the Eq. (6) weights in force
    assert "pfr " not in TrainConfig.preset("paper", method="adaptsegnet").summary().split("losses", 1)[1]
