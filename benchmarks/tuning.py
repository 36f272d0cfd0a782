"""The protocol's tuning, applied: read the tuning sweeps' runs, decide each method's weight, write the table.

``docs/protocol.md`` fixes the budget (one weight per method, the ``cpu`` value times 1/4, 1/2, 1,
2, 4, tuning seeds 0-4, target val, last iteration) and the adoption rule
(:mod:`pfrlib.evaluation.tuning`). The sweeps are ``sweeps/tuning/<method>.yaml``; this script
trains nothing. For every spec it finds the finished runs (``final.json``), takes each run's
target-val mIoU, applies the rule to the methods whose 25 runs are all finished, and lists the
others as pending::

    python -m pfrlib.sweep sweeps/tuning/adaptsegnet.yaml --jobs 2     # the runs (resumable)
    python benchmarks/tuning.py                                         # the table, printed
    python benchmarks/tuning.py --save                                  # + benchmarks/results/tuning.{json,md}
    python benchmarks/tuning.py --docs                                  # docs/tuning.md's block from the saved file

``--root`` is the folder that holds the sweeps' ``tune_<method>/`` run folders (default ``runs``).
``--docs`` needs no runs: it renders the committed ``benchmarks/results/tuning.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pfrlib import methods  # noqa: E402
from pfrlib.evaluation.tuning import FACTORS, TUNING_SEEDS, adopt  # noqa: E402
from pfrlib.io import read_json, write_block, write_json  # noqa: E402
from pfrlib.launch.sweep_spec import load_spec  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SPECS = ROOT / "sweeps" / "tuning"
RESULTS_JSON = ROOT / "benchmarks" / "results" / "tuning.json"
RESULTS_MD = ROOT / "benchmarks" / "results" / "tuning.md"
DOCS = ROOT / "docs" / "tuning.md"
#: The block of docs/tuning.md this script writes, between ``<!-- NAME:start -->`` and ``<!-- NAME:end -->``.
DOCS_BLOCK = "protocol-tuning"
#: The spec of the bounds (run on the tuning seeds, nothing tuned).
BOUNDS = "bounds"


def spec_paths(folder: Path = SPECS) -> list[Path]:
    """The tuning sweeps, in the method registry's order (the bounds last)."""
    order = {m: i for i, m in enumerate(methods.names())}
    paths = sorted(folder.glob("*.yaml"), key=lambda p: (p.stem == BOUNDS, order.get(p.stem, len(order)), p.stem))
    unknown = [p.name for p in paths if p.stem != BOUNDS and p.stem not in order]
    if unknown:
        raise ValueError(f"{folder}: {unknown} name no method (a tuning sweep is <method>.yaml)")
    return paths


def collect(path: Path, root: Path) -> dict:
    """One spec's finished runs: ``{"method", "weight", "held", "scores": {value: {seed: mIoU %}},
    "wall_s": [...], "finished", "expected"}`` (``weight`` None for the bounds, whose ``scores`` are
    keyed by method)."""
    spec = load_spec(path)
    runs = spec.runs(root)
    method = str(spec.fixed.get("method", "")) or None
    weight = methods.get(method).tuned_weight if method else None
    held = {k: v for k, v in spec.fixed.items() if k not in ("preset", "method")}
    scores: dict = {}
    wall = []
    for run in runs:
        result = spec.result_path(run)
        if not result.is_file():
            continue
        final = read_json(result)
        key = run.params[weight] if weight else run.params["method"]
        scores.setdefault(key, {})[int(run.params["seed"])] = 100.0 * float(final["target_miou"])
        wall.append(float(final["wall_time_s"]))
    return {"method": method if weight else None, "spec": path.relative_to(ROOT).as_posix(), "weight": weight,
            "held": held, "scores": scores, "wall_s": wall, "finished": len(wall), "expected": len(runs)}


def decide(entry: dict) -> dict:
    """``entry`` with the rule's outcome (``decision``) when every run is finished."""
    if entry["weight"] is None or entry["finished"] < entry["expected"]:
        return entry
    values = sorted(entry["scores"])
    incumbent = values[FACTORS.index(1.0)]
    d = adopt(entry["weight"], incumbent, entry["scores"], TUNING_SEEDS)
    entry["decision"] = {"incumbent": d.incumbent, "incumbent_mean": d.incumbent_mean, "adopted": d.adopted,
                         "alternatives": [vars(a) for a in d.alternatives]}
    return entry


