#!/usr/bin/env bash
# The paper-scale step-time table on a GPU machine, from a fresh checkout of this repository.
#
#   bash benchmarks/gpu_check.sh [OUT.md]                         # on a GPU machine (about 10 minutes; MEMORY=0: about 5)
#   DEVICE=cpu SIZE=tiny bash benchmarks/gpu_check.sh /tmp/x.md    # the CPU smoke test (tests/benchmarks/test_gpu_check.py)
#
# 1. Environment: if the chosen Python already imports torch and torchvision, it is used as is
#    (missing light dependencies are installed at requirements.txt's pins; pfrlib is imported from
#    this checkout through PYTHONPATH); otherwise a venv (VENV, default .venv-gpu) gets
#    `pip install -r requirements.txt`.
# 2. nvidia-smi, the PyTorch / CUDA versions.
# 3. benchmarks/step_time.py: DeepLab-v2 R101 multi-level, randomly initialised, source 720x1280 +
#    target 512x1024, batch 1; the AdaptSegNet method and pfr_adv, fp32 and bf16; step time,
#    peak GPU memory, FLOPs per iteration, TFLOP/s and share of the card's peak, host-device syncs
#    per iteration, top ops, time for 150k iterations. The engine's defaults (auto) hold for
#    everything else; extra step_time.py options can be given in STEP_ARGS (e.g. "--compile").
# 4. benchmarks/data_pipeline.py: images/s per DataLoader worker on this machine's CPUs
#    (DATA_PIPELINE=0 skips it).
# 5. benchmarks/memory.py --device cuda --fraction 1 (claim (c)): torch.cuda.max_memory_allocated
#    per training stage of every Table-1 method at the published sizes, and the translated sets'
#    bytes on disk, into MEMORY_RESULTS (default benchmarks/results: memory_cuda.json and
#    memory.md; copy them back into a checkout's benchmarks/results/). About 5 minutes on one
#    GPU. MEMORY=0 skips it; SIZE=tiny measures CyCADA's three stages at a tiny fraction into a temporary folder.
#
# The markdown report goes to $1, or $OUT, or gpu_check.md. Environment knobs: PYTHON, VENV,
# DEVICE (cuda), SIZE (paper | tiny), STEPS (timed iterations, 20), PRECISIONS ("fp32 bf16"),
# STEP_METHODS ("adaptsegnet pfr_adv"), STEP_ARGS,
# DATA_PIPELINE (1), MEMORY (1), MEMORY_RESULTS (benchmarks/results).
# Without PYTHON, the first Python that runs and imports torch is used (else the first that can
# create a venv): a version manager's shim that cannot run is passed over.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$(pwd)
OUT_FILE=${1:-${OUT:-gpu_check.md}}
DEVICE=${DEVICE:-cuda}
SIZE=${SIZE:-paper}
STEPS=${STEPS:-20}
PRECISIONS=${PRECISIONS:-fp32 bf16}
STEP_METHODS=${STEP_METHODS:-adaptsegnet pfr_adv}
STEP_ARGS=${STEP_ARGS:-}
DATA_PIPELINE=${DATA_PIPELINE:-1}
MEMORY=${MEMORY:-1}
START=$SECONDS

log() { echo "[gpu_check $((SECONDS - START)) s] $*" >&2; }

# ------------------------------------------------------------------ 1. environment
# The Python: PYTHON if set, else the first of python3.12, python3.11, python3, python that runs
# and imports torch and torchvision, else the first that runs and can create a venv. A name that
# is on PATH but does not run (a version manager's shim for a version it has not installed) is
# passed over, with the reason in the error line if nothing fits.
CANDIDATES=(python3.12 python3.11 python3 python)
# The line that names a Python's torch, torchvision, CUDA and device: it imports both packages, so
# it is also the check that they import (once per Python: importing torchvision takes seconds).
IFS= read -r -d '' TORCH_LINE_CODE <<'EOF' || true  # (a builtin: PATH may hold nothing else)
import platform, torch, torchvision
cuda = torch.cuda.is_available()
print(f"Python {platform.python_version()}, torch {torch.__version__}, torchvision {torchvision.__version__}, "
      f"CUDA {torch.version.cuda}, cuDNN {torch.backends.cudnn.version() if cuda else 'n/a'}, "
      f"device: {torch.cuda.get_device_name(0) if cuda else 'cpu'}")
EOF
TORCH_LINE=""
tried=()
works() {  # works NAME CODE WHY: NAME is on PATH, runs, and runs CODE (its output in $RAN); else the reason goes to $tried
    if ! command -v "$1" >/dev/null 2>&1; then tried+=("$1: not found"); return 1; fi
    if ! "$1" -c 'import sys' >/dev/null 2>&1; then tried+=("$1: does not run"); return 1; fi
    if ! RAN=$("$1" -c "$2" 2>/dev/null); then tried+=("$1: $3"); return 1; fi
}
if [ -n "${PYTHON:-}" ]; then
    if ! "$PYTHON" -c 'import sys' >/dev/null 2>&1; then
        echo "gpu_check: PYTHON=$PYTHON does not run; expected a Python 3 interpreter (or leave PYTHON unset)" >&2
        exit 1
    fi
else
    for cand in "${CANDIDATES[@]}"; do
        if works "$cand" "$TORCH_LINE_CODE" "no torch"; then PYTHON=$cand; TORCH_LINE=$RAN; break; fi
    done
    if [ -z "${PYTHON:-}" ]; then
        for cand in "${CANDIDATES[@]}"; do
            if works "$cand" 'import venv, ensurepip' "cannot create a venv"; then PYTHON=$cand; break; fi
        done
    fi
    if [ -z "${PYTHON:-}" ]; then
        reasons=""
        for r in "${tried[@]}"; do  # each reason once (both passes try every name)
            case "; $reasons; " in *"; $r; "*) ;; *) reasons=${reasons:+$reasons; }$r ;; esac
        done
        echo "gpu_check: no Python that runs and imports torch or can create a venv (${reasons:-none tried}); set PYTHON to one" >&2
        exit 1
    fi
