"""``python -m pfrlib.translation``: both stages of ``cycada`` / ``dlow`` / ``tgcf_da``."""

import sys

from .run import main

sys.exit(main())
