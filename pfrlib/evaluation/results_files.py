"""The committed multi-seed results of the sweeps, read in one place.

Training every method on several seeds takes an hour on a laptop, so the notebooks' multi-seed
tables (the ablation ladder of notebook 05, Table 1 SynthStreets edition in notebook 07) read the
generated summaries committed under ``benchmarks/results/``, and train them live only on request
(their ``train_all`` parameter, ``make reproduce ALL=1``). Two seed sets, one schema:

* :data:`TABLE1`: ``benchmarks/results/table1.json``, seeds 0-2 (the ``cpu`` preset was tuned on
  seeds 0-4);
* :data:`TABLE1_HELDOUT`: ``benchmarks/results/table1_heldout.json``, held-out seeds 5-7 (no value
  was chosen on them: the honest check).

Each file is what ``python benchmarks/ablation.py --table1 --collect DIR --save FILE`` writes
(:func:`summarize_runs` builds the same rows from runs' ``final.json`` records)::

    {method: {"target": [mean, std], "per_seed_target": [...], "seeds": [...], "wall_s": [...],
              "per_class_target": {class: IoU in % or null}, "gap_closed": fraction, ...}}

(target-val mIoU and IoU in %; ``gap_closed`` only for the methods between the two bounds). Rows
built from runs scored on a target test set as well (``final.json``'s ``target_test``) add the
test split's ``test``, ``per_seed_test`` and ``per_class_test``, and ``splits`` (:data:`SPLITS`)
says which split each group of numbers comes from.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Optional, Sequence

from pfrlib import methods as _methods
from pfrlib.io import read_json, wrap, wrap_command
from pfrlib.evaluation.tables import ladder

__all__ = ["ResultsFile", "SPLITS", "TABLE1", "TABLE1_HELDOUT", "TABLE1_FILES", "REQUIRED_KEYS", "read_results",
           "seed_set_summaries", "summarize_runs", "results_ladder"]

#: Which split each group of a row's numbers comes from, where a row has both (:func:`summarize_runs`).
SPLITS: dict[str, str] = {"target": "val", "test": "test"}
#: The keys every method's entry must hold.
REQUIRED_KEYS: tuple[str, ...] = ("target", "per_seed_target", "seeds", "per_class_target")


@dataclass(frozen=True)
class ResultsFile:
    """One committed results file and how it is regenerated.

    Attributes:
        path: relative to the repository root.
        seeds: the seeds its runs were trained with.
        label: the seed set in a few words, for a table's column headers (``"held-out 5-7"``).
        what: the seed set in a sentence, for captions.
        sweep: the sweep specification that trains its runs (``make sweep SPEC=...``).
        runs: where that sweep writes its runs (``runs/<sweep name>``).
    """

    path: str
    seeds: tuple[int, ...]
    label: str
    what: str
    sweep: str
    runs: str

    def regenerate(self) -> str:
        """The two commands (from the repository root) that retrain its runs and rewrite it."""
        seeds = " ".join(map(str, self.seeds))
        return (f"make sweep SPEC={self.sweep} && python benchmarks/ablation.py --table1 --seeds {seeds} "
                f"--collect {self.runs} --save {self.path}")

    def resolve(self, root: Optional[str | Path] = None) -> Path:
        """Its path under ``root`` (default: the repository root, the folder above ``pfrlib``)."""
        return (Path(__file__).resolve().parents[2] if root is None else Path(root)) / self.path

    def read(self, root: Optional[str | Path] = None) -> dict[str, dict[str, Any]]:
        """:func:`read_results` of this file (under ``root``); a missing file's error gives the commands
        that regenerate it."""
        return read_results(self.resolve(root), regenerate=self.regenerate())


TABLE1 = ResultsFile("benchmarks/results/table1.json", (0, 1, 2), "seeds 0-2",
                     "seeds 0-2 (the cpu preset was tuned on seeds 0-4)", "sweeps/table1.yaml", "runs/table1")
TABLE1_HELDOUT = ResultsFile("benchmarks/results/table1_heldout.json", (5, 6, 7), "held-out 5-7",
                             "held-out seeds 5-7 (no value was chosen on them)", "sweeps/table1_heldout.yaml",
                             "runs/table1_heldout")
#: Both seed sets, the tuning one first.
TABLE1_FILES: tuple[ResultsFile, ...] = (TABLE1, TABLE1_HELDOUT)


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def read_results(path: str | Path, regenerate: Optional[str] = None) -> dict[str, dict[str, Any]]:
    """A multi-seed results file (the schema of the module docstring), checked.

    Args:
        path: the JSON file.
        regenerate: the commands that rewrite it, quoted in the error when it is missing.

    Returns:
        ``{method: entry}`` in the file's order; methods are ``--method`` names
        (:mod:`pfrlib.methods`).

    Raises:
        FileNotFoundError naming the file (and how to regenerate it); ValueError naming the file,
        the method and the key when the content has another layout.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: results file not found"
                                + (f"; regenerate it with: {regenerate}" if regenerate else ""))
    data = read_json(path)
    if not isinstance(data, dict) or not data:
        raise ValueError(f"{path}: expected a non-empty {{method: {{...}}}} object, got {type(data).__name__}")
    for method, entry in data.items():
        if method not in _methods.names():
            raise ValueError(f"{path}: unknown method {method!r}; expected names from {_methods.names()}")
        if not isinstance(entry, dict):
            raise ValueError(f"{path}: {method}: expected an object, got {type(entry).__name__}")
        missing = [k for k in REQUIRED_KEYS if k not in entry]
        if missing:
            raise ValueError(f"{path}: {method}: missing {missing} (expected the keys {list(REQUIRED_KEYS)})")
        target, runs, seeds = entry["target"], entry["per_seed_target"], entry["seeds"]
        if not (isinstance(target, list) and len(target) == 2 and all(map(_number, target))):
            raise ValueError(f"{path}: {method}: 'target' must be [mean, std], got {target!r}")
        if not (isinstance(runs, list) and runs and all(map(_number, runs))):
            raise ValueError(f"{path}: {method}: 'per_seed_target' must be a non-empty list of numbers, got {runs!r}")
        if not (isinstance(seeds, list) and len(seeds) == len(runs) and all(isinstance(s, int) for s in seeds)):
            raise ValueError(f"{path}: {method}: 'seeds' must list one integer seed per value of "
                             f"'per_seed_target' ({len(runs)}), got {seeds!r}")
        per_class = entry["per_class_target"]
        if not (isinstance(per_class, dict) and all(v is None or _number(v) for v in per_class.values())):
            raise ValueError(f"{path}: {method}: 'per_class_target' must map class names to IoU (%) or null")
    return data


