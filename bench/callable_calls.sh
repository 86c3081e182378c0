#!/usr/bin/env bash
# Instructions per call (callgrind) of a Python callable called from C++: through Callable<R(A...)>
# (attach check included, and with the token), through a std::function holding it, and as a
# hand-written PyLong_FromLong + PyObject_Vectorcall + PyLong_AsLong. The callee is the built-in
# abs, the same for every row. Each loop runs N and 2N calls in one C++ call, in a fresh
# interpreter; (Ir(2N) - Ir(N)) / N is the cost of one call, start-up cancelled.
#
#   bench/callable_calls.sh BUILD_DIR [PYTHON]      e.g. build/py311 /usr/bin/python3
set -euo pipefail
build=$(realpath "$1")
python=${2:-/usr/bin/python3}
n=20000
export PYTHONPATH=$build/tests/ext PYTHONDONTWRITEBYTECODE=1 PYTHONHASHSEED=0
count() {  # function, calls -> instructions collected
  valgrind --tool=callgrind --callgrind-out-file=/dev/null "$python" -c "
import pyo3cpp_test_callables as m
m.$1(abs, $2)
" 2>&1 | sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}
row() {
  local one two
  one=$(count "$2" "$n"); two=$(count "$2" $((2 * n)))
  printf '%-52s %8d\n' "$1" $(((two - one) / n))
}
printf '%-52s %8s\n' "f(i) from C++, f = abs ($(basename "$build"))" "instr"
row "raw: PyLong_FromLong + PyObject_Vectorcall + AsLong" sum_calls_raw
row "Callable<long(long)>: f.call(py, i)" sum_calls_token
row "Callable<long(long)>: f(i) (attach check)" sum_calls
row "std::function<long(long)> holding it: f(i)" sum_calls_std
