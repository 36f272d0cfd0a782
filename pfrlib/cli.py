"""The command line of a training run: one ``--option`` per :class:`~pfrlib.config.TrainConfig` field.

``python -m pfrlib.train --preset cpu --method pfr --lambda-pfr 0.3``: :func:`add_arguments`
adds the options to a parser, :func:`config_from_args` builds the configuration from them, and
:func:`config_from_argv` tells what a command line would train. They are defined beside the
fields they map (:mod:`pfrlib.config.command_line`); this module is their public name for the
launch layer (``pfrlib.train``, ``pfrlib.sweep``). The arrow points one way: this module imports
the configuration, the configuration never imports it.
"""

from __future__ import annotations

from .config.command_line import add_arguments, config_from_args, config_from_argv

__all__ = ["add_arguments", "config_from_args", "config_from_argv"]