fi

pin() {  # the requirements.txt line of a package (its pinned version), or the bare name
    grep -iE "^$1==" requirements.txt || echo "$1"
}

if [ -n "$TORCH_LINE" ] || TORCH_LINE=$("$PYTHON" -c "$TORCH_LINE_CODE" 2>/dev/null); then
    PY=$PYTHON
    log "using $PY ($TORCH_LINE), already installed"
    missing=()
    for pair in numpy:numpy PIL:pillow yaml:PyYAML tqdm:tqdm; do
        mod=${pair%%:*}; pkg=${pair#*:}
        "$PY" -c "import $mod" >/dev/null 2>&1 || missing+=("$(pin "$pkg")")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        log "installing ${missing[*]}"
        "$PY" -m pip install --quiet "${missing[@]}" || log "warning: could not install ${missing[*]}"
    fi
else
    VENV=${VENV:-.venv-gpu}
    log "no torch in $PYTHON: creating $VENV and installing requirements.txt"
    [ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet --upgrade pip
    "$VENV/bin/python" -m pip install --quiet -r requirements.txt
    PY=$VENV/bin/python
    TORCH_LINE=$("$PY" -c "$TORCH_LINE_CODE")
fi
export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"  # this checkout's pfrlib, installed or not
"$PY" -c "import pfrlib" || { echo "cannot import pfrlib from $ROOT" >&2; exit 1; }

# ------------------------------------------------------------------ 2. the machine
TMP_DIR=$(mktemp -d)
trap 'rm -rf "$TMP_DIR"' EXIT
{
    echo "## gpu_check: $(date -u '+%Y-%m-%d %H:%M UTC'), SIZE=$SIZE, DEVICE=$DEVICE"
    echo
    echo '```'
    if command -v nvidia-smi >/dev/null 2>&1; then
        nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm,power.limit --format=csv || true
    else
        echo "(no nvidia-smi)"
    fi
    echo "$TORCH_LINE"
    echo '```'
    echo
} > "$TMP_DIR/head.md"
command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi || true
cat "$TMP_DIR/head.md"

# ------------------------------------------------------------------ 3. step time
case "$SIZE" in
    paper)
        SIZES=(--r101-size 720 1280 --r101-target-size 512 1024 --render-size 180 320)
        RUN=(--r101-steps "$STEPS" --r101-warmup 5 --profile-steps 3 --eval-images 8 --num-workers 4) ;;
    tiny)
        SIZES=(--r101-size 32 32 --r101-target-size 32 32 --render-size 32 32)
        RUN=(--r101-steps 1 --r101-warmup 0 --profile-steps 1 --eval-images 1 --threads 1) ;;
    *) echo "SIZE must be paper or tiny, got $SIZE" >&2; exit 2 ;;
esac
log "step time: R101 multi-level, $STEP_METHODS, $PRECISIONS ($SIZE)"
# shellcheck disable=SC2086  # PRECISIONS, STEP_METHODS and STEP_ARGS are lists
"$PY" benchmarks/step_time.py --device "$DEVICE" --skip-small --precisions $PRECISIONS \
    --r101-methods $STEP_METHODS "${SIZES[@]}" "${RUN[@]}" --flops --profile \
    --markdown "$TMP_DIR/step.md" --json "$TMP_DIR/step.json" $STEP_ARGS >&2

# ------------------------------------------------------------------ 4. data pipeline
if [ "$DATA_PIPELINE" = "1" ]; then
    log "data pipeline"
    if [ "$SIZE" = tiny ]; then DP=(--quick); else DP=(--frames 4 --items 16 --workers 1 4); fi
    "$PY" benchmarks/data_pipeline.py "${DP[@]}" --markdown "$TMP_DIR/data.md" >/dev/null
fi

# ------------------------------------------------------------------ 5. memory (claim (c))
if [ "$MEMORY" = "1" ]; then
    log "memory: every Table-1 method, per stage ($SIZE)"
    if [ "$SIZE" = tiny ]; then
        MEMORY_RESULTS=${MEMORY_RESULTS:-$TMP_DIR/memory}
        MEM=(--fraction 0.05 --methods cycada --steps 1 --threads 1 --footprint-images 1 --footprint-size 32 32)
    else
        MEMORY_RESULTS=${MEMORY_RESULTS:-benchmarks/results}
        MEM=(--fraction 1)
    fi
    "$PY" benchmarks/memory.py --device "$DEVICE" "${MEM[@]}" --results "$MEMORY_RESULTS" > "$TMP_DIR/memory.md"
fi

{
    cat "$TMP_DIR/head.md"
    cat "$TMP_DIR/step.md"
    if [ -f "$TMP_DIR/data.md" ]; then echo; cat "$TMP_DIR/data.md"; fi
    if [ -f "$TMP_DIR/memory.md" ]; then echo; cat "$TMP_DIR/memory.md"; fi
    echo
    echo "Wall time of gpu_check.sh: $((SECONDS - START)) s."
} > "$OUT_FILE"
cat "$OUT_FILE"
log "wrote $OUT_FILE"
LIMIT=$([ "$MEMORY" = "1" ] && echo 900 || echo 480)  # the memory step adds about 5 minutes
if [ $((SECONDS - START)) -gt "$LIMIT" ]; then log "warning: took more than $((LIMIT / 60)) minutes"; fi
