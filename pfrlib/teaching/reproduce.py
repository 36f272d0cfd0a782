"""``make reproduce``: run the notebook series headless and report as it goes.

Each notebook runs through papermill with its default parameters (``--cwd notebooks``), one
:class:`pfrlib.launch.launcher.Job` at a time; the executed copies go to ``runs/notebooks/<name>/``
(with the notebook's log) and the figures the notebooks write to ``figures/``, never over a
committed notebook. The report has one line per notebook as it starts (what it trains: the
notebook's own ``pfr.trains`` metadata, see :func:`what_it_trains`), a line for each run it
starts, finishes or reuses (read from the notebook's own output as it arrives), its elapsed time
when done, and a closing summary::

    python -m pfrlib.reproduce                  # the series (pfrlib.teaching.student.SERIES_GLOB)
    python -m pfrlib.reproduce notebooks/03_source_only_baseline.ipynb --out runs/notebooks
    python -m pfrlib.reproduce --all            # also retrain every multi-seed table (make reproduce ALL=1)

By default a notebook trains live what its lesson needs and reads its multi-seed tables from the
committed results files (:mod:`pfrlib.evaluation.results_files`). ``--all`` passes ``train_all=True``
(:data:`ALL_PARAMETER`) to every notebook whose parameters cell declares it
(:func:`parameters_for`), so those notebooks train every seed of their tables too; the report
then says what each trains from its ``pfr.trains_all`` metadata.

``--times-markdown FILE`` writes the time per notebook as a Markdown table, read from the executed
copies' own papermill records (``metadata.papermill.duration``), not from this report's clock;
``--times-only`` writes it from an earlier run's ``--out`` without running anything (the table in
``docs/teaching.md`` is pasted from ``benchmarks/results/reproduce_times.md`` this way). Either way
the series' own training runs go with it to ``--series-runs`` (default :data:`SERIES_TIMES`,
:func:`series_runs`): the times :func:`pfrlib.teaching.nbtools.announce` estimates a notebook's
training from first.
"""

from __future__ import annotations

import ast
import json
import re
import sys
import time
from pathlib import Path
from typing import Optional

from pfrlib.io import atomic_write, format_duration
from pfrlib.launch.job import JOB_FILE, LOG_FILE, RUN_LINE, STATUS_FILE, Job
from pfrlib.launch.launcher import LocalBackend, launch
from pfrlib.teaching.nbparams import SERIES_RUNS

__all__ = ["ALL_PARAMETER", "SERIES_TIMES", "what_it_trains", "declared_parameters", "parameters_for", "run_notebook",
           "times_markdown", "series_runs", "run_series", "write_times"]

#: The notebook parameter that ``--all`` (``make reproduce ALL=1``) sets to True: train every seed of
#: the multi-seed tables instead of reading the committed results files.
ALL_PARAMETER = "train_all"

#: The committed, generated file of every training run the series made in its runs folder
#: (:func:`series_runs`), relative to the repository root: how long a notebook's runs take under the
#: notebooks' own conditions (their configs, two one-thread runs at a time, each a process that also
#: scores its test split). Written with the times table (:func:`write_times`); read first by
#: :func:`pfrlib.teaching.nbtools.announce`.
SERIES_TIMES = "benchmarks/results/series_runs.json"

# the kernel's transport notice (it talks to papermill over localhost): noise in a report
_NOISE = re.compile(r"Kernel is running over TCP without encryption")


def what_it_trains(notebook: Path, train_all: bool = False) -> str:
    """What a notebook trains, in words: its metadata ``{"pfr": {"trains": ...}}`` (with ``train_all``,
    ``"trains_all"`` where it has one), else the title of its first markdown cell."""
    try:
        nb = json.loads(Path(notebook).read_text())
    except (OSError, ValueError):
        return "see the notebook"
    meta = nb.get("metadata", {}).get("pfr", {})
    for key in (("trains_all", "trains") if train_all else ("trains",)):
        if isinstance(meta.get(key), str) and meta[key]:
            return meta[key]
    titles = ["".join(c.get("source", "")).strip() for c in nb.get("cells", []) if c.get("cell_type") == "markdown"]
    if titles and titles[0]:
        return f"see the notebook ({titles[0].splitlines()[0].lstrip('# ').strip()})"
    return "see the notebook"


def declared_parameters(notebook: Path) -> set[str]:
    """The names a notebook's parameters cell (the cell tagged ``parameters``) assigns; empty when it
    has none. Raises ValueError naming the notebook when it cannot be read."""
    try:
        nb = json.loads(Path(notebook).read_text())
        cells = [c for c in nb.get("cells", []) if "parameters" in c.get("metadata", {}).get("tags", [])]
        tree = ast.parse("".join(cells[0].get("source", ""))) if cells else ast.Module(body=[], type_ignores=[])
    except (OSError, ValueError, SyntaxError) as err:
        raise ValueError(f"{notebook}: cannot read its parameters cell ({err})") from None
    return {t.id for node in tree.body if isinstance(node, (ast.Assign, ast.AnnAssign))
            for t in (node.targets if isinstance(node, ast.Assign) else [node.target]) if isinstance(t, ast.Name)}


