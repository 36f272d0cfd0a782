"""Which device a run uses: ``RunConfig.device`` (``auto``, ``cpu``, ``cuda``, ``cuda:N``) -> ``torch.device``.

One rule for the trainer, the evaluator, the configuration's validation and the notebooks:
``auto`` means CUDA when it is available, else the CPU; asking for CUDA where there is none is an
error; under ``torchrun`` each process takes the GPU of its ``LOCAL_RANK``.
"""

from __future__ import annotations

from typing import Optional

import torch

__all__ = ["DEVICE_FORMS", "check_device_name", "device_type", "resolve_device"]

#: The accepted spellings of a device (``N`` a GPU index).
DEVICE_FORMS: tuple[str, ...] = ("auto", "cpu", "cuda", "cuda:N")


def check_device_name(name: str | torch.device) -> str:
    """``name`` as a string if it is one of :data:`DEVICE_FORMS` (no CUDA check), else a ``ValueError``."""
    name = str(name)
    if not (name in ("auto", "cpu", "cuda") or (name.startswith("cuda:") and name[5:].isdigit())):
        raise ValueError(f"device must be 'auto', 'cpu', 'cuda' or 'cuda:N', got {name!r}")
    return name


def device_type(name: str | torch.device) -> str:
    """``"cuda"`` or ``"cpu"``: the kind of device ``name`` resolves to (``auto``: CUDA if available)."""
    name = str(name)
    if name == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return "cuda" if name.startswith("cuda") else "cpu"


def resolve_device(name: str | torch.device = "auto", local_rank: Optional[int] = None) -> torch.device:
    """The ``torch.device`` a run uses.

    Args:
        name: ``auto`` (CUDA when available, else CPU), ``cpu``, ``cuda`` or ``cuda:N``.
        local_rank: under ``torchrun``, this process's ``LOCAL_RANK``: a CUDA run takes that GPU.

    Raises ``ValueError`` for another spelling, or for CUDA where none is available.
    """
    name = check_device_name(name)
    if name == "auto":
        name = device_type(name)
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ValueError(f"device: {name!r} requested but CUDA is not available")
        if local_rank is not None:
            return torch.device("cuda", local_rank)
    return torch.device(name)
