"""Train several runs in one torchrun launch: ``python -m torch.distributed.run ... torchrun_many.py
ARGV_JSON``, where ARGV_JSON is a JSON list of ``python -m pfrlib.train`` argument lists.

Each rank joins the process group, calls :func:`pfrlib.train.main` on every list in turn (a run
keeps a group its caller joined) and leaves the group at the end, so the runs share one launch:
torchrun's agent, two interpreters and their imports once, not once per run. It stops at the
first run that does not exit 0, naming it, with that exit status.
"""

import json
import sys

from pfrlib.engine.distributed import cleanup, init_from_env
from pfrlib.train import main

if __name__ == "__main__":
    init_from_env("cpu")
    try:
        for argv in json.loads(sys.argv[1]):
            code = main(argv)
            if code != 0:
                print(f"torchrun_many: exit status {code} for {' '.join(argv)}", file=sys.stderr)
                sys.exit(code)
    finally:
        cleanup()
