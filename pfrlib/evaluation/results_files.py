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

(mIoU and IoU in %; ``gap_closed`` only for the methods between the two bounds). Every score key
names its split in :data:`SPLITS`: ``target`` keys are target **val**, ``test`` keys target
**test**, ``source`` keys source val; an entry built from runs lists its own in ``splits``. Files
written before the runs scored the test split (the 9-class ``table1*.json``) hold val numbers only,
and the readers say so (:func:`seed_scores`). Rows built from runs scored on the test split add, per
seed (one value per entry of ``seeds``, in its order): ``per_seed_test`` (the last iteration's
model), ``per_seed_test_val_chosen`` and ``val_chosen_iteration`` (the checkpoint chosen on target
val, where the runs kept one), ``per_seed_per_class_test``; every row built from runs has
``per_seed_source``, ``per_seed_per_class_target``, ``iterations`` and ``calibration_s`` (the
machine calibration each run timed in its own process, null where it kept none). Rows collected from run
folders (``folders`` of :func:`summarize_runs`) add the ``benchmark`` the runs were trained on,
``runs`` (each seed's run folder, relative to the repository root) and ``test_confusion_sha256``
(the sha256 of each run's per-image test confusion matrices,
:data:`pfrlib.engine.record.TEST_CONFUSION`, which stay in the run folders): what
:mod:`pfrlib.evaluation.comparisons` bootstraps over test images when the runs are present.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Optional, Sequence

from pfrlib import methods as _methods
from pfrlib.engine.record import confusion_file
from pfrlib.engine.rundir import CONFIG_FILE
from pfrlib.io import file_sha256, read_json, wrap, wrap_command
from pfrlib.evaluation.tables import ladder
from pfrlib.evaluation.tuning import HELD_OUT_SEEDS, TUNING_SEEDS

__all__ = ["ResultsFile", "SPLITS", "TEST_SCORES", "BENCHMARK_KEYS", "TABLE1", "TABLE1_HELDOUT", "TABLE1_FILES",
           "BEYOND_ROWS", "TABLE1_SYNTH19", "TABLE1_SYNTH19_HELDOUT", "BEYOND_SYNTH19", "BEYOND_SYNTH19_HELDOUT",
           "CLAIMS_FILES",
           "REQUIRED_KEYS", "read_results", "seed_scores", "seed_set_summaries", "summarize_runs",
           "results_ladder"]

#: The repository root, which a results file's ``runs`` are relative to.
ROOT = Path(__file__).resolve().parents[2]
#: The split every score key of an entry comes from: target val, target test or source val.
SPLITS: dict[str, str] = {
    "target": "val", "per_seed_target": "val", "per_class_target": "val", "per_seed_per_class_target": "val",
    "test": "test", "per_seed_test": "test", "per_class_test": "test", "per_seed_per_class_test": "test",
    "per_seed_test_val_chosen": "test", "source": "source val", "per_seed_source": "source val"}
#: The per-seed test mIoU key of each model a run scores on test (docs/protocol.md): the last
#: iteration's, and the checkpoint chosen on target val.
TEST_SCORES: dict[str, str] = {"last": "per_seed_test", "best_on_val": "per_seed_test_val_chosen"}
#: The keys of an entry's ``benchmark``: ``DataConfig``'s SynthStreets fields the runs were trained with
#: (plus ``synth_shift`` for runs whose target is not the benchmark's full shift).
BENCHMARK_KEYS: tuple[str, ...] = ("synth_classes", "synth_size", "synth_seed")
#: The keys every method's entry must hold.
REQUIRED_KEYS: tuple[str, ...] = ("target", "per_seed_target", "seeds", "per_class_target")
#: Optional per-seed lists: their key and what each value must be.
_PER_SEED_NUMBERS = ("per_seed_test", "per_seed_test_val_chosen", "per_seed_source", "wall_s")
_PER_SEED_CLASSES = ("per_seed_per_class_target", "per_seed_per_class_test")
_SHA256 = re.compile(r"[0-9a-f]{64}")


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
        synth_classes: the SynthStreets benchmark its runs were trained on (the sweep pins it).
        methods: its rows, where they are not the paper's Table 1 (``()``: every Table-1 row,
            ``--table1``); one sweep's runs may fill several files.
    """

    path: str
    seeds: tuple[int, ...]
    label: str
    what: str
    sweep: str
    runs: str
    synth_classes: int
    methods: tuple[str, ...] = ()

    def rows(self) -> tuple[str, ...]:
        """The methods it holds: :attr:`methods`, or every Table-1 row."""
        return self.methods or _methods.table1_names()

    def collect(self) -> str:
        """The command (from the repository root) that writes it from its sweep's finished runs."""
        rows = f"--methods {' '.join(self.methods)}" if self.methods else "--table1"
        return (f"python benchmarks/ablation.py {rows} --seeds {' '.join(map(str, self.seeds))} "
                f"--collect {self.runs} --save {self.path}")

    def regenerate(self) -> str:
        """The two commands (from the repository root) that retrain its runs and rewrite it."""
        return f"make sweep SPEC={self.sweep} && {self.collect()}"

    def resolve(self, root: Optional[str | Path] = None) -> Path:
        """Its path under ``root`` (default: the repository root, the folder above ``pfrlib``)."""
        return (ROOT if root is None else Path(root)) / self.path

    def read(self, root: Optional[str | Path] = None) -> dict[str, dict[str, Any]]:
        """:func:`read_results` of this file (under ``root``); a missing file's error gives the commands
        that regenerate it."""
        return read_results(self.resolve(root), regenerate=self.regenerate())


