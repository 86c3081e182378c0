#!/usr/bin/env bash
# Instructions (callgrind) per call of a module function that reads one long from its module
# state (a ModuleState<S> parameter) against one that reads a C++ static, and of a method that
# reads it through its class (module_state_of_type<S>) against one that reads the static
# (bench/module_state/pyo3cpp_module_state.cpp). Each row runs a Python loop of n calls with
# n = 0 and n = N in fresh interpreters; (Ir(N) - Ir(0)) / N is one call (loop included), and
# the difference between a pair of rows is what reaching the state costs.
#
#   bench/module_state.sh PYTHON [BUILD_DIR]   e.g. /usr/bin/python3 build/bench-py311
# BUILD_DIR (default build/bench-py<tag>) is configured as scripts/bench configures its builds
# (buildtype=release, benchmarks=true) when it does not exist yet.
set -euo pipefail
python=${1:-/usr/bin/python3}
root=$(cd "$(dirname "$0")/.." && pwd)
tag=$("$python" -c 'import sys, sysconfig; print(f"{sys.version_info[0]}{sys.version_info[1]}" + ("t" if sysconfig.get_config_var("Py_GIL_DISABLED") else ""))')
build=${2:-$root/build/bench-py$tag}
if [[ ! -f $build/build.ninja ]]; then
  meson setup "$build" -Dpython="$python" -Dbuildtype=release -Dtests=false -Dexamples=false \
    -Dbenchmarks=true >/dev/null
fi
nice -n 10 ninja -C "$build" -j2 bench_module_state_modules >/dev/null
n=${N:-200000}
export PYTHONPATH=$build/bench PYTHONDONTWRITEBYTECODE=1 PYTHONHASHSEED=0 PYTHON_GIL=0
count() {  # callable expression, n -> instructions collected
  valgrind --tool=callgrind --callgrind-out-file=/dev/null "$python" -c "
import bench_module_state as m
f = $1
def loop(k):
    for _ in range(k):
        f()
loop(100)  # the first calls fill caches
loop($2)
" 2>&1 | sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}
row() {  # label, callable expression
  local zero full
  zero=$(count "$2" 0); full=$(count "$2" "$n")
  printf '%-52s %10.1f\n' "$1" "$(echo "($full - $zero) / $n" | bc -l)"
}
printf '%-52s %10s\n' "Python loop calling f(), $n calls (py$tag)" "instr/call"
row "module function reading a C++ static" "m.read_static"
row "module function reading its state (ModuleState<S>)" "m.read_state"
row "method reading a C++ static" "m.Reader().read_static"
row "method reading the state (module_state_of_type<S>)" "m.Reader().read_state"