def parameters_for(notebook: Path, train_all: bool = False) -> dict[str, object]:
    """The papermill parameters ``make reproduce`` gives a notebook: none by default (its defaults);
    with ``train_all``, ``{ALL_PARAMETER: True}`` for a notebook that declares it."""
    return {ALL_PARAMETER: True} if train_all and ALL_PARAMETER in declared_parameters(notebook) else {}


def run_notebook(path: Path, out: Path, cwd: Path, parameters: Optional[dict] = None) -> tuple[bool, float, list[str]]:
    """Execute one notebook (a launcher job in ``out``) with papermill ``parameters`` (default: none);
    print its run lines as they come.

    Returns ``(ok, seconds, tail)``: ``tail`` holds the last lines of its log (for an error report).
    """
    start = time.perf_counter()

    def follow(job: Job, line: str) -> None:
        if RUN_LINE.match(line) and not _NOISE.search(line):
            print(f"      {line.strip()}  [{format_duration(time.perf_counter() - start, exact=True)}]", flush=True)

    job = Job(name=path.stem, out=out, notebook=path, parameters=dict(parameters or {}), cwd=cwd, threads=None)
    (outcome,) = launch([job], LocalBackend(jobs=1, follow=follow), retrain=True, report=lambda line: None)
    log = (out / LOG_FILE).read_text(errors="replace").splitlines() if (out / LOG_FILE).exists() else []
    tail = [line for line in log if not _NOISE.search(line)][-40:]
    return outcome.ok, time.perf_counter() - start, tail


def calibration_line(runs_dir: Path) -> str:
    """The yardstick beside the times: the wall time of the series' own ``source_only`` run of the
    ``cpu`` preset (notebook 03 trains it, one thread, beside the oracle), read from its
    ``final.json`` in ``runs_dir``; a machine that takes twice as long for it takes about twice
    as long for the series. Says so when there is no such run."""
    runs = []
    for final in sorted(Path(runs_dir).glob("*/final.json")):
        try:
            record = json.loads(final.read_text())
        except (OSError, ValueError):
            continue
        if record.get("method") == "source_only" and record.get("preset") == "cpu" and record.get("wall_time_s"):
            runs.append((final, record))
    if not runs:
        return f"Calibration: no finished `source_only` run of the `cpu` preset in `{runs_dir}` to time this machine by."
    final, record = max(runs, key=lambda r: r[1].get("iterations", 0))
    return (f"Calibration: on this machine the series' `source_only` run ({record.get('iterations'):,} iterations, "
            f"`cpu` preset, seed {record.get('seed')}, one thread beside another run) took "
            f"{format_duration(float(record['wall_time_s']), exact=True)} (`wall_time_s` of "
            f"`{final.parent.name}/final.json`): scale the times above by another machine's time for the same run.")


def times_markdown(out_dir: Path, notebooks: list[Path], runs_dir: Optional[Path] = None) -> str:
    """The time of each notebook of a series run in ``out_dir`` (``<out_dir>/<stem>/<stem>.ipynb``,
    papermill's own ``duration``), what it trains, and the total, as a Markdown table; with
    ``runs_dir`` (the series' runs), the :func:`calibration_line` under it."""
    rows, total, started = [], 0.0, None
    for path in notebooks:
        executed = out_dir / path.stem / f"{path.stem}.ipynb"
        try:
            meta = json.loads(executed.read_text())["metadata"]["papermill"]
            seconds = float(meta["duration"])
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise ValueError(f"{executed}: no executed notebook with papermill's duration ({err!r}); "
                             "run the series first (make reproduce)") from None
        started = started or str(meta.get("start_time", ""))[:10]
        total += seconds
        rows.append(f"| {path.stem} | {format_duration(seconds, exact=True)} | {what_it_trains(path)} |")
    head = (f"Measured by `make reproduce` ({len(notebooks)} notebooks, defaults, in series order), started "
            f"{started}; papermill's duration of each executed notebook.\n\n"
            "| notebook | time | what it trains |\n|---|---|---|\n")
    table = head + "\n".join(rows) + f"\n| **all** | **{format_duration(total, exact=True)}** | |\n"
    return table if runs_dir is None else table + "\n" + calibration_line(runs_dir) + "\n"


def _read(path: Path) -> dict:
    """A run's JSON record; empty when it is absent or unreadable (a run still in progress)."""
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return record if isinstance(record, dict) else {}