# Both are of the 9-class SynthStreets (their sweeps pin ``synth_classes: 9``), target val; the
# SynthStreets-19 tables come from the claims sweeps of docs/protocol.md.
TABLE1 = ResultsFile("benchmarks/results/table1.json", (0, 1, 2), "9-class, seeds 0-2",
                     "the 9-class SynthStreets, seeds 0-2 (its cpu preset was tuned on seeds 0-4)",
                     "sweeps/table1.yaml", "runs/table1", 9)
TABLE1_HELDOUT = ResultsFile("benchmarks/results/table1_heldout.json", (5, 6, 7), "9-class, held-out 5-7",
                             "the 9-class SynthStreets, held-out seeds 5-7 (no value was chosen on them)",
                             "sweeps/table1_heldout.yaml", "runs/table1_heldout", 9)
#: Both seed sets, the tuning one first.
TABLE1_FILES: tuple[ResultsFile, ...] = (TABLE1, TABLE1_HELDOUT)

# The claims runs of docs/protocol.md: SynthStreets-19, the tuned cpu preset, target test, 5 + 5
# seeds. One sweep per seed set trains every row; each fills two files, the paper's Table 1 and
# the methods beyond it (with the bounds and PFR + adversarial, the reference of its comparisons).
#: The rows of the "Beyond Table 1" files: the bounds, the reference, then every ``beyond`` method.
BEYOND_ROWS: tuple[str, ...] = ("source_only", "pfr_adv", "oracle") + _methods.names("beyond")
_CLAIMS = "SynthStreets-19, the cpu preset's adopted weights"
TABLE1_SYNTH19 = ResultsFile("benchmarks/results/table1_synth19.json", TUNING_SEEDS, "tuning seeds 0-4",
                             f"{_CLAIMS}, tuning seeds 0-4 (every weight was chosen on them)",
                             "sweeps/claims.yaml", "runs/claims_synth19", 19)
TABLE1_SYNTH19_HELDOUT = ResultsFile("benchmarks/results/table1_synth19_heldout.json", HELD_OUT_SEEDS,
                                     "held-out 5-9", f"{_CLAIMS}, held-out seeds 5-9 (no value was chosen on them)",
                                     "sweeps/claims_heldout.yaml", "runs/claims_synth19_heldout", 19)
