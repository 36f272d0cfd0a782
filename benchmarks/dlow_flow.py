"""Does DLOW's domain flow flow? A translated set's distance to the source and the target at each z.

For each variant below, the benchmark trains DLOW's translator (stage 1 of ``--method dlow``,
:func:`pfrlib.engine.two_stage.stage1.run_stage1`, into ``RUNS/<variant>_s<seed>_t<iterations>``;
a finished one with the same configuration is reused), translates the first ``--images`` source
*val* images at each domainness ``z`` of ``--z-values``, and measures the translated set's
distance to the statistics of as many source val images and target val images (images only: no
target label is read), with :mod:`pfrlib.methods.translation.flow`: the mean colour (Euclidean,
0-255) and the Gram matrix of colours and edges (Frobenius). The flow is **monotone** in a
statistic when the distance to the target never rises with ``z`` and the distance to the source
never falls; the table says whether it holds.

Variants: ``dlow`` (the preset as it is), ``no_anchor`` (no identity term at ``z = 0``:
``--dlow-source-identity false``) and ``no_anchor_transposed`` (neither that nor the
resize-convolution: ``--dlow-source-identity false --gen-upsampling transposed``, CycleGAN's
upsampling), the comparisons that show what the two options do. Besides monotonicity the table
says whether the flow starts on the source's side and ends on the target's
(:func:`~pfrlib.methods.translation.flow.flow_ends`): a translator that ignores ``z`` can be
monotone and target-like at every ``z``.

Usage::

    python benchmarks/dlow_flow.py --preset cpu --json benchmarks/results/dlow_flow.json \\
        --markdown benchmarks/results/dlow_flow.md --docs    # the cpu preset's full stage 1
    python benchmarks/dlow_flow.py --iterations 50 ...      # a reduced schedule (said in the table)

``--docs`` rewrites the ``dlow_flow`` block of ``docs/results.md`` from the Markdown file (through
``benchmarks/ablation.py``'s generated blocks, which the docs tests check). About a minute per
variant at the ``cpu`` preset on one thread.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Optional

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

ROOT = Path(__file__).resolve().parents[1]

#: ``{variant: (translation options, what it is)}``; the first is the preset as it is.
VARIANTS: dict[str, tuple[dict, str]] = {
    "dlow": ({}, "the preset: identity at z = 0, resize-convolution upsampling"),
    "no_anchor": ({"dlow_source_identity": False}, "no identity at z = 0, resize-convolution upsampling"),
    "no_anchor_transposed": ({"dlow_source_identity": False, "gen_upsampling": "transposed"},
                             "no identity at z = 0, CycleGAN's transposed-convolution upsampling"),
}
#: The Markdown file the ``dlow_flow`` block of docs/results.md is pasted from.
DOCS_SOURCE = "benchmarks/results/dlow_flow.md"
#: The domainness values measured (DLOW's figures show the same five).
Z_VALUES: tuple[float, ...] = (0.0, 0.25, 0.5, 0.75, 1.0)


def check_args(args: argparse.Namespace) -> None:
    """One-line errors naming the parameter, before anything is trained or written."""
    z = list(args.z_values)
    if len(z) < 2 or any(not 0.0 <= v <= 1.0 for v in z) or z != sorted(set(z)):
        raise SystemExit(f"--z-values: expected at least two distinct ascending values in [0, 1], got {z}")
    if args.images < 1:
        raise SystemExit(f"--images: expected an integer >= 1, got {args.images}")
    if args.iterations is not None and args.iterations < 1:
        raise SystemExit(f"--iterations: expected an integer >= 1 (stage-1 iterations), got {args.iterations}")
    if args.seed < 0:
        raise SystemExit(f"--seed: expected an integer >= 0, got {args.seed}")
    if args.threads < 1:
        raise SystemExit(f"--threads: expected an integer >= 1, got {args.threads}")
    unknown = sorted(set(args.variants) - set(VARIANTS))
    if unknown:
        raise SystemExit(f"--variants: unknown {unknown}; expected some of {list(VARIANTS)}")


def measure_variant(name: str, args: argparse.Namespace, source, target) -> dict:
    """Train (or reuse) one variant's translator and measure its flow."""
    import torch

    from pfrlib.engine.two_stage.stage1 import TRANSLATION_DIR, load_translator, run_stage1
    from pfrlib.methods.translation.flow import STATISTICS, flow_ends, flow_monotone, flow_table
    from pfrlib.methods.translation.translator import from_unit, to_unit

    options, what = VARIANTS[name]
    cfg = config(args, options)
    iterations = cfg.translation.translation_iterations
    out = Path(args.runs) / f"{name}_s{args.seed}_t{iterations}"
    done = run_stage1("dlow", cfg.translation, cfg.data, args.seed, out, None, torch.device("cpu"),
                      progress=lambda s: print(f"[{name}] {s}", flush=True))
    translator = load_translator(out / TRANSLATION_DIR)
    x = to_unit(source)
    with torch.no_grad():
        translated = {z: from_unit(translator.translate(x, z=torch.full((len(x),), float(z))))
                      for z in args.z_values}
    rows = flow_table(translated, source, target)
    return {"options": options, "what": what, "run": str(out), "stage1_seconds": done["seconds"],
            "stage1_reused": done["reused"],
            "rows": [{k: round(v, 2) for k, v in r.items()} for r in rows],
            "monotone": {s: flow_monotone(rows, s) for s in STATISTICS},
            "ends": {s: flow_ends(rows, s) for s in STATISTICS}}


