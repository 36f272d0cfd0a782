"""The measured times a notebook's training estimate comes from (:func:`pfrlib.teaching.nbtools.announce`).

Committed, generated files time the notebooks' runs (:data:`MEASURED_TIMES`, in order of
precedence): the series' own runs (``make reproduce``, :func:`pfrlib.teaching.reproduce.series_runs`),
the Table-1 sweeps, and the step-time benchmark with the reference machine's calibration.
:func:`measured_rates` reads each method's seconds per iteration from the first file that times
it, on the benchmark the runs will train on; :func:`reference_calibration` the reference
machine's yardstick.
"""

from __future__ import annotations

import statistics
from dataclasses import asdict
from pathlib import Path
from typing import Any, Mapping, Sequence

from pfrlib.config.train_config import TrainConfig
from pfrlib.engine.calibration import CALIBRATION, CALIBRATION_LABEL
from pfrlib.io import read_json
from pfrlib.teaching.reproduce import SERIES_TIMES

__all__ = ["MEASURED_TIMES", "benchmark_of", "measured_files", "measured_rates", "measured_seconds_per_iteration",
           "reference_calibration"]


#: The committed, generated files whose measured times estimate how long a notebook's training
#: takes, relative to the repository root, in order of precedence (:func:`measured_rates`): the
#: series' own runs (:data:`pfrlib.teaching.reproduce.SERIES_TIMES`, written by ``make reproduce``:
#: each notebook's runs as it trains them, so they win); the Table-1 sweeps' per-run wall times
#: (``{method: {"wall_s": [...], "iterations": [...], ...}}``: one-thread runs two at a time, for the
#: methods the series does not train); last, for the methods neither times, the step-time benchmark
#: (median seconds per iteration at the ``cpu`` preset, two threads, one run alone, no validation,
#: ``benchmarks/step_time.py``; it also holds the reference machine's calibration).
MEASURED_TIMES = (SERIES_TIMES, "benchmarks/results/table1_heldout.json", "benchmarks/results/table1.json",
                  "benchmarks/results/step_time_cpu.json")
#: The rows of the step-time file that time the ``cpu`` preset (its ``label`` starts so).
_STEP_TIME_LABEL = "cpu preset"
#: The fields that name the benchmark a run trained on (a run's data config; a results file may
#: record them, one per run or one for all).
_BENCHMARK_FIELDS = ("synth_classes", "synth_size")


def _repository_root() -> Path:
    """The folder that holds the ``pfrlib`` package (the repository root in a checkout)."""
    return Path(__file__).resolve().parents[2]


def benchmark_of(config: TrainConfig | None = None) -> tuple:
    """The benchmark ``config`` trains on, ``(synth_classes, synth_size)`` (default: the ``cpu``
    preset's, what the notebooks train): runs on another benchmark take another time per iteration."""
    data = (config or TrainConfig.preset("cpu")).data
    return data.synth_classes, tuple(data.synth_size)


def _per_run(path: Path, method: str, entry: Mapping, key: str, default: Any, runs: int) -> list:
    """A results entry's ``key`` for each of its ``runs`` runs: its list, or one value (or ``default``) for all."""
    value = entry.get(key, default)
    if isinstance(value, list) and (key != "synth_size" or (value and isinstance(value[0], list))):
        if len(value) != runs:
            raise ValueError(f"{path}: {method} has {runs} wall times but {len(value)} values of {key!r}")
        return value
    return [value] * runs


def _step_rates(path: Path, data: list, benchmark: tuple) -> dict[str, float]:
    """``{method: median seconds per iteration}`` from a step-time benchmark's rows (the ``cpu``
    preset's; a row that records another benchmark than ``benchmark`` is left out)."""
    if not all(isinstance(r, Mapping) for r in data):
        raise ValueError(f"{path}: expected a list of step-time rows ({{'label', 'method', 'median_s', ...}})")
    rows = [r for r in data if str(r.get("label", "")).startswith(_STEP_TIME_LABEL)]
    if any("method" not in r or "median_s" not in r for r in rows):
        raise ValueError(f"{path}: expected step-time rows with 'method' and 'median_s'")
    return {r["method"]: float(r["median_s"]) for r in rows
            if _same_benchmark([r.get(k, b) for k, b in zip(_BENCHMARK_FIELDS, benchmark)], benchmark)}


def _same_benchmark(recorded: Sequence, benchmark: tuple) -> bool:
    """Whether a run's recorded ``(synth_classes, synth_size)`` is ``benchmark`` (a size as a list or tuple)."""
    classes, size = recorded
    return classes == benchmark[0] and tuple(size) == tuple(benchmark[1])


