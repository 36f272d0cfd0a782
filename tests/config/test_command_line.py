"""pfrlib.config.command_line: every field as a --option (booleans with a value, lists, ``none``)."""

from __future__ import annotations

import argparse


from pfrlib.config.train_config import TrainConfig
from pfrlib.config.command_line import add_arguments, config_from_args, config_from_argv


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


def test_image_scales_is_a_command_line_option_and_none_turns_it_off():
    """CLAN's rescaling through the field -> option machinery: several values, or ``none``."""
    cfg = config_from_argv(["--preset", "paper", "--image-scales", "0.8", "1", "1.1"])
    assert cfg.data.image_scales == (0.8, 1.0, 1.1)
    assert config_from_argv(["--preset", "paper", "--method", "clan", "--image-scales", "none"]).data.image_scales is None
