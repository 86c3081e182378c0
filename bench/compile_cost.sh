#!/usr/bin/env bash
# The compile cost of one build configuration from nothing (no ccache): configures a fresh build
# directory whose compiler is wrapped to log each compiler call's CPU time, builds it, and prints
# the total CPU seconds (user + system, every process ninja started) and the costliest steps.
# CPU seconds, not wall time: the machine is shared, and scripts/test's wall time follows its
# builds' CPU time (bench/compile_cost.md).
#
#   bench/compile_cost.sh DIR [meson setup options...]     e.g.
#   bench/compile_cost.sh build/cost-asan-py311 -Dpython=/usr/bin/python3 -Dtests=true \
#       -Dexamples=true -Dbenchmarks=false -Db_sanitize=address,undefined -Db_lundef=false
#
# DIR must not exist. Compiles through ccache as scripts/test does, into an empty private cache
# (COMPILE_COST_CCACHE, default DIR.ccache, emptied first), so every object is compiled and its
# ccache overhead is counted; `CCACHE_DIR=<that cache> ./scripts/test ...` then finds the objects
# (same base directory and compiler names). Leaves DIR/compile-cpu.log ("user sys output" per
# compiler call) and DIR/compile-cpu.total ("user sys wall" of the whole ninja run).
# -j from COMPILE_COST_JOBS (default 1).
set -uo pipefail
if [[ ${1:-} == --wrap ]]; then   # the compiler wrapper: one line per call that names an output
  shift
  out=- prev=
  for word in "$@"; do [[ $prev == -o ]] && out=$word; prev=$word; done
  [[ -z ${COMPILE_COST_LOG:-} || $out == - ]] && exec "$@"
  exec /usr/bin/time -a -o "$COMPILE_COST_LOG" -f "%U %S $out" "$@"
fi
dir=${1:?usage: bench/compile_cost.sh DIR [meson setup options...]}; shift
[[ -e $dir ]] && { echo "compile_cost: $dir exists" >&2; exit 2; }
cd "$(dirname "$0")/.."
self=$PWD/bench/compile_cost.sh
cache=${COMPILE_COST_CCACHE:-$PWD/$dir.ccache}
rm -rf "$cache"; mkdir -p "$cache"
export CCACHE_DIR=$cache CCACHE_BASEDIR=$PWD CCACHE_NOHASHDIR=1   # scripts/test's settings
# The compilers as Meson names them when it finds ccache itself (cc, c++), behind the logger.
CC="$self --wrap ccache cc" CXX="$self --wrap ccache c++" meson setup "$dir" "$@" \
  >"$dir.setup.log" 2>&1 || { tail -n 20 "$dir.setup.log"; exit 1; }
log=$PWD/$dir/compile-cpu.log
COMPILE_COST_LOG=$log /usr/bin/time -f "%U %S %e" -o "$dir/compile-cpu.total" \
  ninja -C "$dir" -j "${COMPILE_COST_JOBS:-1}" >"$dir.build.log" 2>&1 \
  || { grep -E 'FAILED|error' -A3 "$dir.build.log" | head -n 40; exit 1; }
/usr/bin/python3 - "$log" "$dir/compile-cpu.total" <<'PY'
import collections, sys
steps = []
for line in open(sys.argv[1]):
    words = line.split(maxsplit=2)
    try:
        steps.append((float(words[0]) + float(words[1]), words[2].strip()))
    except (ValueError, IndexError):
        pass   # "Command exited with non-zero status" lines
user, system, wall = map(float, open(sys.argv[2]).read().split()[-3:])
print(f"total CPU {user + system:.0f} s (user {user:.0f}, sys {system:.0f}); "
      f"compiler and linker calls {sum(s for s, _ in steps):.0f} s in {len(steps)} calls; wall {wall:.0f} s")
groups = collections.defaultdict(float)
for seconds, output in steps:
    kind = ("link" if not output.endswith(".o") else
            output.split("/")[0] + ("/ext" if "/ext/" in output else ""))
    groups[kind] += seconds
print("by part: " + ", ".join(f"{k} {v:.0f} s" for k, v in sorted(groups.items(), key=lambda kv: -kv[1])))
for seconds, output in sorted(steps, reverse=True)[:15]:
    print(f"  {seconds:7.1f} s  {output}")
PY