def series_runs(runs_dir: Path) -> dict[str, dict[str, list]]:
    """Every finished training run in ``runs_dir`` (``<run>/final.json`` beside its ``config.json``),
    grouped by method in the layout of the results files that
    :func:`pfrlib.teaching.timings.measured_rates` reads: ``{method: {"runs", "seeds", "iterations",
    "wall_s", "train_s", "synth_classes", "synth_size"}}``, one list entry per run, in run-name order.

    ``wall_s`` is what a notebook waits for: the launcher's seconds for the run's process
    (``status.json``: start-up, training, validation and the test split) when the run was trained
    from scratch in one go (``job.json``'s plan ``train``), else the trainer's ``wall_time_s``
    (``train_s``, the training loop's own time, summed over a resumed run's parts).
    ``synth_classes`` and ``synth_size`` name the benchmark it trained on (its config's).
    """
    grouped: dict[str, dict[str, list]] = {}
    for final_path in sorted(Path(runs_dir).glob("*/final.json")):
        run = final_path.parent
        final, config = _read(final_path), _read(run / "config.json")
        method = final.get("method") or config.get("loss", {}).get("method")
        if not (method and final.get("wall_time_s") and final.get("iterations") and config.get("data")):
            continue
        status, job = _read(run / STATUS_FILE), _read(run / JOB_FILE)
        whole = job.get("plan") == "train" and status.get("ok") and status.get("seconds")
        entry = grouped.setdefault(method, {k: [] for k in ("runs", "seeds", "iterations", "wall_s", "train_s",
                                                            "synth_classes", "synth_size")})
        entry["runs"].append(run.name)
        entry["seeds"].append(final.get("seed", config.get("run", {}).get("seed")))
        entry["iterations"].append(int(final["iterations"]))
        entry["wall_s"].append(float(status["seconds"]) if whole else float(final["wall_time_s"]))
        entry["train_s"].append(float(final["wall_time_s"]))
        entry["synth_classes"].append(config["data"].get("synth_classes"))
        entry["synth_size"].append(config["data"].get("synth_size"))
    return grouped


def run_series(paths: list[Path], out_dir: Path, cwd: str | Path = "notebooks", train_all: bool = False,
               times_file: Optional[str | Path] = None, series_file: str | Path = SERIES_TIMES) -> int:
    """Run ``paths`` one by one (:func:`run_notebook`), reporting a line per notebook as it starts
    and ends, stopping at the first failure; then the summary (and with ``times_file``, the times
    table there and the series' runs to ``series_file``: :func:`write_times`). The exit status: 0
    when every notebook ran."""
    out_dir.mkdir(parents=True, exist_ok=True)
    Path("figures").mkdir(exist_ok=True)
    done: list[tuple[str, float, bool]] = []
    total_start = time.perf_counter()
    for k, path in enumerate(paths, start=1):
        parameters = parameters_for(path, train_all)
        print(f"[{k}/{len(paths)}] {path.stem}: trains {what_it_trains(path, bool(parameters))}"
              + "".join(f" ({name}={value})" for name, value in parameters.items())
              + f"  (series so far {format_duration(time.perf_counter() - total_start, exact=True)})", flush=True)
        ok, seconds, tail = run_notebook(path, out_dir / path.stem, Path(cwd), parameters)
        done.append((path.stem, seconds, ok))
        if not ok:
            print(f"      FAILED after {format_duration(seconds, exact=True)}; the end of its log:", flush=True)
            print("\n".join("      | " + line for line in tail), flush=True)
            break
        print(f"      done in {format_duration(seconds, exact=True)}", flush=True)
    total = time.perf_counter() - total_start
    print("\nSummary")
    width = max(len(name) for name, _, _ in done)
    for name, seconds, ok in done:
        print(f"  {name:<{width}}  {format_duration(seconds, exact=True):>12}  {'ok' if ok else 'FAILED'}")
    print(f"  {'all':<{width}}  {format_duration(total, exact=True):>12}")
    print(f"Executed notebooks in {out_dir}/<name>/, figures in figures/, each notebook's metrics.json and training "
          "runs under runs/ (runs/series/ is shared by notebooks 03-05 and 07-09).")
    finished = all(ok for _, _, ok in done) and len(done) == len(paths)
    if finished and times_file:
        return write_times(out_dir, paths, Path(times_file), Path(cwd) / SERIES_RUNS, Path(series_file))
    return 0 if finished else 1


def write_times(out_dir: Path, paths: list[Path], target: Path, runs_dir: Optional[Path] = None,
                series_file: Optional[Path] = None) -> int:
    """Write the times table of the series run in ``out_dir`` (:func:`times_markdown`) to ``target``
    and, with ``runs_dir`` and ``series_file``, the series' training runs (:func:`series_runs`) to
    ``series_file`` (JSON). The exit status: 2, after a one-line error, when ``out_dir`` holds no
    executed series (nothing is written then)."""
    try:
        text = times_markdown(out_dir, paths, runs_dir)
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    target.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(target, lambda f: f.write(text), mode="w")
    print(f"wrote {target}")
    if runs_dir is not None and series_file is not None:
        runs = series_runs(runs_dir)
        blocks = [f"  {json.dumps(method)}: {{\n"  # a method's block, one line per field
                  + ",\n".join(f"    {json.dumps(k)}: {json.dumps(v)}" for k, v in entry.items()) + "\n  }"
                  for method, entry in runs.items()]
        series_text = "{\n" + ",\n".join(blocks) + "\n}\n" if blocks else "{}\n"
        series_file.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(series_file, lambda f: f.write(series_text), mode="w")
        print(f"wrote {series_file} ({sum(len(e['runs']) for e in runs.values())} runs of {runs_dir})")
    return 0
