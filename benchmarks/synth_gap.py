"""SynthStreets domain gap: source-only vs oracle with the CPU model, over several seeds.

The bar this benchmark checks (issue 3): with ``build_model("small")`` and 1000 iterations,

* source-only reaches >= 80 mIoU on the *source* val split (the task is learnable), and
* its *target* val mIoU is >= 40 points below an oracle trained on target labels (the shift
  is large).

It runs on SynthStreets-19 (the default benchmark, ``--classes 19``) at the benchmark's default size
(64 x 128, ``--size``) and evaluates the target on its ``test`` split (``--eval-split``);
``--classes 9`` runs the 9-class SynthStreets, evaluated on ``val`` by default (where its committed
numbers, ``benchmarks/results/synth_gap.json``, come from). ``--per-class`` adds each class's IoU; the learnability bar of SynthStreets-19
is the oracle's >= 20 IoU on every class.

The loop is deliberately minimal (the engine in ``pfrlib.train`` does much more): Adam, lr
2e-3, batch 8, cross-entropy with ignore 255 (``pfrlib.paper.losses.segmentation_loss``, Eq. 1),
no augmentation; mIoU from one confusion matrix over the val split, restricted to
``dataset.class_ids`` (``pfrlib.paper.metrics``), logits upsampled bilinearly (align_corners=True).
Data are rendered once into ``--cache-dir`` and read from memory, so ms/iteration is the
training step only.

``--components`` measures what each part of the shift costs: for every component alone and for
the full shift minus each, the target is rendered with that shift, an oracle is trained on its
``train`` split, and the source-only -> oracle gap is measured on its evaluation split (the
source-only model is the same for every row: the source does not change). 1 + 2 x (number of
components) oracles per seed: plan the CPU time (``--iterations`` and lengths scale it).

``--merge JSON ...`` puts the ``--json`` files of runs that differ only in their seeds into the
table one run over all their seeds would write (so seeds can run in parallel, one core each).

``--tabulate RUN_DIR ...`` reads the ``final.json`` (and ``config.json``) of training runs
(``python -m pfrlib.train``, e.g. the ``cpu`` preset on SynthStreets-19) and prints their target
per-class IoU, mean over the runs of each method, with the split the numbers come from and the
wall time of each run.

``--shares`` counts the per-class pixel shares of ``--shares-images`` target *test* images of
SynthStreets-19 and prints them beside Cityscapes' published shares
(:mod:`pfrlib.data.synthstreets.shares`); with ``--docs`` it rewrites the table between the
``synth19-shares`` markers of ``docs/datasets.md`` (the table the tests compare with).

Usage::

    python benchmarks/synth_gap.py                      # 3 seeds, prints the markdown table
    python benchmarks/synth_gap.py --seeds 0 --components --per-class --docs   # docs/datasets.md's component table
    python benchmarks/synth_gap.py --classes 9 --seeds 0 --components
    python benchmarks/synth_gap.py --seeds 1 --components --per-class --threads 1 --json s1.json   # one per core
    python benchmarks/synth_gap.py --merge s0.json s1.json s2.json --docs --json J --markdown M   # the 3-seed table
    python benchmarks/synth_gap.py --shares --docs       # docs/datasets.md's shares table
    python benchmarks/synth_gap.py --classes 9 --json benchmarks/results/synth_gap.json \
        --markdown benchmarks/results/synth_gap.md      # the 9-class table of docs/results.md
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

from pfrlib.data.labels import CLASS_NAMES  # noqa: E402
from pfrlib.data.synthstreets.dataset import DEFAULT_CLASSES, DEFAULT_SIZE, SYNTH_VERSIONS, SynthStreets  # noqa: E402
from pfrlib.data.synthstreets.shares import label_shares, shares_markdown  # noqa: E402
from pfrlib.data.synthstreets.shift import SynthShift, SynthShift19  # noqa: E402
from pfrlib.data.transforms import normalize  # noqa: E402
from pfrlib.paper.losses import segmentation_loss  # noqa: E402
from pfrlib.paper.metrics import confusion_matrix, iou, miou  # noqa: E402
from pfrlib.models import build_model  # noqa: E402
from pfrlib.io import write_block  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
#: The tables ``--docs`` writes into docs/datasets.md, between ``<!-- NAME:start -->`` and ``<!-- NAME:end -->``.
DOCS_SECTIONS = {"shares": "synth19-shares", "tabulate": "synth19-course", "tabulate_large": "synth19-cpu",
                 "components": "synth19-components"}
SHARES_WHAT = "SynthStreets-19 target test split, {n} images at {h}x{w}, seed {seed}"


def load(ds: SynthStreets) -> tuple[torch.Tensor, torch.Tensor]:
    """All items of a dataset as (uint8 N x 3 x H x W, uint8 N x H x W trainIds)."""
    images = torch.empty((len(ds), 3, *ds.size), dtype=torch.uint8)
    labels = torch.empty((len(ds), *ds.size), dtype=torch.uint8)
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
        loss = segmentation_loss(model(x).logits, labels[idx].long())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return model, 1000.0 * (time.perf_counter() - start) / iterations


@torch.no_grad()
def confusion(model, images: torch.Tensor, labels: torch.Tensor, batch: int = 50) -> torch.Tensor:
    """The 19 x 19 confusion matrix over the whole set."""
    model.eval()
    cm = torch.zeros(19, 19, dtype=torch.long)
    for i in range(0, len(images), batch):
        x = normalize(images[i:i + batch], model.normalization)
        logits = model(x).logits
        logits = torch.nn.functional.interpolate(logits, size=labels.shape[-2:], mode="bilinear", align_corners=True)
        cm += confusion_matrix(logits.argmax(1), labels[i:i + batch].long(), 19)
    model.train()
    return cm


def evaluate(model, images: torch.Tensor, labels: torch.Tensor, class_ids, batch: int = 50) -> float:
    """mIoU (percent) over the whole set, restricted to ``class_ids``."""
    return 100.0 * miou(confusion(model, images, labels, batch), class_ids)


def write_shares(n: int, seed: int, docs: bool) -> str:
    """The SynthStreets-19 target test shares table; with ``docs``, written into docs/datasets.md."""
    ds = SynthStreets("target", "test", classes=19, length=n, seed=seed)
    table = shares_markdown(label_shares(ds), SHARES_WHAT.format(n=n, h=ds.size[0], w=ds.size[1], seed=seed))
    print(table)
    if docs:
        write_docs(DOCS_SECTIONS["shares"], table)
    return table


def write_docs(name: str, table: str, path: Path = ROOT / "docs" / "datasets.md") -> None:
    """Replace the generated block ``name`` of ``path`` (docs/datasets.md by default) with ``table``."""
    try:
        write_block(path, name, table)
    except ValueError as err:
        raise SystemExit(str(err)) from None
    print(f"wrote the table into {path} ({name})")


def mean_std(values: list[float]) -> str:
    if len(values) == 1:
        return f"{values[0]:.1f}"
    return f"{statistics.mean(values):.1f} ± {statistics.stdev(values):.1f}"


def component_shifts(shift_type: type[SynthShift]) -> dict[str, SynthShift]:
    """The ``--components`` rows: the full shift, each component alone, the full shift minus each."""
    shifts = {"full shift": shift_type.full()}
    shifts.update({f"only {c}": shift_type.only(c) for c in shift_type.components()})
    shifts.update({f"all but {c}": shift_type.full().replace(**{c: 0.0}) for c in shift_type.components()})
    return shifts


def per_class_table(cms: dict[str, list[torch.Tensor]], class_ids, split: str) -> list[str]:
    """Per-class IoU (%) on the target evaluation split, mean over seeds, one column per run."""
    names = list(cms)
    lines = [f"Per-class IoU (%) on target {split}, mean over seeds:", "",
             "| class | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    values = {n: torch.stack([iou(cm) for cm in cms[n]]).mean(0) for n in names}
    for c in class_ids:
        lines.append(f"| {CLASS_NAMES[c]} | " + " | ".join(f"{100 * float(values[n][c]):.1f}" for n in names) + " |")
    if "oracle" in values:
        worst = min(class_ids, key=lambda c: float(values["oracle"][c]))
        lines += ["", f"oracle's lowest class: {CLASS_NAMES[worst]} {100 * float(values['oracle'][worst]):.1f} "
                      f"(bar: >= 20 on every class)"]
    return lines


def tabulate(run_dirs: list[str]) -> str:
    """Per-class target IoU (%) of finished training runs, mean over the runs of each method: on the
    target test split where the runs scored it (``final.json``'s ``target_test``), else on their
    target val set; the caption names the split."""
    runs: dict[str, list[dict]] = {}
    for d in run_dirs:
        final = json.loads((Path(d) / "final.json").read_text())
        config = json.loads((Path(d) / "config.json").read_text())
        runs.setdefault(final["method"], []).append({"final": final, "config": config})
    first = next(iter(runs.values()))[0]
    key = "target_test" if all(r["final"].get("target_test") for rs in runs.values() for r in rs) else "target_val"
    scores = lambda r: r["final"][key]  # noqa: E731
    data, spec = first["config"]["data"], scores(first)["spec"]
    lines = [f"Target per-class IoU (%) on `{spec}` ({scores(first)['num_images']} images), "
             f"SynthStreets-{data.get('synth_classes', 9)} {data['synth_size'][0]}x{data['synth_size'][1]}, "
             f"data seed {data.get('synth_seed', 0)}, preset {first['final']['preset']}, "
             f"{first['final']['iterations']} iterations, last iteration's model; mean ± std over training seeds "
             + ", ".join(f"{m} {sorted(r['final']['seed'] for r in rs)}" for m, rs in runs.items()) + ".", "",
             "| class | " + " | ".join(runs) + " |", "|---|" + "---|" * len(runs)]
    names = list(scores(first)["per_class_iou"])
    ids = scores(first)["class_ids"]
    for i, name in enumerate(names):
        if i not in ids:
            continue
        cells = []
        for rs in runs.values():
            vals = [scores(r)["per_class_iou"][name] for r in rs]
            cells.append(mean_std([100 * v for v in vals]))
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lowest = []
    for rs in runs.values():
        means = {n: statistics.mean(100 * scores(r)["per_class_iou"][n] for r in rs)
                 for i, n in enumerate(names) if i in ids}
        worst = min(means, key=means.get)
        lowest.append(f"{worst} {means[worst]:.1f}")
    lines.append("| lowest class (mean) | " + " | ".join(lowest) + " |")
    miou = (lambda r: r["final"]["target_test"]["miou"]) if key == "target_test" else (lambda r: r["final"]["target_miou"])
    lines.append("| **mIoU** | " + " | ".join(mean_std([100 * miou(r) for r in rs]) for rs in runs.values()) + " |")
    lines.append("| wall time (s) | " + " | ".join(mean_std([r["final"]["wall_time_s"] for r in rs])
                                                 for rs in runs.values()) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seeds", default="0,1,2", help="comma-separated seeds (data and model)")
    p.add_argument("--iterations", type=int, default=1000)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--classes", type=int, choices=SYNTH_VERSIONS, default=DEFAULT_CLASSES,
                   help=f"SynthStreets-19 (19) or the 9-class SynthStreets (9) (default: {DEFAULT_CLASSES})")
    p.add_argument("--size", type=int, nargs=2, default=list(DEFAULT_SIZE), metavar=("H", "W"),
                   help=f"image size (default: {DEFAULT_SIZE[0]} {DEFAULT_SIZE[1]})")
    p.add_argument("--eval-split", choices=("val", "test"), default=None,
                   help="target split the numbers are reported on (default: val for 9 classes, test for 19)")
    p.add_argument("--train-length", type=int, default=4000)
    p.add_argument("--val-length", type=int, default=500, help="images of each evaluation split")
    p.add_argument("--cache-dir", default=".cache/synthstreets", help="rendered datasets are kept here")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    p.add_argument("--components", action="store_true",
                   help="the source-only -> oracle gap with each shift component alone and with all but one")
    p.add_argument("--per-class", action="store_true", help="also report per-class IoU on the target split")
    p.add_argument("--no-oracle", action="store_true")
    p.add_argument("--shares", action="store_true",
                   help="only print SynthStreets-19's target test class shares beside Cityscapes' published ones")
    p.add_argument("--shares-images", type=int, default=300)
    p.add_argument("--docs", action="store_true",
                   help="write the --shares, --tabulate or (19 classes) --components table into docs/datasets.md")
    p.add_argument("--tabulate", nargs="+", metavar="RUN_DIR", default=None,
                   help="only print the per-class target IoU of these finished training runs")
    p.add_argument("--merge", nargs="+", metavar="JSON", default=None,
                   help="only merge the --json files of runs that differ in their seeds into one table")
    p.add_argument("--json", default=None, help="write the results to this JSON file")
    p.add_argument("--markdown", default=None, help="also write the report (docs/results.md's table) to this file")
    args = p.parse_args(argv)
    if args.docs and not (args.shares or args.tabulate or args.merge or (args.components and args.classes == 19)):
        p.error("--docs writes the table of --shares, --tabulate, --merge or --classes 19 --components: give one of them")
    seeds = [int(s) for s in args.seeds.split(",")]
    if args.tabulate:
        text = tabulate(args.tabulate)
        print(text)
        if args.markdown:
            Path(args.markdown).write_text(text)
        if args.docs:  # the course's size (the default) has its block; runs at another size the other
            size = json.loads((Path(args.tabulate[0]) / "config.json").read_text())["data"]["synth_size"]
            write_docs(DOCS_SECTIONS["tabulate" if tuple(size) == DEFAULT_SIZE else "tabulate_large"], text)
        return {"table": text}
    if args.merge:
        result = merge(args.merge)
        if args.docs and not (result["components"] and result["args"]["classes"] == 19):
            p.error("--docs with --merge writes the component table: merge --classes 19 --components runs")
        return finish(args, result)
    if args.shares:
        return {"table": write_shares(args.shares_images, seeds[0], args.docs)}
    if args.components and args.no_oracle:
        p.error("--components measures oracle gaps: drop --no-oracle")
    if args.threads:
        torch.set_num_threads(args.threads)
    size = tuple(args.size)
    split = args.eval_split or ("val" if args.classes == 9 else "test")
    shift_type = SynthShift19 if args.classes == 19 else SynthShift
    common = dict(size=size, cache_dir=args.cache_dir, classes=args.classes)

    rows: dict[str, list] = {"src_src": [], "src_tgt": [], "oracle_tgt": [], "ms_src": [], "ms_oracle": []}
    cms: dict[str, list[torch.Tensor]] = {"source only": [], "oracle": []}
    components: dict[str, dict[str, list[float]]] = {}
    for seed in seeds:
        src_train = SynthStreets("source", "train", length=args.train_length, seed=seed, **common)
        src_val = SynthStreets("source", "val", length=args.val_length, seed=seed, **common)
        tgt_eval = SynthStreets("target", split, length=args.val_length, seed=seed, **common)
        class_ids = tgt_eval.class_ids
        sv, tv = load(src_val), load(tgt_eval)
        model, ms = train(*load(src_train), seed, args.iterations, args.batch_size, args.lr)
        rows["src_src"].append(evaluate(model, *sv, class_ids))
        cm = confusion(model, *tv)
        cms["source only"].append(cm)
        rows["src_tgt"].append(100.0 * miou(cm, class_ids))
        rows["ms_src"].append(ms)
        print(f"seed {seed}: source-only  source val {rows['src_src'][-1]:.1f}  target {split} {rows['src_tgt'][-1]:.1f}"
              f"  ({ms:.1f} ms/it)", flush=True)
        if not args.no_oracle:
            tgt_train = SynthStreets("target", "train", length=args.train_length, seed=seed, **common)
            oracle, ms_o = train(*load(tgt_train), seed, args.iterations, args.batch_size, args.lr)
            cm = confusion(oracle, *tv)
            cms["oracle"].append(cm)
            rows["oracle_tgt"].append(100.0 * miou(cm, class_ids))
            rows["ms_oracle"].append(ms_o)
            print(f"seed {seed}: oracle       target {split} {rows['oracle_tgt'][-1]:.1f}  ({ms_o:.1f} ms/it)", flush=True)
        if args.components:
            for name, shift in component_shifts(shift_type).items():
                if name == "full shift":  # the rows above
                    so, orc = rows["src_tgt"][-1], rows["oracle_tgt"][-1]
                else:
                    kw = dict(seed=seed, shift=shift, **common)
                    ev = load(SynthStreets("target", split, length=args.val_length, **kw))
                    so = evaluate(model, *ev, class_ids)
                    orc_model, _ = train(*load(SynthStreets("target", "train", length=args.train_length, **kw)),
                                         seed, args.iterations, args.batch_size, args.lr)
                    orc = evaluate(orc_model, *ev, class_ids)
                row = components.setdefault(name, {"source_only": [], "oracle": [], "gap": []})
                row["source_only"].append(so)
                row["oracle"].append(orc)
                row["gap"].append(orc - so)
                print(f"seed {seed}: {name:24s} source-only {so:.1f}  oracle {orc:.1f}  gap {orc - so:.1f}", flush=True)

    result = {"args": vars(args), **rows, "components": components,
              "per_class_iou": {k: [iou(cm).tolist() for cm in v] for k, v in cms.items() if v},
              "confusions": {k: [cm.tolist() for cm in v] for k, v in cms.items() if v},
              "class_ids": list(class_ids), "split": split, "threads": torch.get_num_threads()}
    return finish(args, result)


def report(result: dict) -> str:
    """The markdown report of one result (one run of this script, or several merged by ``--merge``)."""
    a, rows, components, split = result["args"], result, result["components"], result["split"]
    seeds, size = a["seeds"], a["size"]
    n = len(seeds.split(","))
    classes = ", ".join(str(c) for c in result["class_ids"])
    name = "SynthStreets" if a["classes"] == 9 else "SynthStreets-19"
    lines = [f"{name} {size[0]}x{size[1]}, small model, {a['iterations']} iterations, batch {a['batch_size']}, "
             f"Adam lr {a['lr']:g}, {a['train_length']} training scenes, {a['val_length']} evaluation images, "
             f"seeds {seeds}; mIoU (%) over trainIds {classes}; torch threads {result['threads']}, "
             f"{os.cpu_count()} CPUs; {n} seed{'s' if n > 1 else ''}: mean ± sample std", "",
             f"| run | source-val mIoU | target-{split} mIoU | ms / iteration |", "|---|---|---|---|",
             f"| source only | {mean_std(rows['src_src'])} | {mean_std(rows['src_tgt'])} | {mean_std(rows['ms_src'])} |"]
    if rows["oracle_tgt"]:
        gaps = [o - s for o, s in zip(rows["oracle_tgt"], rows["src_tgt"])]
        lines += [f"| oracle (target labels) | - | {mean_std(rows['oracle_tgt'])} | {mean_std(rows['ms_oracle'])} |",
                  f"| gap (oracle - source only) | | **{mean_std(gaps)}** | |"]
    if a["per_class"]:
        cms = {k: [torch.tensor(cm) for cm in v] for k, v in result["confusions"].items()}
        lines += [""] + per_class_table(cms, result["class_ids"], split)
    if components:
        full = statistics.mean(components["full shift"]["gap"])
        lines += ["", f"Source-only -> oracle gap on target {split} with the target rendered with each shift "
                      f"component alone and with all but one (mIoU points; share = mean gap / the full shift's "
                      f"mean gap, with the range of the per-seed shares when there are several seeds):", "",
                  "| target rendered with | source only | oracle | gap | share of the full gap |",
                  "|---|---|---|---|---|"]
        for cname, r in components.items():
            if not full:
                lines.append(f"| {cname} | - | - | - | - |")
                continue
            per_seed = [100 * g / f for g, f in zip(r["gap"], components["full shift"]["gap"]) if f]
            spread = f" [{min(per_seed):.0f}, {max(per_seed):.0f}]" if len(per_seed) > 1 else ""
            lines.append(f"| {cname} | {mean_std(r['source_only'])} | {mean_std(r['oracle'])} | {mean_std(r['gap'])} "
                         f"| {100 * statistics.mean(r['gap']) / full:.0f}%{spread} |")
        if full:
            lines += [""] + component_sizes(components)
    return "\n".join(lines) + "\n"


#: A component "carries most of the gap" in a sense when its share in that sense is over this.
MOST = 50.0


def component_sizes(components: dict[str, dict[str, list[float]]]) -> list[str]:
    """Each component's size two ways, largest first, and which components carry most of the gap
    (over :data:`MOST` percent) in each sense.

    **Alone**: the gap with only this component switched on, as a share of the full shift's gap
    (what the component can do by itself). **Removed**: the share of the full shift's gap that goes
    when only this component is set back to the source, 100% minus its all-but row's share (what a
    method that undid exactly this component would gain). The components interact, so neither
    column adds up to 100%.
    """
    full = statistics.mean(components["full shift"]["gap"])
    names = [k.removeprefix("only ") for k in components if k.startswith("only ")]
    alone = {c: 100 * statistics.mean(components[f"only {c}"]["gap"]) / full for c in names}
    removed = {c: 100 - 100 * statistics.mean(components[f"all but {c}"]["gap"]) / full for c in names}
    by = lambda d: ", ".join(f"`{c}` {d[c]:.0f}%" for c in sorted(d, key=d.get, reverse=True))  # noqa: E731
    over = lambda d: ", ".join(f"`{c}`" for c in sorted(d, key=d.get, reverse=True) if d[c] > MOST) or "none"  # noqa: E731
    return [f"Component sizes, largest first. **Alone** (share of the full gap the component makes by itself): "
            f"{by(alone)}. **Removed** (share of the full gap that goes when only this component is set back to "
            f"the source; 100% minus its all-but row's share): {by(removed)}. "
            f"Components over {MOST:.0f}% of the gap alone: {over(alone)}; over {MOST:.0f}% of it removed: "
            f"{over(removed)}."]


#: The settings that must agree for ``--merge`` to put runs in one table (the seeds are what differs).
MERGE_KEYS = ("classes", "size", "iterations", "batch_size", "lr", "train_length", "val_length",
              "components", "per_class", "no_oracle")


def merge(paths: list[str]) -> dict:
    """One result from the ``--json`` files of runs that differ only in their seeds.

    Runs of one setting on different seeds can go to different processes (one core each) and be
    merged afterwards; the table is the one a single run over all their seeds writes.
    """
    results = []
    for path in paths:
        try:
            r = json.loads(Path(path).read_text())
        except (OSError, ValueError) as err:
            raise SystemExit(f"--merge: cannot read {path}: {err}") from None
        if "confusions" not in r or "args" not in r:
            raise SystemExit(f"--merge: {path} is not a --json file of this script with per-seed confusions")
        results.append(r)
    first = results[0]
    for path, r in zip(paths[1:], results[1:]):
        for key in MERGE_KEYS:
            if r["args"].get(key) != first["args"].get(key):
                raise SystemExit(f"--merge: {path} has --{key.replace('_', '-')} {r['args'].get(key)!r}, "
                                 f"{paths[0]} has {first['args'].get(key)!r}: merge runs of one setting")
    seeds = [s for r in results for s in r["args"]["seeds"].split(",")]
    if len(set(seeds)) < len(seeds):
        raise SystemExit(f"--merge: seed(s) {sorted({s for s in seeds if seeds.count(s) > 1})} appear in more "
                         f"than one of {', '.join(paths)}")
    merged = {"args": dict(first["args"], seeds=",".join(seeds)), "class_ids": first["class_ids"],
              "split": first["split"], "threads": first["threads"]}
    for key in ("src_src", "src_tgt", "oracle_tgt", "ms_src", "ms_oracle"):
        merged[key] = [v for r in results for v in r[key]]
    for key in ("per_class_iou", "confusions"):
        merged[key] = {k: [v for r in results for v in r[key].get(k, [])] for k in first[key]}
    merged["components"] = {name: {k: [v for r in results for v in r["components"][name][k]] for k in row}
                            for name, row in first["components"].items()}
    return merged


def finish(args: argparse.Namespace, result: dict) -> dict:
    """Print the report and write what the flags ask for (markdown, docs block, JSON)."""
    text = report(result)
    print("\n" + text)
    if args.markdown:
        Path(args.markdown).write_text(text)
    if args.docs:
        write_docs(DOCS_SECTIONS["components"], text)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1,
                                              default=lambda o: list(o) if isinstance(o, tuple) else str(o)))
    if result["args"]["classes"] == 9:  # the 9-class benchmark's bar (SynthStreets-19's is the per-class table's)
        src_src, src_tgt, oracle_tgt = result["src_src"], result["src_tgt"], result["oracle_tgt"]
        ok = (statistics.mean(src_src) >= 80
              and (not oracle_tgt or statistics.mean(oracle_tgt) - statistics.mean(src_tgt) >= 40))
        print(f"\nbar (source val >= 80, oracle - source-only on target >= 40): {'met' if ok else 'NOT met'}")
    return {**result, "table": text}


if __name__ == "__main__":
    main()
