"""SynthStreets domain gap: source-only vs oracle with the CPU model, over several seeds.

The bar this benchmark checks (issue 3): with ``build_model("small")`` and 1000 iterations,

* source-only reaches >= 80 mIoU on the *source* val split (the task is learnable), and
* its *target* val mIoU is >= 40 points below an oracle trained on target labels (the shift
  is large).

The loop is deliberately minimal (the engine in ``pfrlib.train`` does much more): Adam, lr
2e-3, batch 8, cross-entropy with ignore 255 (``pfrlib.paper.losses.segmentation_loss``, Eq. 1),
no augmentation; mIoU from one confusion matrix over the val split, restricted to
``dataset.class_ids`` (``pfrlib.paper.metrics``), logits upsampled bilinearly (align_corners=True).
Data are rendered once into ``--cache-dir`` and read from memory, so ms/iteration is the
training step only.

``--components`` additionally evaluates each source-only model on target val rendered with
one :class:`~pfrlib.data.SynthShift` component at a time (and with all but one): what each
part of the shift costs.

Usage::

    python benchmarks/synth_gap.py                      # 3 seeds, prints the markdown table
    python benchmarks/synth_gap.py --seeds 0 --components
    python benchmarks/synth_gap.py --json benchmarks/results/synth_gap.json \
        --markdown benchmarks/results/synth_gap.md      # docs/results.md's table (pasted between markers)
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pfrlib.data.synthstreets.shift import SynthShift
from pfrlib.data.synthstreets.dataset import SynthStreets
from pfrlib.data.transforms import normalize  # noqa: E402
from pfrlib.paper.losses import segmentation_loss  # noqa: E402
from pfrlib.paper.metrics import confusion_matrix, miou  # noqa: E402
from pfrlib.models import build_model  # noqa: E402


def load(ds: SynthStreets) -> tuple[torch.Tensor, torch.Tensor]:
    """All items of a dataset as (uint8 N x 3 x H x W, int64 N x H x W)."""
    images = torch.empty((len(ds), 3, *ds.size), dtype=torch.uint8)
    labels = torch.empty((len(ds), *ds.size), dtype=torch.int64)
    for i in range(len(ds)):
        images[i], labels[i] = ds[i]
    return images, labels


def train(images: torch.Tensor, labels: torch.Tensor, seed: int, iterations: int, batch: int, lr: float):
    """Train the small model from scratch; returns (model, ms per iteration)."""
    torch.manual_seed(seed)
    model = build_model("small", num_classes=19, multi_level=False)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(images), generator=gen)
    pos = 0
    model.train()
    start = time.perf_counter()
    for _ in range(iterations):
        if pos + batch > len(order):
            order, pos = torch.randperm(len(images), generator=gen), 0
        idx = order[pos:pos + batch]
        pos += batch
        x = normalize(images[idx], model.normalization)
        loss = segmentation_loss(model(x).logits, labels[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return model, 1000.0 * (time.perf_counter() - start) / iterations


@torch.no_grad()
def evaluate(model, images: torch.Tensor, labels: torch.Tensor, class_ids, batch: int = 50) -> float:
    """mIoU (percent) over the whole set, restricted to ``class_ids``."""
    model.eval()
    cm = torch.zeros(19, 19, dtype=torch.long)
    for i in range(0, len(images), batch):
        x = normalize(images[i:i + batch], model.normalization)
        logits = model(x).logits
        logits = torch.nn.functional.interpolate(logits, size=labels.shape[-2:], mode="bilinear", align_corners=True)
        cm += confusion_matrix(logits.argmax(1), labels[i:i + batch], 19)
    model.train()
    return 100.0 * miou(cm, class_ids)


def mean_std(values: list[float]) -> str:
    if len(values) == 1:
        return f"{values[0]:.1f}"
    return f"{statistics.mean(values):.1f} ± {statistics.stdev(values):.1f}"


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seeds", default="0,1,2", help="comma-separated seeds (data and model)")
    p.add_argument("--iterations", type=int, default=1000)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--size", type=int, nargs=2, default=(64, 128), metavar=("H", "W"))
    p.add_argument("--train-length", type=int, default=4000)
    p.add_argument("--val-length", type=int, default=500)
    p.add_argument("--cache-dir", default=".cache/synthstreets", help="rendered datasets are kept here")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    p.add_argument("--components", action="store_true", help="also evaluate each shift component alone")
    p.add_argument("--no-oracle", action="store_true")
    p.add_argument("--json", default=None, help="write the results to this JSON file")
    p.add_argument("--markdown", default=None, help="also write the report (docs/results.md's table) to this file")
    args = p.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    seeds = [int(s) for s in args.seeds.split(",")]
    size = tuple(args.size)
    common = dict(size=size, cache_dir=args.cache_dir)

    rows: dict[str, list] = {"src_src": [], "src_tgt": [], "oracle_tgt": [], "ms_src": [], "ms_oracle": []}
    components: dict[str, list[float]] = {}
    for seed in seeds:
        src_train = SynthStreets("source", "train", length=args.train_length, seed=seed, **common)
        src_val = SynthStreets("source", "val", length=args.val_length, seed=seed, **common)
        tgt_val = SynthStreets("target", "val", length=args.val_length, seed=seed, **common)
        sv, tv = load(src_val), load(tgt_val)
        model, ms = train(*load(src_train), seed, args.iterations, args.batch_size, args.lr)
        rows["src_src"].append(evaluate(model, *sv, src_val.class_ids))
        rows["src_tgt"].append(evaluate(model, *tv, tgt_val.class_ids))
        rows["ms_src"].append(ms)
        print(f"seed {seed}: source-only  source val {rows['src_src'][-1]:.1f}  target val {rows['src_tgt'][-1]:.1f}"
              f"  ({ms:.1f} ms/it)", flush=True)
        if args.components:
            shifts = {"none": SynthShift.none()}
            shifts.update({f"only {c}": SynthShift.only(c) for c in SynthShift.components()})
            shifts.update({f"all but {c}": SynthShift.full().replace(**{c: 0.0}) for c in SynthShift.components()})
            for name, shift in shifts.items():
                ds = SynthStreets("target", "val", length=args.val_length, seed=seed, shift=shift, **common)
                components.setdefault(name, []).append(evaluate(model, *load(ds), ds.class_ids))
        if not args.no_oracle:
            tgt_train = SynthStreets("target", "train", length=args.train_length, seed=seed, **common)
            oracle, ms_o = train(*load(tgt_train), seed, args.iterations, args.batch_size, args.lr)
            rows["oracle_tgt"].append(evaluate(oracle, *tv, tgt_val.class_ids))
            rows["ms_oracle"].append(ms_o)
            print(f"seed {seed}: oracle       target val {rows['oracle_tgt'][-1]:.1f}  ({ms_o:.1f} ms/it)", flush=True)

    n = len(seeds)
    classes = ", ".join(str(c) for c in SynthStreets.class_ids)
    report = [f"SynthStreets {size[0]}x{size[1]}, small model, {args.iterations} iterations, batch {args.batch_size}, "
              f"Adam lr {args.lr:g}, seeds {args.seeds}; mIoU (%) over trainIds {classes}; "
              f"torch threads {torch.get_num_threads()}, {os.cpu_count()} CPUs; "
              f"{n} seed{'s' if n > 1 else ''}: mean ± sample std", "",
              "| run | source-val mIoU | target-val mIoU | ms / iteration |", "|---|---|---|---|",
              f"| source only | {mean_std(rows['src_src'])} | {mean_std(rows['src_tgt'])} | {mean_std(rows['ms_src'])} |"]
    if rows["oracle_tgt"]:
        gaps = [o - s for o, s in zip(rows["oracle_tgt"], rows["src_tgt"])]
        report += [f"| oracle (target labels) | - | {mean_std(rows['oracle_tgt'])} | {mean_std(rows['ms_oracle'])} |",
                   f"| gap (oracle - source only) | | **{mean_std(gaps)}** | |"]
    if components:
        report += ["", "Source-only model on target val with shift components switched on alone / all but one:", "",
                   "| target rendered with | target val mIoU |", "|---|---|"]
        report += [f"| {name} | {mean_std(vals)} |" for name, vals in components.items()]
    text = "\n".join(report) + "\n"
    print("\n" + text)
    if args.markdown:
        Path(args.markdown).write_text(text)
    result = {"args": vars(args), **rows, "components": components}
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1, default=lambda o: list(o) if isinstance(o, tuple) else str(o)))
    ok = (statistics.mean(rows["src_src"]) >= 80
          and (not rows["oracle_tgt"] or statistics.mean(rows["oracle_tgt"]) - statistics.mean(rows["src_tgt"]) >= 40))
    print(f"\nbar (source val >= 80, oracle - source-only on target >= 40): {'met' if ok else 'NOT met'}")
    return result


if __name__ == "__main__":
    main()