BEYOND_SYNTH19 = ResultsFile("benchmarks/results/beyond_synth19.json", TUNING_SEEDS, "tuning seeds 0-4",
                             f"{_CLAIMS}, beyond Table 1, tuning seeds 0-4", "sweeps/claims.yaml",
                             "runs/claims_synth19", 19, BEYOND_ROWS)
BEYOND_SYNTH19_HELDOUT = ResultsFile("benchmarks/results/beyond_synth19_heldout.json", HELD_OUT_SEEDS,
                                     "held-out 5-9", f"{_CLAIMS}, beyond Table 1, held-out seeds 5-9",
                                     "sweeps/claims_heldout.yaml", "runs/claims_synth19_heldout", 19, BEYOND_ROWS)
#: The claims files, Table 1 then beyond it, each seed set's tuning file first.
CLAIMS_FILES: tuple[ResultsFile, ...] = (TABLE1_SYNTH19, TABLE1_SYNTH19_HELDOUT, BEYOND_SYNTH19, BEYOND_SYNTH19_HELDOUT)


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
        _check_optional(entry, len(seeds), f"{path}: {method}")
    return data


def _check_optional(entry: Mapping[str, Any], n: int, where: str) -> None:
    """The optional keys of an entry (module docstring), where present: one value per seed, of its kind."""
    def per_seed(key: str, ok: Callable[[Any], bool], what: str) -> None:
        values = entry.get(key)
        if key in entry and not (isinstance(values, list) and len(values) == n and all(map(ok, values))):
            raise ValueError(f"{where}: '{key}' must list one {what} per seed ({n}), got {values!r}")

    for key in _PER_SEED_NUMBERS:
        per_seed(key, _number, "number")
    per_seed("val_chosen_iteration", lambda v: isinstance(v, int), "integer iteration")
    per_seed("calibration_s", lambda v: v is None or (_number(v) and v > 0), "calibration in seconds (or null)")
    per_seed("runs", lambda v: isinstance(v, str) and v, "run folder")
    per_seed("test_confusion_sha256", lambda v: isinstance(v, str) and _SHA256.fullmatch(v), "sha256 (64 hex digits)")
    for key in _PER_SEED_CLASSES:
        table = entry.get(key)
        rows = table.values() if isinstance(table, dict) else [None]
        if key in entry and not all(isinstance(v, list) and len(v) == n and all(x is None or _number(x) for x in v)
                                    for v in rows):
            raise ValueError(f"{where}: '{key}' must map each class to one IoU (%) or null per seed ({n})")
    splits = entry.get("splits", {})
    wrong = {k: v for k, v in splits.items() if SPLITS.get(k) != v} if isinstance(splits, dict) else splits
    if wrong:
        raise ValueError(f"{where}: 'splits' must give each key's split as {SPLITS}, got {wrong!r}")
    calibration = entry.get("calibration")
    if "calibration" in entry and not (isinstance(calibration, dict) and isinstance(calibration.get("from"), str)
                                       and (calibration.get("median_s") is None or _number(calibration["median_s"]))):
        raise ValueError(f"{where}: 'calibration' must be {{\"median_s\": seconds or null, \"from\": where it comes "
                         f"from}}, got {calibration!r}")
    benchmark = entry.get("benchmark")
    if "benchmark" in entry and not (isinstance(benchmark, dict)
                                     and set(benchmark) - {"synth_shift"} == set(BENCHMARK_KEYS)):
        raise ValueError(f"{where}: 'benchmark' must hold {list(BENCHMARK_KEYS)} (and 'synth_shift' where the "
                         f"target's shift is not the full one), got {benchmark!r}")


