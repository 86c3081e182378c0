#!/usr/bin/env bash
# Instructions per operation (callgrind) of the PyKDL port (examples/pykdl) beside Debian's
# python3-pykdl (upstream's pybind11 bindings, 3.11 only), the operations of issue 22's
# "Figures": each statement runs N and 2N times in a fresh interpreter, and (Ir(2N) - Ir(N)) / N
# is its cost, start-up and setup cancelled. Same interpreter, same statements for both sides.
#
#   bench/pykdl/pykdl_calls.sh BUILD_DIR [PYTHON]    e.g. build/py311 /usr/bin/python3
# With a free-threaded PYTHON (PYTHON_GIL=0 is set), the port's column only.
set -euo pipefail
build=$(realpath "$1")
python=${2:-/usr/bin/python3}
port_dir=$build/examples/pykdl
n=${PYKDL_BENCH_N:-20000}
export PYTHONDONTWRITEBYTECODE=1 PYTHONHASHSEED=0 PYTHON_GIL=0
ls "$port_dir"/PyKDL*.so >/dev/null
control=0
if "$python" -c 'import sys, sysconfig; sys.exit(sys.version_info[:2] != (3, 11) or bool(sysconfig.get_config_var("Py_GIL_DISABLED")))' \
    && ls /usr/lib/python3/dist-packages/PyKDL.cpython-311-*.so >/dev/null 2>&1; then
  control=1
fi
setup='from PyKDL import *
a = Vector(1, 2, 3); b = Vector(4, 5, 6); f = Frame(Rotation.RPY(0.1, 0.2, 0.3), Vector(1, 2, 3))
chain = Chain()
for j, t in ((Joint.RotZ, Vector(0, 0, 0.3)), (Joint.RotY, Vector(0.1, 0, 0.5)), (Joint.RotY, Vector(0, 0, 0.4)),
             (Joint.RotX, Vector(0.2, 0, 0)), (Joint.RotY, Vector(0, 0.1, 0)), (Joint.RotZ, Vector(0, 0, 0.05))):
    chain.addSegment(Segment(Joint(j), Frame(t)))
fk = ChainFkSolverPos_recursive(chain); q = JntArray(6); out = Frame()
for i in range(6): q[i] = 0.1 * i'
count() {  # PYTHONPATH, statement, repetitions -> instructions collected
  PYTHONPATH=$1 valgrind --tool=callgrind --callgrind-out-file=/dev/null "$python" -c "
$setup
for _ in range($3):
    $2
" 2>&1 | sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}
per_op() {
  local one two
  one=$(count "$1" "$2" "$n"); two=$(count "$1" "$2" $((2 * n)))
  echo $(((two - one) / n))
}
if ((control)); then
  printf '| %s | %s | %s | %s |\n' "operation ($(basename "$build"))" "port" "python3-pykdl" "port / pybind11"
  printf '|---|---:|---:|---:|\n'
else
  printf '| %s | %s |\n' "operation ($(basename "$build"))" "port"
  printf '|---|---:|\n'
fi
row() {
  local port ctl
  port=$(per_op "$port_dir" "$2")
  if ((control)); then
    ctl=$(per_op "" "$2")
    printf '| %s | %d | %d | %s |\n' "$1" "$port" "$ctl" "$(awk "BEGIN { printf \"%.2f\", $port / $ctl }")"
  else
    printf '| %s | %d |\n' "$1" "$port"
  fi
}
row '`Vector + Vector`' 'a + b'
row '`v * 2.0`' 'a * 2.0'
row '`2.0 * v`' '2.0 * a'
row '`Frame * Vector`' 'f * a'
row '`Rotation.RPY(0.1, 0.2, 0.3)`' 'Rotation.RPY(0.1, 0.2, 0.3)'
row '`f.p` read' 'f.p'
row "\`Vector(1.0, 2.0, 3.0)\` (2nd of 3 constructors)" 'Vector(1.0, 2.0, 3.0)'
row '`Vector()` (1st constructor)' 'Vector()'
row "\`Equal(a, b)\` (overloaded: Vector is the 1st)" 'Equal(a, b)'
row '`fk.JntToCart(q, out)` (6 joints)' 'fk.JntToCart(q, out)'
