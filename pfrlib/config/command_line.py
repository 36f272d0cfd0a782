"""The command line of a training run: one ``--option`` per :class:`~pfrlib.config.TrainConfig` field.

``python -m pfrlib.train --preset cpu --method pfr --lambda-pfr 0.3`` builds its configuration
here: :func:`add_arguments` adds ``--preset``, ``--config`` and, for every field, ``--flat-name``
(``--lambda-pfr``, ``--param-listing``, ...; booleans also as a bare flag and ``--no-flag``;
tuples as several values, ``--source-size 720 1280``; a field's choices are listed in ``--help``);
:func:`config_from_args` applies the given options to the preset (or to ``--config``).
:func:`config_from_argv` tells what ``python -m pfrlib.train ARGV`` would train.

The options are the configuration's own fields, so this lives in the configuration package;
:mod:`pfrlib.config.command_line` is its public name.
"""

from __future__ import annotations

import argparse
import typing
from dataclasses import fields

from pfrlib.config.fields import field_choices, field_types, type_name, unwrap_optional
from pfrlib.config.presets import PRESETS
from pfrlib.config.train_config import SECTION_TYPES, SECTIONS, TrainConfig

__all__ = ["add_arguments", "config_from_args", "config_from_argv"]


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add ``--preset``, ``--config`` and one ``--flat-name`` option per config field.

    Options default to ``None`` (= the preset's value). A boolean field is ``--flag``,
    ``--flag true|false`` or ``--no-flag``; an optional boolean (``--bf16``) also takes ``auto``.
    Values are checked by :meth:`TrainConfig.validate` (one error message for every entry point).
    """
    parser.add_argument("--preset", default="cpu", help=f"one of {PRESETS} (default: cpu)")
    parser.add_argument("--config", default=None, help="a config.json to start from instead of a preset")
    for section in SECTIONS:
        group = parser.add_argument_group(section)
        types_ = field_types(SECTION_TYPES[section])
        for f in fields(SECTION_TYPES[section]):
            flag = "--" + f.name.replace("_", "-")
            ftype = types_[f.name]
            base, optional = unwrap_optional(ftype)
            if base is bool:
                # --flag, --flag true|false (|auto for optional booleans), --no-flag
                group.add_argument(flag, dest=f.name, default=None, nargs="?", const=True, metavar="BOOL",
                                   help=f"bool ({section}); bare flag = true" + ("; auto = decide by device" if optional else ""))
                group.add_argument("--no-" + flag[2:], dest=f.name, action="store_const", const=False,
                                   help=argparse.SUPPRESS)
            else:
                nargs = "+" if typing.get_origin(base) is tuple else None
                allowed = field_choices(f)
                words = f"; {'each ' if nargs else ''}one of {', '.join(map(str, allowed))}" if allowed else ""
                group.add_argument(flag, dest=f.name, default=None, nargs=nargs, metavar=f.name.upper(),
                                   help=f"{type_name(ftype)} ({section}){words}")
    return parser


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """Preset (or ``--config``) plus every option given on the command line."""
    overrides = {name: getattr(args, name) for name in TrainConfig.field_index() if getattr(args, name, None) is not None}
    if getattr(args, "config", None):
        return TrainConfig.from_json(args.config).replace(**overrides)
    return TrainConfig.preset(args.preset, **overrides)


def config_from_argv(argv: list[str]) -> TrainConfig:
    """The configuration ``python -m pfrlib.train ARGV`` trains (``--resume`` aside, which reads
    the run's saved ``config.json``), e.g. ``config_from_argv(["--preset", "cpu", "--seed", "1"])``.
    """
    parser = argparse.ArgumentParser(prog="python -m pfrlib.train")
    add_arguments(parser)
    return config_from_args(parser.parse_args(argv))
