#!/usr/bin/env bash
# Instructions per call (callgrind) of functions and methods defined once, and of overload sets,
# from Python code: each statement runs N and 2N times in a fresh interpreter, and
# (Ir(2N) - Ir(N)) / N is its cost, start-up cancelled. Compare two build trees to see what
# overloads cost a name defined once (nothing: the figures of the "once" rows are the same).
#
#   bench/overload_calls.sh BUILD_DIR [PYTHON]      e.g. build/py311 /usr/bin/python3
set -euo pipefail
build=$(realpath "$1")
python=${2:-/usr/bin/python3}
n=20000
export PYTHONPATH=$build/tests/ext PYTHONDONTWRITEBYTECODE=1 PYTHONHASHSEED=0
count() {  # setup, statement, repetitions -> instructions collected
  valgrind --tool=callgrind --callgrind-out-file=/dev/null "$python" -c "
$1
for _ in range($3):
    $2
" 2>&1 | sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}
row() {
  local one two
  one=$(count "$2" "$3" "$n"); two=$(count "$2" "$3" $((2 * n)))
  printf '%-44s %8d\n' "$1" $(((two - one) / n))
}
printf '%-44s %8s\n' "call ($(basename "$build"))" "instr"
row "once: add(1, 2)" "from pyo3cpp_test_bindings import add" "add(1, 2)"
row "once: Counter.get() (method)" "import pyo3cpp_test_classes as m; c = m.Counter(1)" "c.get()"
if [[ -e $(ls "$build"/tests/ext/pyo3cpp_test_overloads.* 2>/dev/null | head -1) ]]; then
  row "once: once(7)" "from pyo3cpp_test_overloads import once" "once(7)"
  row "set: half(7) (first, exact)" "from pyo3cpp_test_overloads import half" "half(7)"
  row "set: half(7.0) (second, exact)" "from pyo3cpp_test_overloads import half" "half(7.0)"
  row "set: int_first(True) (second pass)" "from pyo3cpp_test_overloads import int_first" "int_first(True)"
  row "set: Vec2(1.0, 2.0) (constructor, 2nd of 3)" "from pyo3cpp_test_overloads import Vec2" "Vec2(1.0, 2.0)"
  row "once: Point(1.0, 2.0) (constructor)" "from pyo3cpp_test_overloads import Point" "Point(1.0, 2.0)"
  row "set: v.add(1.5) (method, first)" "from pyo3cpp_test_overloads import Vec2; v = Vec2()" "v.add(1.5)"
  row "once: v.same(v) (method)" "from pyo3cpp_test_overloads import Vec2; v = Vec2()" "v.same(v)"
fi
