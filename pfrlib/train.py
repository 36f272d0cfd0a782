"""``python -m pfrlib.train``: train one run from the command line.

Every field of :class:`~pfrlib.config.train_config.TrainConfig` is an option
(:mod:`pfrlib.config.command_line`)::

    python -m pfrlib.train --preset cpu --method pfr_adv --seed 0 --out runs/x
    python -m pfrlib.train --preset cpu --out runs/x --resume
    torchrun --standalone --nproc_per_node=2 -m pfrlib.train --preset cpu --out runs/ddp

Under ``torchrun`` every rank draws its own ``batch_size`` samples from a disjoint shard of each
stream (so the effective batch is ``world_size * batch_size``; learning rates are not rescaled),
gradients are averaged by DistributedDataParallel, validation is sharded and its confusion
matrices summed, and rank 0 alone logs and writes checkpoints.

The run itself is :func:`pfrlib.engine.run.train`.
"""

from __future__ import annotations

import argparse
import sys
from typing import Optional

from pfrlib import methods
from pfrlib.config.command_line import add_arguments, config_from_args
from pfrlib.engine.rundir import resume_config_file
from pfrlib.engine.run import train_to_exit_status


def main(argv: Optional[list[str]] = None) -> int:
    """Parse ``argv``, train, print one line; the exit status (2: bad input, 3: non-finite loss)."""
    parser = argparse.ArgumentParser(
        prog="python -m pfrlib.train",
        description=f"Train {' / '.join(methods.names('ladder'))} (Eq. 6), or a Table-1 "
                    f"baseline: {' / '.join(methods.names('baseline'))}, or an input-space row "
                    f"(translator, then network): {' / '.join(methods.names('translation'))}.",
    )
    add_arguments(parser)
    args = parser.parse_args(argv)
    if args.resume and args.config is None and args.out is not None:
        saved = resume_config_file(args.out)
        if saved.is_file():  # --resume continues the run in --out with its own configuration
            args.config = str(saved)
    try:
        cfg = config_from_args(args)
    except (ValueError, FileNotFoundError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return train_to_exit_status(cfg)


if __name__ == "__main__":
    sys.exit(main())