def config(args: argparse.Namespace, options: dict):
    """The DLOW configuration of ``args.preset`` with a variant's ``options`` (and ``--iterations``)."""
    from pfrlib.config.train_config import TrainConfig

    extra = {} if args.iterations is None else {"translation_iterations": args.iterations}
    return TrainConfig.preset(args.preset, method="dlow", seed=args.seed, num_threads=args.threads,
                              **options, **extra)


def eval_images(args: argparse.Namespace):
    """The first ``--images`` source and target val images, uint8 ``N x 3 x H x W`` at stage 2's size."""
    import torch

    from pfrlib.data.spec import build_dataset
    from pfrlib.data.transforms import EvalTransform

    d = config(args, {}).data
    src = build_dataset(d.source, "val", EvalTransform(size=d.source_size, normalize=None), d, "source")
    tgt = build_dataset(d.target, "val", EvalTransform(size=d.target_size, normalize=None), d, "target",
                        labels=False)
    n = args.images
    if len(src) < n or len(tgt) < n:
        raise SystemExit(f"--images: the val splits hold {len(src)} source and {len(tgt)} target images, "
                         f"fewer than {n}")
    return (torch.stack([src[i][0] for i in range(n)]), torch.stack([tgt[i][0] for i in range(n)]))


def markdown(result: dict) -> str:
    """The table of ``docs/results.md``: the schedule in its header, one table per variant, the verdict."""
    from pfrlib.methods.translation.flow import GRAM_SCALE

    preset_iters, iters = result["preset_iterations"], result["iterations"]
    schedule = (f"the `{result['preset']}` preset's full schedule" if iters == preset_iters
                else f"{'a reduced' if iters < preset_iters else 'a longer'} schedule (the `{result['preset']}` "
                     f"preset trains {preset_iters})")
    lines = [f"DLOW's translator, `{result['preset']}` preset, seed {result['seed']}, **{iters} stage-1 "
             f"iterations**, {schedule}; {result['images']} source val images translated at each z, "
             f"compared with {result['images']} source val and {result['images']} target val images. "
             f"Colour: distance between mean RGB (0-255); Gram: Frobenius distance between the mean Gram "
             f"matrices of colours and edges, times {GRAM_SCALE}; pixels: mean absolute difference to the "
             f"image's own source (0-255). Source and target sets lie "
             f"{result['source_target']['colour']:.1f} apart in colour and {result['source_target']['gram']:.1f} "
             f"in Gram.", ""]
    for name, v in result["variants"].items():
        yes = {True: "yes", False: "no"}
        verdict = "; ".join(f"{s}: {'monotone' if m['monotone'] else 'not monotone'} "
                            f"(to target non-increasing: {yes[m['to_target_non_increasing']]}, "
                            f"to source non-decreasing: {yes[m['to_source_non_decreasing']]}), "
                            f"first z nearer the source: {yes[v['ends'][s]['first_nearer_source']]}, "
                            f"last z nearer the target: {yes[v['ends'][s]['last_nearer_target']]}"
                            for s, m in v["monotone"].items())
        lines += [f"**{name}** ({v['what']}). {verdict}.", "",
                  "| z | colour to source | colour to target | Gram to source | Gram to target | pixels to own source |",
                  "|---|---|---|---|---|---|"]
        lines += [f"| {r['z']:g} | {r['colour_to_source']:.1f} | {r['colour_to_target']:.1f} | "
                  f"{r['gram_to_source']:.1f} | {r['gram_to_target']:.1f} | {r['pixels_to_own_source']:.1f} |"
                  for r in v["rows"]]
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def main(argv: Optional[list[str]] = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--preset", choices=("cpu", "paper"), default="cpu")
    p.add_argument("--iterations", type=int, default=None,
                   help="stage-1 iterations (default: the preset's); fewer is a reduced schedule, said in the table")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--images", type=int, default=32, help="source and target val images measured")
    p.add_argument("--z-values", type=float, nargs="+", default=list(Z_VALUES))
    p.add_argument("--variants", nargs="+", default=list(VARIANTS))
    p.add_argument("--runs", default="runs/dlow_flow", help="folder of the translators' run folders")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--json", default=None, help="write the results here")
    p.add_argument("--markdown", default=None, help="write the table here")
    p.add_argument("--docs", action="store_true",
                   help="with --markdown benchmarks/results/dlow_flow.md: rewrite docs/results.md's dlow_flow block")
    args = p.parse_args(argv)
    check_args(args)
    if args.docs and (args.markdown is None or Path(args.markdown).resolve() != ROOT / DOCS_SOURCE):
        raise SystemExit(f"--docs: the docs block is generated from {DOCS_SOURCE}; give --markdown {DOCS_SOURCE}")

    import torch

    from pfrlib.io import write_json
    from pfrlib.methods.translation.flow import set_distances, set_statistics

    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    source, target = eval_images(args)
    result = {"preset": args.preset, "seed": args.seed,
              "iterations": config(args, {}).translation.translation_iterations,
              "preset_iterations": config(argparse.Namespace(**{**vars(args), "iterations": None}), {})
              .translation.translation_iterations,
              "images": args.images, "z_values": list(args.z_values),
              "source_target": {k: round(v, 2) for k, v in
                                set_distances(set_statistics(source), set_statistics(target)).items()},
              "command": "python benchmarks/dlow_flow.py " + " ".join(sys.argv[1:] if argv is None else argv),
              "variants": {name: measure_variant(name, args, source, target) for name in args.variants}}
    result["seconds"] = round(time.perf_counter() - t0, 1)
    text = markdown(result)
    print(text)
    if args.json:
        write_json(args.json, result)
    if args.markdown:
        Path(args.markdown).parent.mkdir(parents=True, exist_ok=True)
        Path(args.markdown).write_text(text)
    if args.docs:
        print("docs blocks rewritten:", write_docs() or "none changed")
    return result


def write_docs() -> list[str]:
    """Rewrite the generated blocks of the README and docs/ (``benchmarks/ablation.py``'s
    ``update_docs``, whose ``DOC_BLOCKS`` pastes :data:`DOCS_SOURCE` into docs/results.md)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("ablation_benchmark", ROOT / "benchmarks" / "ablation.py")
    ablation = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = ablation
    spec.loader.exec_module(ablation)
    return ablation.update_docs(ROOT)


if __name__ == "__main__":
    main()