def seed_scores(entry: Mapping[str, Any], model: str = "last") -> tuple[list[float], str, str]:
    """An entry's per-seed mIoU (%) of ``model`` (a key of :data:`TEST_SCORES`) on the best split it
    holds: ``(values, key, split)``. Target test when the entry has it; otherwise, for the last
    iteration's model, target val (``per_seed_target``, files written before the runs scored the
    test split), labelled ``"val"`` so that no reader presents it as test.

    Raises:
        ValueError when ``model`` is not one of :data:`TEST_SCORES`, or the entry holds no test
        score of the checkpoint chosen on val (no val score stands in for it).
    """
    if model not in TEST_SCORES:
        raise ValueError(f"model: expected one of {list(TEST_SCORES)}, got {model!r}")
    key = TEST_SCORES[model]
    if key not in entry:
        if model != "last":
            raise ValueError(f"model: {model!r} needs '{key}' (the runs' best_on_val.target_test; train with "
                             f"--keep-best and --val-every), and the entry holds {sorted(entry)}")
        key = "per_seed_target"
    return [float(v) for v in entry[key]], key, SPLITS[key]


def _mean_per_class(per_class: Sequence[Mapping[str, Optional[float]]]) -> dict[str, Optional[float]]:
    """Mean over runs of each class's IoU, in % (``None`` for a class no run measured)."""
    out = {}
    for name in per_class[0]:
        values = [p[name] for p in per_class if p.get(name) is not None]
        out[name] = 100 * sum(values) / len(values) if values else None
    return out


def _per_seed_per_class(per_class: Sequence[Mapping[str, Optional[float]]]) -> dict[str, list[Optional[float]]]:
    """Each class's IoU (%) in each run, ``None`` where a run did not measure it."""
    return {name: [None if p.get(name) is None else 100 * p[name] for p in per_class] for name in per_class[0]}


def _benchmark(folder: Path) -> Optional[dict[str, Any]]:
    """:data:`BENCHMARK_KEYS` of the run in ``folder``, from its saved configuration (None for a run
    on no SynthStreets domain)."""
    config = read_json(folder / CONFIG_FILE)
    data = config.get("data", {}) if isinstance(config, dict) else {}
    if not any(isinstance(data.get(k), str) and data[k].startswith("synth") for k in ("source", "target")):
        return None
    missing = [k for k in BENCHMARK_KEYS if k not in data]
    if missing:
        raise ValueError(f"{folder / CONFIG_FILE}: its 'data' lacks {missing}; expected a config.json written by "
                         f"python -m pfrlib.train")
    bench = {k: data[k] for k in BENCHMARK_KEYS}
    if data.get("synth_shift", "full") != "full":  # a target with a changed shift is another benchmark
        bench["synth_shift"] = data["synth_shift"]
    return bench


def _run_files(folders: Sequence[str | os.PathLike], root: Path, tested: bool) -> dict[str, Any]:
    """``benchmark``, ``runs`` (relative to ``root``) and, for runs scored on test,
    ``test_confusion_sha256``: of one method's run folders, one per seed."""
    benchmarks = [_benchmark(Path(f)) for f in folders]
    if any(b != benchmarks[0] for b in benchmarks):
        raise ValueError(f"runs: {[str(f) for f in folders]} were trained on different benchmarks {benchmarks}; "
                         f"a row's seeds must share one")
    out: dict[str, Any] = {} if benchmarks[0] is None else {"benchmark": benchmarks[0]}
    out["runs"] = [Path(os.path.relpath(Path(f).resolve(), root.resolve())).as_posix() for f in folders]
    if tested:
        out["test_confusion_sha256"] = [file_sha256(confusion_file(f)) for f in folders]
    return out


