#!/usr/bin/env bash
# Instructions (callgrind) to return a new float64 array of 1,000 and of 1,000,000 elements from
# C++ (Array<double> owning a unique_ptr<double[]>, tests/ext/pyo3cpp_test_buffers.cpp), as a
# memoryview and as a numpy.ndarray (when NumPy is importable), beside the raw allocation alone
# (allocate and free the same memory, return None) and a copy of it into bytes (what returning
# by copying would add). The memory is allocated, not filled: what is measured is the handing
# over. Each call runs N and 2N times in a fresh interpreter; (Ir(2N) - Ir(N)) / N is one call.
#
#   bench/array_return.sh BUILD_DIR [PYTHON]     e.g. build/py311 /usr/bin/python3
set -euo pipefail
shopt -s inherit_errexit   # a failing run inside $(...) stops the script, not a silent 0
build=$(realpath "$1")
python=${2:-/usr/bin/python3}
n=200
export PYTHONPATH=$build/tests/ext PYTHONDONTWRITEBYTECODE=1 PYTHONHASHSEED=0 PYTHON_GIL=0
has_numpy=$("$python" -c 'import numpy' 2>/dev/null && echo 1 || echo 0)
count() {  # statement, repetitions -> instructions collected (exits when Python fails)
  local out
  out=$(valgrind --tool=callgrind --callgrind-out-file=/dev/null "$python" -c "
import pyo3cpp_test_buffers as t
$( ((has_numpy)) && echo 'import numpy')
for _ in range($2):
    $1
" 2>&1) || { echo "array_return.sh: '$1' failed under $python:" >&2; echo "$out" | tail -n 5 >&2; return 1; }
  sed -n 's/.*Collected : \([0-9]*\).*/\1/p' <<<"$out"
}
per_call() {
  local one two
  one=$(count "$1" "$n")
  two=$(count "$1" $((2 * n)))
  echo $(((two - one) / n))
}
printf '%-44s %12s %12s\n' "float64 array out ($(basename "$build"))" "1,000" "1,000,000"
row() {
  local small large
  small=$(per_call "${2//N/1000}")
  large=$(per_call "${2//N/1000000}")
  printf '%-44s %12d %12d\n' "$1" "$small" "$large"
}
row "raw allocation and free (returns None)" "t.bench_allocate(N)"
row "Array<double> -> memoryview" "t.bench_return(N, False)"
((has_numpy)) && row "Array<double> -> numpy.ndarray" "t.bench_return(N, True)"
row "allocation + copy into bytes (for contrast)" "t.bench_copy(N)"
