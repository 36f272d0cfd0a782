"""SynthStreets generation speed: images per second on one core, per domain and size.

Rendering is numpy + PIL on the calling thread (no torch threads involved), so this measures
what one DataLoader worker delivers. The bar (issue 3): >= 200 images/s at 64 x 128.

Usage::

    python benchmarks/synth_speed.py                 # 64x128, both domains, 500 images each
    python benchmarks/synth_speed.py --sizes 64x128 128x256 --n 300
    python benchmarks/synth_speed.py --markdown benchmarks/results/synth_speed.md   # docs/results.md's table
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pfrlib.data.synthstreets.dataset import SynthStreets  # noqa: E402


def images_per_second(domain: str, size: tuple[int, int], n: int, repeats: int = 3) -> float:
    """Best of ``repeats`` passes over ``n`` fresh items (``dataset[i]``: render + tensors)."""
    ds = SynthStreets(domain, "train", size=size, length=n * (repeats + 1))
    ds[0]  # build the per-size texture / noise banks outside the timing
    best = float("inf")
    for r in range(repeats):
        start = time.perf_counter()
        for i in range(1 + r * n, 1 + (r + 1) * n):
            ds[i]
        best = min(best, time.perf_counter() - start)
    return n / best


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", nargs="+", default=["64x128"], help="HxW, e.g. 64x128 128x256")
    p.add_argument("--n", type=int, default=500, help="images per timed pass")
    p.add_argument("--markdown", default=None, help="also write the table to this file")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    lines = ["| domain | size | images/s (1 core) | ms / image |", "|---|---|---|---|"]
    print("\n".join(lines), flush=True)
    for s in args.sizes:
        h, w = (int(v) for v in s.lower().split("x"))
        for domain in ("source", "target"):
            ips = images_per_second(domain, (h, w), args.n)
            lines.append(f"| {domain} | {h}x{w} | {ips:.0f} | {1000 / ips:.2f} |")
            print(lines[-1], flush=True)
    if args.markdown:
        Path(args.markdown).write_text("\n".join(lines) + "\n")

if __name__ == "__main__":
    main()
