"""The protocol's whole queue of runs, in order, and its CPU cost estimated from measured times.

``docs/protocol.md`` ("Running the protocol") runs the sweeps in this order: the ladder's tuning
(the bounds, AdaptSegNet, then PFR only and PFR + adversarial, which holds AdaptSegNet's adopted
weight), then every other method's tuning (the self-training rows after the method their stage 1
trains), then the claims runs on the tuning seeds, then on the held-out seeds, then the
per-component grid (``sweeps/components.yaml``: it chooses nothing, so it comes last). This
script trains nothing: it counts each step's runs from the sweep files and multiplies them by each method's
measured seconds per run (:func:`seconds_per_run`), two runs at a time (the sweeps' ``jobs: 2``),
less the stages a run links from the stage store instead of training (the sweeps' ``stage_store``:
a stage whose entry an earlier run of the queue made, :func:`pfrlib.engine.run.stage_entries`,
costed by :func:`stage_seconds`)::

    python benchmarks/protocol_queue.py            # the table, printed
    python benchmarks/protocol_queue.py --docs     # docs/protocol.md's generated block

A tuning sweep that ``benchmarks/results/tuning.json`` records as finished counts as done.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Optional

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pfrlib import methods  # noqa: E402
from pfrlib.config.train_config import TrainConfig  # noqa: E402
from pfrlib.engine.run import stage_entries  # noqa: E402
from pfrlib.io import read_json  # noqa: E402
from pfrlib.launch.sweep_spec import load_spec  # noqa: E402
from pfrlib.teaching.reproduce import SERIES_TIMES  # noqa: E402
from pfrlib.teaching.timings import measured_rates  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
TUNING = ROOT / "sweeps" / "tuning"
TUNING_JSON = "benchmarks/results/tuning.json"
DOCS = ROOT / "docs" / "protocol.md"
DOCS_BLOCK = "protocol-queue"
#: Runs at a time: the sweeps' ``jobs``.
SLOTS = 2
#: The files whose per-run wall times give a method's seconds per run where the protocol's own
#: tuning runs do not (in order: one-thread runs two at a time, as the queue runs them, on the
#: 9-class benchmark; then the series' own runs on SynthStreets-19, one at a time).
MEASURED = ("benchmarks/results/table1_heldout.json", "benchmarks/results/table1.json", SERIES_TIMES)
#: Methods no file times yet, and the measured method whose step each is costed as: MinEnt and FDA
#: forward the target batch with no discriminator (as PFR only), AdvEnt trains AdaptSegNet's
#: discriminator on entropy maps, histogram matching is source only's step (no target forward)
#: plus a sort per image channel. A self-training run is its stage 1 plus one round, each costed
#: as its stage-1 method (a round adds the labelling model's forward without gradients).
PROXIES: dict[str, str] = {"minent": "pfr", "fda": "pfr", "advent": "adaptsegnet", "hist_match": "source_only"}


@dataclass(frozen=True)
class Step:
    """One step of the queue: its name and sweep files, in order."""

    name: str
    specs: tuple[Path, ...]


def queue(tuning: Path = TUNING) -> list[Step]:
    """The protocol's steps, in the order they must run (module docstring)."""
    ladder = ["bounds"] + [m for m in methods.names("ladder") if methods.get(m).tuned_weight]
    first = [tuning / f"{n}.yaml" for n in ladder]
    stage1_later = [m for m in methods.names() if methods.get(m).self_training]
    rest = [m for m in methods.names() if methods.get(m).tuned_weight and m not in ladder and m not in stage1_later]
    return [Step("the ladder's tuning", tuple(first)),
            Step("every other row's tuning", tuple(tuning / f"{m}.yaml" for m in rest + stage1_later)),
            Step("the claims runs, tuning seeds 0-4", (ROOT / "sweeps" / "claims.yaml",)),
            Step("the claims runs, held-out seeds 5-9", (ROOT / "sweeps" / "claims_heldout.yaml",)),
            Step("the per-component grid, seeds 0-2", (ROOT / "sweeps" / "components.yaml",))]


#: The method whose time stands for an input-space method's stage 2 (the segmentation network on
#: the translated set; TGCF-DA's mean teacher has no discriminator, so this is an upper bound):
#: a translator's seconds are the row's less this and its reference (:func:`stage_seconds`).
STAGE2_PROXY = "adaptsegnet"


def stage_seconds(kind: str, config: TrainConfig, seconds: Mapping[str, tuple[float, str]]) -> float:
    """The seconds of one stage of the run ``config`` (a run that links it saves them), by its role
    (:func:`pfrlib.engine.run.stage_entries`): the whole ``run``; the ``adapted`` model, a run of
    its stage-1 method; the ``reference``, ``reference_iterations`` of ``source_only`` (its
    seconds per iteration); the ``translator``, the row's time less stage 2
    (:data:`STAGE2_PROXY`) and the reference (never below 0)."""
    iterations = config.optim.iterations
    if kind == "run":
        return seconds[config.loss.method][0]
    reference = seconds["source_only"][0] * config.translation.reference_iterations / iterations
    if kind == "adapted":
        st = config.self_training
        stage1 = config.method_info.stage1 or st.st_stage1
        return seconds[stage1][0] * (st.st_stage1_iterations or iterations) / iterations
    if kind == "reference":
        return reference
    uses_reference = any(k == "reference" for k, _ in stage_entries(config))
    return max(0.0, seconds[config.loss.method][0] - seconds[STAGE2_PROXY][0] - (reference if uses_reference else 0.0))


def runs_per_method(spec_path: Path) -> dict[str, int]:
    """``{method: runs}`` of one sweep file."""
    counts: dict[str, int] = {}
    for run in load_spec(spec_path).runs():
        m = str(run.params["method"])
        counts[m] = counts.get(m, 0) + 1
    return counts


