#!/usr/bin/env bash
# The device check: run on a machine with an NVIDIA GPU, CuPy and PyTorch (the `device`
# tool's machine), from the repository root. Runs the CUDA tests, one CUDA training epoch
# on the bundled sample, and the CUDA benchmarks; logs go to $OUT (or ./gpu_check_out).
#
#     bash tools/gpu_check.sh [TEST_SECONDS] [BENCH_SECONDS]
OUT=${OUT:-gpu_check_out}
mkdir -p "$OUT"
TEST_SECONDS=${1:-180}
BENCH_SECONDS=${2:-60}
export PYTHONPATH=$PWD PYTHONUNBUFFERED=1 MPLBACKEND=Agg
export CUPY_CACHE_DIR=/tmp/cupy_cache
{
  date
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv
  python3 -c "import sys, numpy, cupy, torch; print(sys.version.split()[0], 'numpy', numpy.__version__, 'cupy', cupy.__version__, 'torch', torch.__version__, torch.cuda.is_available())"
  python3 -c "import minires.backend as b; print('minires cuda_available:', b.cuda_available(), b.cuda_unavailable_reason())"
} 2>&1 | tee "$OUT/env.txt"

echo "== CUDA tests (pytest -m gpu)"
timeout "$TEST_SECONDS" python3 -m pytest -q -p no:cacheprovider -m gpu -n 8 --timeout 120 \
  -o addopts="" -rfE --tb=short tests >"$OUT/tests.txt" 2>&1
echo "pytest exit: $?" >>"$OUT/tests.txt"
tail -c 6000 "$OUT/tests.txt"

echo "== one training epoch on CUDA (bundled sample)"
timeout 45 python3 -m minires train --model residual --depth 20 --epochs 1 --device cuda \
  --out /tmp/gpu_run >"$OUT/train.txt" 2>&1
echo "train exit: $?" >>"$OUT/train.txt"
tail -n 15 "$OUT/train.txt"

echo "== benchmarks"
{
  timeout "$BENCH_SECONDS" python3 benchmarks/bench_ops.py --device cuda --repeats 11
  echo "bench_ops exit: $?"
  timeout "$BENCH_SECONDS" python3 benchmarks/bench_train_step.py --device cuda --depths 20 56 --batch-sizes 128 --repeats 8
  echo "bench_train_step exit: $?"
} >"$OUT/bench.txt" 2>&1
cat "$OUT/bench.txt" | tail -c 5000
