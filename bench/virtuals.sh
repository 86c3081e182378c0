#!/usr/bin/env bash
# Instructions (callgrind) per call of a Python override of a C++ virtual, called from a C++ loop
# (`loop(task, n)`: n calls of task.run(i) through Task&, results summed):
#   - pyo3cpp: Trampoline<Task> with PYO3CPP_OVERRIDE (bench/virtuals/pyo3cpp_virtual.cpp);
#   - pybind11 2.10 (Debian's pybind11-dev; GIL builds): py::class_<Task, PyTask> with
#     PYBIND11_OVERRIDE (bench/virtuals/pybind11_virtual.cpp);
#   - C API by hand: the same loop calling the Python method with PyObject_VectorcallMethod and an
#     interned name (bench/virtuals/capi_virtual.c) on a plain Python class.
# Each side is an extension module of its own (a shared object, as the other peer benches). The
# override is `def run(self, x): return x`. A second pair of rows has no override: the C++
# implementation runs, and the cost is the dispatch's lookup alone (the C API has no such row).
# Each row runs the loop with n = 0 and n = N in fresh interpreters; (Ir(N) - Ir(0)) / N is one
# call, start-up cancelled.
#
#   bench/virtuals.sh PYTHON [BUILD_DIR]   e.g. /usr/bin/python3 build/bench-py311
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
nice -n 10 ninja -C "$build" -j2 bench_virtuals_modules >/dev/null
n=${N:-1000000}
export PYTHONPATH=$build/bench PYTHONDONTWRITEBYTECODE=1 PYTHONHASHSEED=0 PYTHON_GIL=0
count() {  # module, class body, n -> instructions collected
  valgrind --tool=callgrind --callgrind-out-file=/dev/null "$python" -c "
import $1 as side
base = getattr(side, 'Task', object)
class T(base):
$2
t = T()
side.loop(t, 10)  # the first calls fill caches
side.loop(t, $3)
" 2>&1 | sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}
row() {  # label, module, class body
  "$python" -c "import $2" 2>/dev/null || return 0
  local zero full
  zero=$(count "$2" "$3" 0); full=$(count "$2" "$3" "$n")
  printf '%-58s %10.1f\n' "$1" "$(echo "($full - $zero) / $n" | bc -l)"
}
override='    def run(self, x): return x'
none='    pass'
printf '%-58s %10s\n' "Python override called from C++, $n calls (py$tag)" "instr/call"
row "C API by hand (PyObject_VectorcallMethod)" bench_virtuals_capi "$override"
row "pyo3cpp (Trampoline, PYO3CPP_OVERRIDE)" bench_virtuals_pyo3cpp "$override"
row "pybind11 (PYBIND11_OVERRIDE)" bench_virtuals_pybind11 "$override"
row "pyo3cpp, no override (C++ implementation)" bench_virtuals_pyo3cpp "$none"
row "pybind11, no override (C++ implementation)" bench_virtuals_pybind11 "$none"
