"""Which shift each family closes: the per-component grid's gap-closed maps, from its finished runs.

Reads the runs of ``sweeps/components.yaml`` under ``--root`` (trains nothing): each method on the
target rendered with one shift component alone and with the full shift minus it, beside its
source-only run and its oracle, seeds 0-2. Computes, per method and component, the gap closed
and the deficit removed with their intervals (:mod:`pfrlib.evaluation.components`; a cell whose
runs have not all finished says how many have) and draws them
(:func:`pfrlib.viz.components.plot_component_maps`)::

    python -m pfrlib.sweep sweeps/components.yaml --jobs 2               # the runs (long: see docs/protocol.md)
    python benchmarks/components.py --root runs                          # print the tables
    python benchmarks/components.py --root runs --save                   # + benchmarks/results/components.{json,md},
                                                                         #   figures/components_heatmap.png
    python benchmarks/components.py --docs                               # docs/results.md's block from the saved json

``--docs`` without a saved json writes a block saying that the grid has not run, and the commands.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pfrlib.data.synthstreets.shift import SynthShift19  # noqa: E402
from pfrlib.evaluation.components import ComponentGrid, alone_shift, component_grid, grid_markdown  # noqa: E402
from pfrlib.evaluation.statistics import RESAMPLES  # noqa: E402
from pfrlib.io import read_json, write_block, write_json  # noqa: E402
from pfrlib.launch.sweep_spec import load_spec  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "sweeps" / "components.yaml"
RESULTS = ROOT / "benchmarks" / "results"
SAVED = RESULTS / "components.json"
FIGURE = ROOT / "figures" / "components_heatmap.png"
DOCS = ROOT / "docs" / "results.md"
DOCS_BLOCK = "components"
COMMANDS = (f"python -m pfrlib.sweep {SPEC.relative_to(ROOT)} --jobs 2",
            "python benchmarks/components.py --root runs --save --docs")


def grid_runs(root: Path, spec_path: Path = SPEC) -> tuple[dict, tuple, tuple, tuple]:
    """``({(synth_shift, method, seed): run folder}, methods, components, seeds)`` of the sweep under ``root``."""
    spec = load_spec(spec_path)
    runs = {(str(r.params["synth_shift"]), str(r.params["method"]), int(r.params["seed"])): r.out
            for r in spec.runs(root)}
    shifts = {shift for shift, _, _ in runs}
    components = tuple(c for c in SynthShift19.components() if alone_shift(c) in shifts)  # the sweep's, in order
    return runs, tuple(spec.grid["method"]), components, tuple(int(s) for s in spec.grid["seed"])


def not_run_text(expected: int) -> str:
    """The block before any run: what is missing and the commands that make it."""
    return (f"The grid has not run yet (0 of {expected} runs). Train it, then write this block:\n\n"
            + "\n".join(f"    {c}" for c in COMMANDS) + "\n")


def docs_text(grid: ComponentGrid) -> str:
    """The generated block: both tables and the map."""
    figure = FIGURE.relative_to(ROOT).as_posix()
    return (grid_markdown(grid) + f"\n![The per-component maps: gap closed and deficit removed per method and "
            f"component]({Path('..') / figure})\n")


def main(argv: list[str] | None = None) -> str:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--root", type=Path, default=ROOT / "runs", help="the folder holding the sweeps' run folders")
    p.add_argument("--resamples", type=int, default=RESAMPLES, help=f"bootstrap resamples (default {RESAMPLES})")
    p.add_argument("--save", action="store_true",
                   help="write benchmarks/results/components.{json,md} and figures/components_heatmap.png")
    p.add_argument("--docs", action="store_true",
                   help="write docs/results.md's block from the saved json (no runs needed)")
    args = p.parse_args(argv)
    if args.docs and not args.save:
        if SAVED.is_file():
            text = docs_text(ComponentGrid.from_json(read_json(SAVED)))
        else:
            text = not_run_text(len(load_spec(SPEC).runs()))
        write_block(DOCS, DOCS_BLOCK, text)
        print(text)
        return text
    if not args.root.is_dir():
        p.error(f"--root {args.root}: no such folder; expected the folder that holds the sweeps' run folders")
    runs, methods, components, seeds = grid_runs(args.root)
    grid = component_grid(runs, methods, components, seeds, resamples=args.resamples)
    if args.save and grid.finished_runs == 0:
        p.error(f"--root {args.root}: none of the {grid.expected_runs} runs of {SPEC.relative_to(ROOT)} has finished "
                f"(looked in {args.root / load_spec(SPEC).name}); nothing written")
    text = grid_markdown(grid)
    print(text)
    if args.save:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        from pfrlib.viz.figure import save_figure
        from pfrlib.viz.components import plot_component_maps

        write_json(SAVED, grid.to_json())
        SAVED.with_suffix(".md").write_text(text)
        fig = plot_component_maps(grid)
        save_figure(fig, FIGURE)
        plt.close(fig)
    if args.docs:
        write_block(DOCS, DOCS_BLOCK, docs_text(grid))
    return text


if __name__ == "__main__":
    main()