def markdown(entries: list[dict]) -> str:
    """The generated table: per method, the incumbent's mean and each alternative's paired difference."""
    lines = ["Target-val mIoU (%), SynthStreets-19, `cpu` preset, last iteration; tuning seeds "
             f"{', '.join(map(str, TUNING_SEEDS))}. Each alternative: mean paired difference to the incumbent "
             "[95% t interval], seeds won of 5; adopted only if the interval's lower end is above 0.", "",
             "| method | weight | incumbent (mean mIoU) | x1/4 | x1/2 | x2 | x4 | adopted |",
             "|---|---|---|---|---|---|---|---|"]
    bounds = []
    for e in entries:
        if e["weight"] is None:
            for m, per_seed in e["scores"].items():
                vals = [per_seed[s] for s in sorted(per_seed)]
                bounds.append(f"{methods.label(m)}: {sum(vals) / len(vals):.1f} mean over seeds "
                              f"{', '.join(map(str, sorted(per_seed)))}")
            continue
        name = methods.label(e["method"])
        held = ", ".join(f"`{k}` {v}" for k, v in e["held"].items() if k != "synth_classes")
        weight = f"`{e['weight']}`" + (f" ({held} held)" if held else "")
        if "decision" not in e:
            lines.append(f"| {name} | {weight} | pending: {e['finished']} of {e['expected']} runs | | | | | |")
            continue
        d = e["decision"]
        cells = [f"{a['mean']:+.1f} [{a['low']:+.1f}, {a['high']:+.1f}], {a['wins']}/5" for a in d["alternatives"]]
        verdict = f"**{d['adopted']:g}**" + (" (changed)" if d["adopted"] != d["incumbent"] else " (kept)")
        lines.append(f"| {name} | {weight} | {d['incumbent']:g} ({d['incumbent_mean']:.1f}) | "
                     + " | ".join(cells) + f" | {verdict} |")
    if bounds:
        lines += ["", "Bounds on the same seeds: " + "; ".join(bounds) + "."]
    return "\n".join(lines) + "\n"


def write_docs(table: str, path: Path = DOCS) -> None:
    """Replace docs/tuning.md's generated block."""
    write_block(path, DOCS_BLOCK, table)


def _jsonable(entry: dict) -> dict:
    out = dict(entry)
    out["scores"] = {str(k): {str(s): v for s, v in per.items()} for k, per in entry["scores"].items()}
    return out


def _from_json(entry: dict) -> dict:
    out = dict(entry)
    key = (lambda k: float(k)) if entry["weight"] else (lambda k: k)
    out["scores"] = {key(k): {int(s): v for s, v in per.items()} for k, per in entry["scores"].items()}
    return out


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--root", default="runs", help="the folder holding the tuning sweeps' run folders (default: runs)")
    p.add_argument("--save", action="store_true", help=f"write {RESULTS_JSON.relative_to(ROOT)} and .md")
    p.add_argument("--docs", action="store_true",
                   help=f"write {DOCS.relative_to(ROOT)}'s block from the saved {RESULTS_JSON.name} (no runs needed)")
    args = p.parse_args(argv)
    if args.docs and not args.save:
        if not RESULTS_JSON.is_file():
            p.error(f"--docs renders {RESULTS_JSON.relative_to(ROOT)}, which does not exist: run with --save first")
        entries = [_from_json(e) for e in read_json(RESULTS_JSON)["methods"]]
    else:
        entries = [decide(collect(path, Path(args.root))) for path in spec_paths()]
    table = markdown(entries)
    print(table)
    if args.save:
        write_json(RESULTS_JSON, {"protocol": "docs/protocol.md", "seeds": list(TUNING_SEEDS),
                                  "factors": list(FACTORS), "methods": [_jsonable(e) for e in entries]})
        RESULTS_MD.write_text(table)
    if args.docs:
        write_docs(table)
    return {"entries": entries, "table": table}


if __name__ == "__main__":
    main()