def seconds_per_run(root: Path = ROOT, iterations: Optional[int] = None) -> dict[str, tuple[float, str]]:
    """``{method: (seconds one run takes, where that comes from)}`` for every registered method.

    In order: the median wall time of the method's finished tuning runs (``tuning.json``: the
    protocol's own runs, SynthStreets-19, two one-thread runs at a time); else the median seconds
    per iteration of :data:`MEASURED` (:func:`pfrlib.teaching.timings.measured_rates`) times the
    ``cpu`` preset's iterations (a translation row's wall time covers all its stages); else
    :data:`PROXIES`; a self-training method is its stage 1 plus one round (both its stage-1
    method's time).
    """
    iterations = iterations or TrainConfig.preset("cpu").optim.iterations
    out: dict[str, tuple[float, str]] = {}
    path = root / TUNING_JSON
    for entry in (read_json(path)["methods"] if path.is_file() else []):
        if entry.get("method") and entry.get("wall_s"):
            out[entry["method"]] = (statistics.median(entry["wall_s"]), f"{TUNING_JSON} ({len(entry['wall_s'])} runs)")
    for m, (rate, name) in measured_rates(MEASURED, root, default_iterations=iterations).items():
        out.setdefault(m, (rate * iterations, name))
    for m, proxy in PROXIES.items():
        if m not in out and proxy in out:
            out[m] = (out[proxy][0], f"as {proxy} (no measurement)")
    for m in methods.names():
        info = methods.get(m)
        if info.self_training and m not in out:
            stage1 = info.stage1 or TrainConfig.preset("cpu", method=m).self_training.st_stage1
            if stage1 in out:
                out[m] = (2 * out[stage1][0], f"2 x {stage1} (stage 1 + one round; no measurement)")
    return out


def finished_specs(root: Path = ROOT) -> set[str]:
    """The tuning sweeps ``tuning.json`` records with every run finished (``sweeps/tuning/x.yaml``)."""
    path = root / TUNING_JSON
    if not path.is_file():
        return set()
    return {e["spec"] for e in read_json(path)["methods"] if e["finished"] and e["finished"] == e["expected"]}


def estimate(steps: list[Step], seconds: Mapping[str, tuple[float, str]], done: set[str] = frozenset(),
             slots: int = SLOTS) -> list[dict]:
    """Per step: ``{"step", "runs", "done_runs", "linked", "hours"}``, ``hours`` the CPU wall-clock
    hours of the runs not done: the sum of their seconds over ``slots`` runs at a time, less the
    :func:`stage_seconds` of each stage ``linked`` from the store (its entry made by an earlier run
    of the queue not done yet: the store is one folder for every sweep, and a finished sweep may
    have run without one).

    Raises:
        ValueError naming a method without a time.
    """
    rows, made = [], set()
    for step in steps:
        runs = done_runs = linked = 0
        secs = 0.0
        for spec in step.specs:
            rel = spec.relative_to(ROOT).as_posix() if spec.is_absolute() and ROOT in spec.parents else str(spec)
            loaded = load_spec(spec)
            for run in loaded.runs():
                m = str(run.params["method"])
                if m not in seconds:
                    raise ValueError(f"{spec}: no measured or proxy time for method {m!r}")
                config = loaded.config(run)
                entries = stage_entries(config) if loaded.stage_store is not None else []
                runs += 1
                if rel in done:
                    done_runs += 1  # its stages are not counted as stored: it may have run without a store
                else:
                    shared = [kind for kind, name in entries if name in made]
                    linked += len(shared)
                    secs += seconds[m][0] - sum(stage_seconds(kind, config, seconds) for kind in shared)
                    made.update(name for _, name in entries)
        rows.append({"step": step.name, "runs": runs, "done_runs": done_runs, "linked": linked,
                     "hours": secs / slots / 3600})
    return rows


def markdown(rows: list[dict], seconds: Mapping[str, tuple[float, str]]) -> str:
    """The generated block: each step's runs and hours, the total, and where each time comes from."""
    lines = [f"| step | runs | already done | stages linked from the store | hours to run ({SLOTS} runs at a time) |",
             "|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['step']} | {r['runs']} | {r['done_runs']} | {r['linked']} | {r['hours']:.1f} |")
    total = sum(r["hours"] for r in rows)
    lines.append(f"| **the whole queue** | {sum(r['runs'] for r in rows)} | {sum(r['done_runs'] for r in rows)} "
                 f"| {sum(r['linked'] for r in rows)} | **{total:.1f}** |")
    lines += ["", "Seconds per run, and where each comes from: "
              + "; ".join(f"`{m}` {s:.0f} s ({src})" for m, (s, src) in seconds.items()) + "."]
    return "\n".join(lines) + "\n"


def write_docs(text: str, path: Path = DOCS) -> None:
    """Replace docs/protocol.md's generated block."""
    begin, end = f"<!-- {DOCS_BLOCK}:start -->", f"<!-- {DOCS_BLOCK}:end -->"
    doc = path.read_text()
    if begin not in doc or end not in doc:
        raise ValueError(f"{path}: no {begin} ... {end} block to write the queue's cost into")
    head, rest = doc.split(begin, 1)
    path.write_text(head + begin + "\n" + text + end + rest.split(end, 1)[1])


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--docs", action="store_true", help=f"write {DOCS.relative_to(ROOT)}'s block")
    args = p.parse_args(argv)
    seconds = seconds_per_run()
    rows = estimate(queue(), seconds, finished_specs())
    text = markdown(rows, seconds)
    print(text)
    if args.docs:
        write_docs(text)
    return {"rows": rows, "seconds": seconds, "text": text}


if __name__ == "__main__":
    main()
