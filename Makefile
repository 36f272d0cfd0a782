# pfr: two commands on a fresh clone: `make reproduce` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
NOTEBOOKS := $(sort $(wildcard notebooks/[0-9][0-9]_*.ipynb))
RUNS := runs

SPEC ?= sweeps/ablation.yaml

.PHONY: setup test test-fast reproduce notebooks sync lab lab-instructor benchmarks sweep student assignments grade tensorboard site clean help

help:
	@echo "make reproduce  run the notebook series headless (papermill) into runs/, regenerate figures/"
	@echo "make reproduce ALL=1   the same, and retrain every multi-seed table instead of reading benchmarks/results/"
	@echo "make test       the whole test suite (what CI runs): unit, integration, notebooks (smoke)"
	@echo "make lab        JupyterLab for a student: the release copies in assignments/ (made if missing; saving changes no tracked file)"
	@echo "make lab-instructor  JupyterLab on the committed notebooks/ (saving changes tracked files: for editing the series)"
	@echo "make notebooks  re-execute the committed notebooks in place with their defaults"
	@echo "make benchmarks print the benchmark tables"
	@echo "make sweep SPEC=sweeps/ablation.yaml   run a parameter sweep (resumable) and aggregate it"
	@echo "make sweep SPEC=... LAUNCHER=slurm SWEEP_ARGS='--partition gpu'   the same, one Slurm job per run"
	@echo "make tensorboard  TensorBoard on runs/ (every run's losses, validation mIoU, images)"
	@echo "make student    regenerate the committed student/ templates (solutions -> TODO stubs; read-only, students use assignments/)"
	@echo "make assignments  release copies for students (assignments/) and grading copies (grading/), nbgrader format"
	@echo "make grade SUBMISSIONS=DIR   grade DIR/<student>/<notebook>.ipynb: DIR/grades.csv and a feedback file each"
	@echo "make site       build the course site (notebooks as executed, docs, search) into site/_build/html/, offline"

# Create .venv and install the pinned requirements; skipped when nothing changed. pip compiles no
# bytecode (most of the venv's 13,000 files are never imported, and compiling them is half of the
# install's time); two processes import what the project uses instead, writing the bytecode of
# just that, and the rest is written on its first import: the project's commands run with
# PYTHONDONTWRITEBYTECODE cleared.
WARM_IMPORTS := torch+torchvision+torchvision.transforms.v2+torch.distributed.run+torch.utils.tensorboard+torch.profiler+torch._dynamo+pandas+matplotlib.pyplot+seaborn+PIL.Image+yaml+tqdm+submitit+cityscapesscripts \
  nbformat+nbclient+nbconvert+papermill+ipykernel.kernelapp+ipykernel.ipkernel+debugpy+jupytext+jupyterlab+jupyter_server.serverapp+nbval+coverage+pytest+xdist+playwright.async_api+sphinx.application+myst_nb+jupyter_cache.cache.main+sphinx_book_theme+IPython
export PYTHONDONTWRITEBYTECODE :=
setup: $(STAMP)
$(STAMP): requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet --no-compile -r requirements.txt
	@echo "compiling what the project imports (the rest of the venv compiles on first import)"
	@pids=(); for mods in $(WARM_IMPORTS); do $(PY) -c "import $${mods//+/, }" & pids+=($$!); done; \
	  for p in "$${pids[@]}"; do wait $$p || exit 1; done
	touch $(STAMP)

# Unit + integration tests and every notebook under nbval in smoke mode, in one pytest session on
# every core (pytest-xdist; TEST_WORKERS=0 runs in one process), so neither waits for the other's
# slowest item. A notebook's cells stay in one worker, the notebooks that share runs/smoke/series run
# one after another, and each kernel starts with PFR_SMOKE=1 (notebooks/conftest.py, whose scheduler
# hands out the notebooks first and then one test at a time). There is one worker more than there
# are cores: many tests wait on what they start (kernels, Slurm jobs, torchrun's ranks, a grading
# time limit) and the extra worker computes meanwhile. The session ends with its 15 slowest items,
# so the time budget stays in sight.
TEST_WORKERS ?= auto
UNIT_WORKERS = $(if $(filter auto,$(TEST_WORKERS)),$(shell echo $$(( $$(nproc) + 1 ))),$(TEST_WORKERS))
PYTEST_PARALLEL = -n $(TEST_WORKERS) --durations=15
test: setup
	@$(PY) -m compileall -q pfrlib >/dev/null  # bytecode once, for the hundreds of processes the tests start
	$(PY) -m pytest notebooks tests -q -n $(UNIT_WORKERS) --durations=15 -p no:cacheprovider \
	  --nbval-lax --nbval-sanitize-with notebooks/sanitize.cfg

test-fast: setup
	$(PY) -m pytest tests -q -m "not slow" $(PYTEST_PARALLEL)

