"""A pool of past fakes (Shrivastava et al. 2017, as CycleGAN uses it, Sec. 4 "Training details").

The discriminator is updated with a history of generated images rather than only the newest
ones: the pool keeps up to ``size`` translated images (CycleGAN: 50). For each new image of the
batch, while the pool is not full it is stored and returned; afterwards, with probability 1/2 a
random stored image is returned and replaced by the new one, otherwise the new one is returned.

Deterministic and resumable: the coin flips and indices come from the pool's own
``torch.Generator``, and :meth:`state_dict` holds the images and the generator's state.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

__all__ = ["ImagePool"]


class ImagePool:
    """``pool.query(fakes)``: ``B x C x H x W`` detached fakes in, ``B x C x H x W`` out (module docstring)."""

    def __init__(self, size: int, seed: int = 0) -> None:
        if size < 0:
            raise ValueError(f"pool_size must be >= 0 (0 = no pool), got {size}")
        self.size = size
        self.images: list[Tensor] = []
        self.generator = torch.Generator().manual_seed(seed)

    def query(self, fakes: Tensor) -> Tensor:
        fakes = fakes.detach()
        if self.size == 0:
            return fakes
        out = []
        for image in fakes:
            if len(self.images) < self.size:
                self.images.append(image.clone())
                out.append(image)
                continue
            if float(torch.rand((), generator=self.generator)) < 0.5:
                i = int(torch.randint(len(self.images), (), generator=self.generator))
                out.append(self.images[i].clone())
                self.images[i] = image.clone()
            else:
                out.append(image)
        return torch.stack(out)

    def state_dict(self) -> dict[str, Any]:
        images = torch.stack(self.images).cpu() if self.images else torch.zeros(0)
        return {"images": images, "generator": self.generator.get_state()}

    def load_state_dict(self, state: dict[str, Any], device: torch.device | str = "cpu") -> None:
        images = state["images"]
        self.images = [t.to(device) for t in images] if images.numel() else []
        self.generator.set_state(state["generator"])
