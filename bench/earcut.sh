#!/usr/bin/env bash
# Instructions (callgrind) of one triangulate_float64 call on a 10,000-vertex polygon (a wavy
# circle: every vertex on the outline, so earcut does its full work), float64 (n, 2) NumPy
# vertices and uint32 ring ends (no conversion on either side): the pyo3cpp port
# (examples/earcut in BUILD_DIR) beside Debian's pybind11 build of the original
# (python3-mapbox-earcut), on the system CPython 3.11. Each runs N and 2N calls in a fresh
# interpreter; (Ir(2N) - Ir(N)) / N is one call, start-up, imports and the input cancelled.
#
#   bench/earcut.sh BUILD_DIR        e.g. build/py311 (configured with -Dexamples=true)
set -euo pipefail
build=$(realpath "$1")
python=/usr/bin/python3
n=3
export PYTHONDONTWRITEBYTECODE=1 PYTHONHASHSEED=0
count() {  # PYTHONPATH, repetitions -> instructions collected
  PYTHONPATH=$1 valgrind --tool=callgrind --callgrind-out-file=/dev/null "$python" -c "
import math, numpy, mapbox_earcut
n = 10_000
t = numpy.linspace(0, 2 * math.pi, n, endpoint=False)
r = 1 + 0.2 * numpy.sin(37 * t)
verts = numpy.stack([r * numpy.cos(t), r * numpy.sin(t)], axis=1)
rings = numpy.array([n], dtype=numpy.uint32)
for _ in range($2):
    result = mapbox_earcut.triangulate_float64(verts, rings)
assert len(result) == 3 * (n - 2)
" 2>&1 | sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}
row() {
  local one two
  one=$(count "$2" "$n"); two=$(count "$2" $((2 * n)))
  printf '%-52s %12d\n' "$1" $(((two - one) / n))
  eval "$3=$(((two - one) / n))"
}
printf '%-52s %12s\n' "triangulate_float64, 10,000 vertices (3.11)" "instr/call"
row "Debian's python3-mapbox-earcut (pybind11)" "" debian
row "pyo3cpp port (examples/earcut)" "$build/examples/earcut" port
awk -v p="$port" -v d="$debian" 'BEGIN { printf "%-52s %12.4fx\n", "port / Debian", p / d }'