def _mean_per_class(per_class: Sequence[Mapping[str, Optional[float]]]) -> dict[str, Optional[float]]:
    """Mean over runs of each class's IoU, in % (``None`` for a class no run measured)."""
    out = {}
    for name in per_class[0]:
        values = [p[name] for p in per_class if p.get(name) is not None]
        out[name] = 100 * sum(values) / len(values) if values else None
    return out


def summarize_runs(finals: Mapping[str, Sequence[Mapping[str, Any]]],
                   low: str = "source_only", high: str = "oracle") -> dict[str, dict[str, Any]]:
    """The rows of a results file from finished runs: ``{method: [final.json record of each seed]}``.

    Target and source mIoU: mean and sample std over the runs (:func:`pfrlib.evaluation.tables.ladder`);
    ``wall_s``: each run's ``process_wall_s`` where the caller added it, else its ``wall_time_s``
    (``iterations``: each run's iteration count, what ``wall_s`` measured);
    ``gap_closed``: for every method except ``low`` and ``high``, when both are present. Where
    every run of a method holds ``target_test``: its test mIoU (``test``, ``per_seed_test``),
    IoU (``per_class_test``) and ``splits`` (which split ``target`` and ``test`` come from).
    """
    target = ladder({m: [100 * r["target_miou"] for r in runs] for m, runs in finals.items()}, low=low, high=high)
    source = ladder({m: [100 * r["source_miou"] for r in runs] for m, runs in finals.items()}, low=low, high=high)
    summary: dict[str, dict[str, Any]] = {}
    for m, runs in finals.items():
        t, s = target[m], source[m]
        summary[m] = {"target": (t["mean"], t["std"]), "source": (s["mean"], s["std"]), "per_seed_target": t["runs"],
                      "seeds": [r["seed"] for r in runs],
                      "wall_s": [r.get("process_wall_s", r["wall_time_s"]) for r in runs],
                      "iterations": [r["iterations"] for r in runs],  # what wall_s measured (pfrlib.teaching.nbtools.announce)
                      "per_class_target": _mean_per_class([r["target_val"]["per_class_iou"] for r in runs])}
        if m not in (low, high) and t["gap_closed"] == t["gap_closed"]:  # not NaN
            summary[m]["gap_closed"] = t["gap_closed"]
        if all(r.get("target_test") for r in runs):  # both splits: the keys say which is which
            test = ladder({m: [100 * r["target_test"]["miou"] for r in runs]})[m]
            summary[m] |= {"test": (test["mean"], test["std"]), "per_seed_test": test["runs"],
                           "per_class_test": _mean_per_class([r["target_test"]["per_class_iou"] for r in runs]),
                           "splits": dict(SPLITS)}
    return summary