# Run the series headless with its default parameters; outputs go to runs/, never over notebooks/.
# Reports one line per notebook (what it trains), each run as it starts/finishes, times, a summary.
reproduce: setup
	$(PY) -m pfrlib.reproduce --out $(RUNS)/notebooks $(if $(ALL),--all) $(NOTEBOOKS)

# Re-execute the committed notebooks in place with their defaults (not papermill), then re-pair.
# The kernel talks over socket files in a private temporary folder (ipc, absolute path: the kernel
# runs in notebooks/), so there is no "running over TCP" warning per notebook.
notebooks: setup
	@set -e; sockets=$$(mktemp -d); trap 'rm -rf "$$sockets"' EXIT; for nb in $(NOTEBOOKS); do \
	  echo "== $$nb"; \
	  $(VENV)/bin/jupyter nbconvert --to notebook --execute --inplace --ExecutePreprocessor.timeout=1800 \
	    --KernelManager.transport=ipc --KernelManager.ip="$$sockets/kernel" "$$nb"; \
	  $(VENV)/bin/jupytext --quiet --sync "$$nb"; \
	done

sync: setup
	$(VENV)/bin/jupytext --sync $(NOTEBOOKS)

# JupyterLab rooted at the repository (terminals start there, where every "What to try" command runs).
# `make lab` is a student's: the release copies in assignments/ open (ignored by git, no jupytext
# pairing; `make assignments` writes them when there are none, and never over a student's work here).
# `make lab-instructor` opens the committed notebooks/, whose (auto)saves change tracked files.
LAB := $(VENV)/bin/jupyter lab --ServerApp.root_dir=.
lab: setup
	@$(if $(wildcard assignments/[0-9][0-9]_*.ipynb),,$(MAKE) --no-print-directory assignments)
	$(LAB) --LabApp.default_url=/lab/tree/assignments

lab-instructor: setup
	$(LAB) --LabApp.default_url=/lab/tree/notebooks

benchmarks: setup
	@set -e; for b in benchmarks/*.py; do echo "== $$b"; $(PY) $$b; done

# A parameter sweep (resumable: finished runs are skipped) and its aggregated table and plots.
# LAUNCHER=slurm: one Slurm job per run (docs/cluster.md); SWEEP_ARGS: further options, e.g.
# SWEEP_ARGS="--partition gpu --gpus-per-run 1 --time 24:00:00".
LAUNCHER ?= local
SWEEP_ARGS ?=
sweep: setup
	$(PY) -m pfrlib.sweep $(SPEC) --launcher $(LAUNCHER) $(SWEEP_ARGS)

# Every run writes TensorBoard events to runs/<run>/tensorboard/ (pfrlib/engine/tensorboard.py).
TB_PORT ?= 6006
tensorboard: setup
	$(VENV)/bin/tensorboard --logdir $(RUNS) --port $(TB_PORT)

# Student copies: cells tagged "solution" become TODO stubs; the tests check they are current. The
# committed student/ is the read-only template the site and the code host show; students work in
# the release copies (`make assignments`, `make lab`), whose saves change no tracked file.
student: setup
	$(PY) -m pfrlib.teaching.student --out student

# The course site: every executed notebook as a page with its committed outputs (never re-run),
# docs/ and the README as pages, a search box, the notebooks and student copies to download.
# Offline: theme, MathJax and search come from installed packages (site/build_site.py, site/conf.py).
site: setup
	$(PY) site/build_site.py

# Assignments (pfrlib/teaching/assignments.py): release copies, what students open and autosave, into
# assignments/ (ignored; no jupytext pairing), and grading copies with solutions and hidden tests
# into grading/ (ignored; keep it from students). Points per exercise: POINTS in that module.
assignments: setup
	$(PY) -m pfrlib.teaching.assignments --out assignments --grading grading

# Grade SUBMISSIONS/<student>/<notebook>.ipynb against grading/ (pfrlib/teaching/grading.py): one
# kernel per submission in smoke mode (PFR_SMOKE=1), CELL_TIMEOUT seconds per cell, TIMEOUT per notebook.
# Every student gets rows for every notebook graded (EXPECT="01_gram_matrices ...", default: each one
# someone submitted); a missing one scores 0, "not submitted".
CELL_TIMEOUT ?= 60
TIMEOUT ?= 300
EXPECT ?=
grade: setup
	@test -n "$(SUBMISSIONS)" || { echo "error: name the submissions folder: make grade SUBMISSIONS=DIR (DIR/<student>/<notebook>.ipynb)" >&2; exit 2; }
	$(PY) -m pfrlib.teaching.grading "$(SUBMISSIONS)" --grading grading --cell-timeout $(CELL_TIMEOUT) --timeout $(TIMEOUT) \
	  $(if $(EXPECT),--expect $(EXPECT))

clean:
	rm -rf $(RUNS) .pytest_cache
