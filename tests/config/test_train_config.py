"""pfrlib.config.train_config: flat and sectioned overrides, JSON round trip, field metadata, the summary.

(The presets, the command line and the validation are tested in their modules' files.)"""

from __future__ import annotations

import argparse

import pytest

from pfrlib import methods
from pfrlib.config import METHODS
from pfrlib.config.train_config import TrainConfig
from pfrlib.config.command_line import add_arguments, config_from_argv
from pfrlib.data.spec import parse_spec
from pfrlib.models import model_title


def test_flat_and_sectioned_overrides_with_string_coercion():
    cfg = TrainConfig.preset("cpu", lr="1e-3", iterations="20", synth_size="32x64", pfr_stages="3,4",
                             hflip="true", source_val="none", **{"optim.d_lr": 5e-5, "run__seed": 3})
    assert (cfg.optim.lr, cfg.optim.iterations, cfg.data.synth_size) == (1e-3, 20, (32, 64))
    assert (cfg.loss.pfr_stages, cfg.data.hflip, cfg.data.source_val) == ((3, 4), True, None)
    assert (cfg.optim.d_lr, cfg.run.seed) == (5e-5, 3)
    again = cfg.replace(seed=4)
    assert again.run.seed == 4 and cfg.run.seed == 3  # replace returns a copy


def test_target_test_follows_the_target_unless_given():
    assert TrainConfig.preset("cpu").data.target_test == "synth:target:test"
    assert TrainConfig.preset("paper").data.target_test is None  # Cityscapes: the user's choice
    assert TrainConfig.preset("paper", target="synth:target").data.target_test == "synth:target:test"
    assert TrainConfig.preset("cpu", target="folder:/t").data.target_test is None
    assert TrainConfig.preset("cpu", target="folder:/t", target_test="folder:/u").data.target_test == "folder:/u"
    assert TrainConfig.preset("cpu", target_test="none").data.target_test is None
    assert config_from_argv(["--target-test", "none"]).data.target_test is None
    assert config_from_argv(["--target", "folder:/t"]).data.target_test is None
    old = TrainConfig.preset("cpu").to_dict()
    del old["data"]["target_test"]  # a config.json written before the field
    assert TrainConfig.from_dict(old) == TrainConfig.preset("cpu")


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


def test_parse_spec():
    assert parse_spec("synth:target") == ("synth", "target", None)
    assert parse_spec("synth:source:val") == ("synth", "source", "val")
    assert parse_spec("cityscapes:/d/cs:val") == ("cityscapes", "/d/cs", "val")
    assert parse_spec("folder:/d/b") == ("folder", "/d/b", None)
    assert set(METHODS) == {"source_only", "adaptsegnet", "pfr", "pfr_adv", "oracle"}


# --------------------------------------------------------------------------- choices and the command line
def test_choices_are_field_metadata_read_by_validation_and_help():
    from pfrlib.paper import losses, optim
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
    assert "seed 3" in text and "20 iterations" in text
    # each key only as the option that selects it, then in words
    assert f"--method pfr_adv: {methods.get('pfr_adv').title}" in text
    assert f"--arch deeplabv2_r101: {model_title('deeplabv2_r101')}" in text
    assert "pfr 0.004" in text and "adv 0.002" in text  # the Eq. (6) weights in force
    assert "pfr " not in TrainConfig.preset("paper", method="adaptsegnet").summary().split("losses", 1)[1]
