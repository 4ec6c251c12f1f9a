#!/usr/bin/env bash
# GPU check of issue 17, in one go, on a machine with CUDA: the whole test suite, `derivcheck verify`
# with the torch-cuda engine and H v, the CUDA bench section, and the formulation measurement on the GPU.
# Every step runs even when an earlier one fails; the exit status is 1 if any failed.
#
#   OUT=folder bash scripts/gpu_check.sh              # run (repository root); outputs under $OUT
#   bash scripts/gpu_check.sh --fetch-wheels          # here, with PyPI: put the wheels the GPU machine
#                                                     # lacks into .whl/ (git-ignored) to carry along
#
# On the project's device machine (python3 3.12 with torch CUDA, pytest, xdist; no network; numexpr and
# pylatexenc missing): fetch the wheels first, then run with `.whl` carried:
#   run(command="OUT=$OUT bash scripts/gpu_check.sh", carry=[".whl"], timeout_s=600)
# No pip install of the project: it runs from the checkout with PYTHONPATH=. ; a missing dependency is
# installed from .whl/ into /tmp/gpu_check_site (appended to PYTHONPATH, so it shadows nothing).
#
# Outputs (at most 8 files, flat, as the device tool brings back): summary.txt (machine, versions,
# each step's exit status and seconds), pytest.txt, verify.txt, verify.json, bench.txt, bench.json,
# formulations.txt. Step time limits (seconds) can be changed: T_PYTEST, T_VERIFY, T_BENCH, T_FORM;
# PYTEST_ARGS narrows the suite (e.g. a file, for a dry run of the script on a CPU machine).
set -u
PY=${PYTHON:-python3}
WHEELS=(numexpr==2.14.2 pylatexenc==2.10)

if [ "${1:-}" = "--fetch-wheels" ]; then
  mkdir -p .whl
  "$PY" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
    --platform manylinux2014_x86_64 -d .whl "${WHEELS[0]}" || exit 1
  "$PY" -m pip wheel -q --no-deps -w .whl "${WHEELS[1]}" || exit 1  # pure Python, published as sdist only
  ls -l .whl
  exit 0
fi

OUT=${OUT:?set OUT to the folder for the outputs}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
SUMMARY="$OUT/summary.txt"
: >"$SUMMARY"

missing=$("$PY" -c 'import importlib.util as u; print(" ".join(m for m in ("numexpr", "pylatexenc") if u.find_spec(m) is None))')
if [ -n "$missing" ]; then
  whls=()
  for m in $missing; do whls+=(.whl/"$m"-*.whl); done
  if "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/gpu_check_site "${whls[@]}"; then
    export PYTHONPATH="$PYTHONPATH:/tmp/gpu_check_site"
    echo "installed from .whl: $missing" >>"$SUMMARY"
  else
    echo "missing and not installable from .whl/: $missing (run --fetch-wheels here, carry .whl)" >>"$SUMMARY"
  fi
fi

{
  echo "date: $(date -u +%FT%TZ)"
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 | sed 's/^/gpu: /'
  "$PY" -c 'import sys, torch, numpy; print("python", sys.version.split()[0], "torch", torch.__version__, "cuda", torch.version.cuda, "available", torch.cuda.is_available(), "numpy", numpy.__version__)'
  echo "git: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
} >>"$SUMMARY" 2>&1

status=0
step() {  # step NAME LIMIT LOGFILE CMD...
  local name=$1 limit=$2 log=$3
  shift 3
  local t0=$SECONDS
  timeout "$limit" "$@" >"$log" 2>&1
  local rc=$?
  echo "$name: exit $rc in $((SECONDS - t0)) s$([ "$rc" = 124 ] && echo " (time limit $limit s)")" >>"$SUMMARY"
  tail -n 3 "$log" | sed "s/^/  $name | /" >>"$SUMMARY"
  [ "$rc" = 0 ] || status=1
}

step pytest "${T_PYTEST:-300}" "$OUT/pytest.txt" \
  "$PY" -m pytest -q -n 8 -p no:cacheprovider -p no:benchmark --hypothesis-profile=ci ${PYTEST_ARGS:-}
step verify "${T_VERIFY:-120}" "$OUT/verify.txt" \
  "$PY" -m derivcheck verify --quick --engines torch-cuda,hvp --out "$OUT/verify.json"
step bench "${T_BENCH:-120}" "$OUT/bench.txt" \
  env COLUMNS=80 "$PY" -m derivcheck bench --device cuda --only cuda --out "$OUT/bench.json"
step formulations "${T_FORM:-50}" "$OUT/formulations.txt" \
  "$PY" scripts/bench_formulations.py --device cuda --widths 8192 --batch 1024 --repeats 3
cat "$SUMMARY"
exit $status
