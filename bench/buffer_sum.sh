#!/usr/bin/env bash
# Instructions (callgrind) to sum a 1,000,000-element float64 array.array passed from Python:
# pyo3cpp's BufferView<const double> parameter (sum_f64) beside the same loop written against the
# C API by hand, PyObject_GetBuffer and PyBuffer_Release in a METH_O function (sum_f64_by_hand),
# both in tests/ext/pyo3cpp_test_buffers.cpp. Each call runs N and 2N times in a fresh
# interpreter; (Ir(2N) - Ir(N)) / N is one call, start-up and the array's creation cancelled.
#
#   bench/buffer_sum.sh BUILD_DIR [PYTHON]     e.g. build/py311 /usr/bin/python3
set -euo pipefail
build=$(realpath "$1")
python=${2:-/usr/bin/python3}
n=5
export PYTHONPATH=$build/tests/ext PYTHONDONTWRITEBYTECODE=1 PYTHONHASHSEED=0 PYTHON_GIL=0
count() {  # statement, repetitions -> instructions collected
  valgrind --tool=callgrind --callgrind-out-file=/dev/null "$python" -c "
import array, pyo3cpp_test_buffers as t
values = array.array('d', bytes(8 * 1_000_000))
for _ in range($2):
    $1
" 2>&1 | sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}
row() {
  local one two
  one=$(count "$2" "$n"); two=$(count "$2" $((2 * n)))
  printf '%-48s %10d\n' "$1" $(((two - one) / n))
}
printf '%-48s %10s\n' "sum of 1,000,000 float64 ($(basename "$build"))" "instr/call"
row "C API by hand (PyObject_GetBuffer, METH_O)" "t.sum_f64_by_hand(values)"
row "pyo3cpp BufferView<const double>" "t.sum_f64(values)"