def summarize_runs(finals: Mapping[str, Sequence[Mapping[str, Any]]], low: str = "source_only",
                   high: str = "oracle", folders: Optional[Mapping[str, Sequence[str | os.PathLike]]] = None,
                   root: Optional[str | Path] = None,
                   calibration: Optional[Mapping[str, Any]] = None) -> dict[str, dict[str, Any]]:
    """The rows of a results file from finished runs: ``{method: [final.json record of each seed]}``.

    Target and source mIoU: mean and sample std over the runs (:func:`pfrlib.evaluation.tables.ladder`),
    and each run's (``per_seed_target``, ``per_seed_source``), with each class's IoU per run
    (``per_seed_per_class_target``) and its mean (``per_class_target``); ``wall_s``: each run's
    ``process_wall_s`` where the caller added it, else its ``wall_time_s`` (``iterations``: each
    run's iteration count, what ``wall_s`` measured; ``calibration_s``: the machine calibration each
    run timed in its own process, :attr:`pfrlib.engine.record.FinalRecord.calibration_s`, null for
    a run that kept none); ``gap_closed``: for every method except
    ``low`` and ``high``, when both are present. Where every run of a method holds ``target_test``:
    the same on the test split (``test``, ``per_seed_test``, ``per_class_test``,
    ``per_seed_per_class_test``), and where every run also scored its checkpoint chosen on val,
    that checkpoint's (``per_seed_test_val_chosen``, ``val_chosen_iteration``); ``splits`` names
    the split of each score key present (:data:`SPLITS`).

    Args:
        finals: the records, seeds in one order per method.
        low, high: the bounds of the gap closed.
        folders: ``{method: [run folder of each seed]}`` in the order of ``finals``: adds each
            row's ``benchmark`` (from the runs' ``config.json``; every row's must be the same),
            ``runs`` (relative to ``root``, default the repository root) and, for rows scored on
            test, ``test_confusion_sha256``.
        calibration: ``{"median_s", "from"}``, the calibration of the machine the runs were timed
            on and where the value comes from, kept in every row beside ``wall_s``.
    """
    target = ladder({m: [100 * r["target_miou"] for r in runs] for m, runs in finals.items()}, low=low, high=high)
    source = ladder({m: [100 * r["source_miou"] for r in runs] for m, runs in finals.items()}, low=low, high=high)
    summary: dict[str, dict[str, Any]] = {}
    for m, runs in finals.items():
        t, s = target[m], source[m]
        val_classes = [r["target_val"]["per_class_iou"] for r in runs]
        row = summary[m] = {
            "target": (t["mean"], t["std"]), "source": (s["mean"], s["std"]), "per_seed_target": t["runs"],
            "seeds": [r["seed"] for r in runs], "per_seed_source": s["runs"],
            "wall_s": [r.get("process_wall_s", r["wall_time_s"]) for r in runs],
            "iterations": [r["iterations"] for r in runs],  # what wall_s measured (pfrlib.teaching.nbtools.announce)
            "calibration_s": [r.get("calibration_s") for r in runs],  # each run's own machine calibration
            "per_class_target": _mean_per_class(val_classes),
            "per_seed_per_class_target": _per_seed_per_class(val_classes)}
        if m not in (low, high) and t["gap_closed"] == t["gap_closed"]:  # not NaN
            row["gap_closed"] = t["gap_closed"]
        tested = all(r.get("target_test") for r in runs)
        if tested:  # both splits: the keys say which is which
            test = ladder({m: [100 * r["target_test"]["miou"] for r in runs]})[m]
            test_classes = [r["target_test"]["per_class_iou"] for r in runs]
            row |= {"test": (test["mean"], test["std"]), "per_seed_test": test["runs"],
                    "per_class_test": _mean_per_class(test_classes),
                    "per_seed_per_class_test": _per_seed_per_class(test_classes)}
            chosen = [r.get("best_on_val") or {} for r in runs]
            if all(c.get("target_test") for c in chosen):
                row |= {"per_seed_test_val_chosen": [100 * c["target_test"]["miou"] for c in chosen],
                        "val_chosen_iteration": [int(c["iteration"]) for c in chosen]}
        row["splits"] = {k: v for k, v in SPLITS.items() if k in row}
        if folders is not None:
            row |= _run_files(folders[m], ROOT if root is None else Path(root), tested)
        if calibration is not None:
            row["calibration"] = dict(calibration)
    benchmarks = {m: row.get("benchmark") for m, row in summary.items() if folders is not None}
    if len({repr(b) for b in benchmarks.values()}) > 1:
        raise ValueError(f"runs: the methods were trained on different benchmarks ({benchmarks}); a results file "
                         f"compares methods on one")
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