def results_ladder(results: Mapping[str, Mapping[str, Any]], methods: Optional[Sequence[str]] = None,
                   low: str = "source_only", high: str = "oracle") -> dict[str, dict]:
    """:func:`pfrlib.evaluation.tables.ladder` of a results file's per-seed target mIoU (%): ``{method: {"mean",
    "std", "runs", "gap_closed"}}`` for ``methods`` (default: all, in the file's order), the gap
    measured between ``low`` and ``high`` of the same file."""
    methods = list(results) if methods is None else list(methods)
    absent = [m for m in methods if m not in results]
    if absent:
        raise ValueError(f"results_ladder: no rows for {absent}; the results hold {list(results)}")
    bounds = [b for b in (low, high) if b in results and b not in methods]
    table = ladder({m: results[m]["per_seed_target"] for m in [*methods, *bounds]}, low=low, high=high)
    return {m: table[m] for m in methods}


def seed_set_summaries(trained: Optional[Mapping[tuple[str, int], Mapping[str, Any]]] = None,
                       methods: Sequence[str] = (), seed_sets: Optional[Mapping[str, Sequence[int]]] = None,
                       where: str = "", say: Callable[[str], None] = print) -> dict[str, dict[str, dict[str, Any]]]:
    """The multi-seed summaries a notebook shows, one per seed set, saying where they come from.

    Without ``trained``: the committed files (:data:`TABLE1_FILES`, keyed by their ``label``), each
    announced with its path and the command that regenerates it. With ``trained`` (``{(method,
    seed): final.json record}``, what a notebook's ``train_all=True`` trained): :func:`summarize_runs`
    of ``methods`` for each seed set of ``seed_sets`` (``{"held-out": [5, 6, 7]}`` is keyed
    ``"held-out 5, 6, 7"``), in the same layout as the files. What it says fits a notebook's
    width (:data:`pfrlib.io.PRINT_WIDTH`): each command is broken into shell-continued lines."""
    if trained is not None:
        summaries = {f"{name} {', '.join(map(str, seeds))}": summarize_runs({m: [trained[(m, s)] for s in seeds]
                                                                              for m in methods})
                     for name, seeds in (seed_sets or {}).items()}
        say("computed from the runs trained above" + (f" in {where}" if where else ""))
        return summaries
    summaries = {}
    for f in TABLE1_FILES:
        summaries[f.label] = f.read()
        say(wrap(f"{f.what}: read from {f.path}; regenerate it with") + "\n" + wrap_command(f.regenerate()))
    return summaries
