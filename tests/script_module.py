"""A script of the repository (``benchmarks/*.py``, ``site/build_site.py``) loaded as a module, for tests."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]


def load_script(relative: str) -> ModuleType:
    """A fresh module of the script at ``relative`` (to the repository root), registered in
    ``sys.modules`` while it runs (dataclasses look their module up while a class is made)."""
    path = ROOT / relative
    name = "script_" + path.with_suffix("").relative_to(ROOT).as_posix().replace("/", "_")
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