def _run_rates(path: Path, data: Mapping, default_iterations: int | None, benchmark: tuple) -> dict[str, list[float]]:
    """``{method: [seconds per iteration of each run]}`` from a results file (wall time / iterations).
    Where the file records the benchmark (:data:`_BENCHMARK_FIELDS`), a run on another benchmark
    than ``benchmark`` is left out; a file that does not record it is taken to time this one."""
    rates: dict[str, list[float]] = {}
    for method, entry in data.items():
        walls = entry.get("wall_s") if isinstance(entry, Mapping) else None
        if not walls:
            continue
        iters = _per_run(path, method, entry, "iterations", default_iterations, len(walls))
        fields = [_per_run(path, method, entry, k, b, len(walls)) for k, b in zip(_BENCHMARK_FIELDS, benchmark)]
        rates[method] = [w / n for w, n, *b in zip(walls, iters, *fields) if n and _same_benchmark(b, benchmark)]
    return rates


def measured_rates(files: Sequence[str] = MEASURED_TIMES, root: Path | None = None,
                   default_iterations: int | None = None,
                   benchmark: tuple | None = None) -> dict[str, tuple[float, str]]:
    """``{method: (measured seconds per training iteration, the file it comes from)}``.

    **File precedence**: a method's value comes from the first file of ``files`` that times it, so
    the order of ``files`` says which conditions count most (:data:`MEASURED_TIMES`: the series'
    own runs, trained as the notebooks train them, then the Table-1 sweeps, then the step-time
    benchmark, which times a step alone on two threads, about half a notebook run's time per
    iteration, and only fills gaps). Within a results file it is the **median** of the method's
    runs (each run's wall time / iterations: the entry's ``iterations``, a number or one per run,
    else ``default_iterations``, the caller's, e.g. the ``cpu`` preset's count for files written
    before they recorded it): a typical run, neither the one the machine happened to leave alone
    nor the one it slowed most. Only runs on ``benchmark`` count (default :func:`benchmark_of`, the
    ``cpu`` preset's), where a file records the benchmark: a 19-class run is not a 9-class one's
    time. A step-time file (a list of rows, ``benchmarks/step_time.py``) gives its ``cpu`` rows'
    medians.

    Args:
        files: measurement files, relative to ``root``; missing ones are skipped.
        root: default: the repository root (the folder above the ``pfrlib`` package).
        default_iterations: iterations of a run whose file does not record them (``None``: skip it).
        benchmark: ``(synth_classes, synth_size)`` of the runs to time.

    Raises:
        ValueError naming a file that exists but has neither layout.
    """
    root = _repository_root() if root is None else Path(root)
    benchmark = benchmark_of() if benchmark is None else benchmark
    rates: dict[str, tuple[float, str]] = {}
    for name in files:
        path = root / name
        if not path.is_file():
            continue
        data = read_json(path)
        if isinstance(data, list):
            found = _step_rates(path, data, benchmark)
        elif isinstance(data, Mapping):
            per_run = _run_rates(path, data, default_iterations, benchmark)
            found = {m: statistics.median(r) for m, r in per_run.items() if r}
        else:
            raise ValueError(f"{path}: expected {{method: {{'wall_s': [...], ...}}}} or a list of step-time rows, "
                             f"got {type(data).__name__}")
        rates.update({m: (r, name) for m, r in found.items() if m not in rates})
    return rates


def measured_files(files: Sequence[str] = MEASURED_TIMES, root: Path | None = None) -> list[str]:
    """The files of ``files`` that exist under ``root`` (default: the repository root), in order."""
    root = _repository_root() if root is None else Path(root)
    return [f for f in files if (root / f).is_file()]


def measured_seconds_per_iteration(files: Sequence[str] = MEASURED_TIMES, root: Path | None = None,
                                   default_iterations: int | None = None,
                                   benchmark: tuple | None = None) -> tuple[dict[str, float], list[str]]:
    """:func:`measured_rates` as ``({method: seconds per iteration}, [the files the values come from])``."""
    measured = measured_rates(files, root, default_iterations, benchmark)
    used = {name for _, name in measured.values()}
    return {m: r for m, (r, _) in measured.items()}, [f for f in files if f in used]


def reference_calibration(files: Sequence[str] = MEASURED_TIMES, root: Path | None = None) -> tuple[float, str] | None:
    """``(seconds per iteration, file)`` of the calibration measured on the reference machine: the
    row labelled :data:`~pfrlib.engine.calibration.CALIBRATION_LABEL` in the first step-time file
    of ``files`` that has one, made with this version's :data:`~pfrlib.engine.calibration.CALIBRATION`
    settings (a row made another way is not comparable, and is skipped); ``None`` without one."""
    root = _repository_root() if root is None else Path(root)
    settings = asdict(CALIBRATION)
    for name in files:
        path = root / name
        data = read_json(path) if path.is_file() else None
        if not isinstance(data, list):
            continue
        for row in data:
            if (isinstance(row, Mapping) and row.get("label") == CALIBRATION_LABEL and "median_s" in row
                    and all(row.get(k) == v for k, v in settings.items())):
                return float(row["median_s"]), name
    return None
