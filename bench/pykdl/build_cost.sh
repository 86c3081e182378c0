#!/usr/bin/env bash
# CPU seconds (user + system) to compile each file of the PyKDL port (examples/pykdl) and each
# file of upstream's pybind11 bindings (orocos-kdl 1.5.1's python_orocos_kdl/PyKDL, from
# ./scripts/fetch-orocos-kdl), both with g++ -O2 (no -g, no ccache), the port with its build's own
# flags (-std=c++20), upstream with the same warnings-free flags and -std=c++17 against Debian's
# pybind11-dev; then the stripped size of the port's module beside Debian's python3-pykdl.
#
#   bench/pykdl/build_cost.sh BUILD_DIR        e.g. build/py311 (the system 3.11)
set -euo pipefail
build=$(realpath "$1")
root=$(cd "$(dirname "$0")/../.." && pwd)
upstream=$("$root/scripts/fetch-orocos-kdl")/python_orocos_kdl/PyKDL
cpu() { /usr/bin/time -f '%U %S' "$@" -o /dev/null 2>&1 >/dev/null | tail -n1 | awk '{ printf "%.2f", $1 + $2 }'; }
total_port=0; total_up=0
echo "| file | port (s) | upstream (s) |"
echo "|---|---:|---:|"
for name in frames framevel kinfam dynamics PyKDL; do
  cmd=$(/usr/bin/python3 - "$build" "$name" <<'PY'
import json, shlex, sys
build, name = sys.argv[1], sys.argv[2]
for c in json.load(open(f"{build}/compile_commands.json")):
    if c["file"].endswith(f"examples/pykdl/{name}.cpp"):
        args = [a for a in shlex.split(c["command"]) if a not in ("ccache", "-g")]
        out = args.index("-o"); del args[out:out + 2]
        mq = args.index("-MD"); del args[mq:mq + 5]
        print(shlex.join(args))
PY
)
  port=$(cd "$build" && eval cpu $cmd)
  up=$(cpu c++ -std=c++17 -O2 -fPIC -fvisibility=hidden -I/usr/include/eigen3 $(/usr/bin/python3-config --includes) \
        -I"$upstream" -c "$upstream/$name.cpp")
  total_port=$(awk "BEGIN { print $total_port + $port }"); total_up=$(awk "BEGIN { print $total_up + $up }")
  echo "| $name.cpp | $port | $up |"
done
echo "| all | $total_port | $total_up |"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
strip -o "$tmp/port.so" "$build"/examples/pykdl/PyKDL*.so
strip -o "$tmp/debian.so" /usr/lib/python3/dist-packages/PyKDL.cpython-311-*.so
echo
echo "stripped module: port $(stat -c %s "$tmp/port.so") bytes, python3-pykdl $(stat -c %s "$tmp/debian.so") bytes"
