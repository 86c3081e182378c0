#!/usr/bin/env bash
# What the runtime package adds to an extension package's import: `import pyo3cpp` (loading
# libpyo3cpp and checking it) plus `pyo3cpp.require()` (reading the package's extension modules'
# DT_NEEDED entries), measured with `python -X importtime`, best of N runs, in a fresh process each
# time; then again with libstdc++ loaded before the interpreter starts (LD_PRELOAD), since a
# C++ extension built with any binding library loads it in its own import. Uses the runtime and
# example packages tests/ship leaves unpacked in build/ship-wheels/<tag>/ (run
# `meson test -C build/py311 ship` or ./scripts/test first).
#   bench/import_time.sh [PYTHON] [RUNS]      (defaults: /usr/bin/python3, 5)
set -euo pipefail
python=${1:-/usr/bin/python3} runs=${2:-5}
cd "$(dirname "$0")/.."
tag=$("$python" -c 'import sys, sysconfig; print("cp%d%d%s" % (sys.version_info[:2] + ("t" if sysconfig.get_config_var("Py_GIL_DISABLED") else "",)))')
wheels=${IMPORT_TIME_WHEELS:-build/ship-wheels/$tag}   # another unpacked pair: to compare
[[ -d $wheels/runtime/pyo3cpp && -d $wheels/example/pyo3cpp_example ]] \
  || { echo "import_time: no unpacked wheels in $wheels (run the ship test first)" >&2; exit 1; }
export PYTHONPATH=$wheels/runtime:$wheels/example
unset PYTHONDONTWRITEBYTECODE   # (even set empty it stops .pyc caching: every run would compile)
# Compile the .pyc files once, so every measured run is a warm import.
"$python" -c 'import pyo3cpp_example' >/dev/null
# The C++ runtime the library needs (libstdc++), as the dynamic loader finds it: the second
# measurement starts with it loaded, as a process that has imported any C++ extension has.
libstdcxx=$(ldd "$wheels/runtime/pyo3cpp/"libpyo3cpp-*.so.* | sed -n 's/^\s*libstdc++[^ ]* => \([^ ]*\) .*/\1/p')
[[ -f $libstdcxx ]] || { echo "import_time: libstdc++ not found for the runtime" >&2; exit 1; }
for preload in "" "$libstdcxx"; do
if [[ -z $preload ]]; then echo "== as a first C++ extension in the process"
else echo "== with $preload already loaded (LD_PRELOAD: what any C++ extension loads)"; fi
LD_PRELOAD=$preload "$python" - "$python" "$runs" <<'PY'
import subprocess, sys
python, runs = sys.argv[1], int(sys.argv[2])
best = {}
for _ in range(runs):
    err = subprocess.run([python, "-X", "importtime", "-c",
                          "import time, pyo3cpp_example"], capture_output=True, text=True).stderr
    for line in err.splitlines():
        if not line.startswith("import time:") or "|" not in line or "cumulative" in line:
            continue
        _, own, cumulative, name = (part.strip() for part in line.replace("import time:", "|").split("|"))
        for key, value in ((name.strip(), int(cumulative)), (name.strip() + " (self)", int(own))):
            best[key] = min(best.get(key, value), value)
    # require() alone, in-process and warm (its cost is part of pyo3cpp_example's own time)
    out = subprocess.run([python, "-c", """
import sys, time, types, pyo3cpp, importlib.util
spec = importlib.util.find_spec("pyo3cpp_example")
m = types.ModuleType("pyo3cpp_example"); m.__path__ = list(spec.submodule_search_locations)
sys.modules["pyo3cpp_example"] = m
t = time.perf_counter(); pyo3cpp.require("pyo3cpp_example"); print(int((time.perf_counter() - t) * 1e6))
"""], capture_output=True, text=True).stdout
    best["require()"] = min(best.get("require()", 10**9), int(out))
print(f"{python}: best of {runs} (microseconds)")
for key in ("pyo3cpp", "pyo3cpp (self)", "require()", "pyo3cpp_example._example_c",
            "pyo3cpp_example._example_cpp", "pyo3cpp_example"):
    print(f"  {key:32} {best.get(key, 0):7d}")
print(f"  runtime package total (pyo3cpp + require) {best['pyo3cpp'] + best['require()']:d}")
PY
done
