#!/usr/bin/env bash
# Consumers of an installed pyo3cpp, as TAP: `meson install --destdir` the build into a temporary
# stage (the .pc files are relocatable, so no prefix rewriting is needed), then
#   - check pyo3cpp.pc: our include dir and Python's headers, -lpyo3cpp, never -lpython;
#   - build and run a C program with `pkg-config --cflags --libs pyo3cpp python-X.Y-embed`;
#   - configure an out-of-tree Meson project using dependency('pyo3cpp') and import its
#     extension with the target interpreter;
#   - build the same project with this source tree as a Meson subproject instead.
#   consumers.sh BUILD_DIR PYTHON CONSUMER_SOURCE_DIR
set -uo pipefail
build=$1 python=$2 consumer=$3
tmp=$(mktemp -d "${TMPDIR:-/tmp}/pyo3cpp-consumers.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
n=0 failed=0
pass() { n=$((n + 1)); echo "ok $n - $1"; }
fail() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"; [[ -f ${2:-} ]] && tail -n 25 "$2" | sed 's/^/#   /'; }
finish() { echo "1..$n"; exit $((failed > 0)); }

if meson install -C "$build" --destdir "$tmp/stage" --no-rebuild >"$tmp/install.log" 2>&1; then
  pass "meson install --destdir"
else
  fail "meson install --destdir" "$tmp/install.log"; finish
fi
pc=$(find "$tmp/stage" -name pyo3cpp.pc | head -n 1)
if [[ -n $pc ]] && ! grep -q '^prefix=${pcfiledir}' "$pc"; then
  # A build directory configured before pkgconfig.relocatable was the default: point the staged
  # copy at the stage, as a packager would.
  sed -i "s|^prefix=\(.*\)|prefix=$tmp/stage\1|" "$pc"
fi
libdir=$(dirname "$(find "$tmp/stage" -name 'libpyo3cpp.so' | head -n 1)")
header=$(find "$tmp/stage" -path '*/include/pyo3cpp.h' | head -n 1)
stage_prefix=$(dirname "$(dirname "$header")")
read -r py_ver py_t py_libpc < <("$python" -c 'import sys, sysconfig
print(f"{sys.version_info[0]}.{sys.version_info[1]}", "t" if sysconfig.get_config_var("Py_GIL_DISABLED") else "-", sysconfig.get_config_var("LIBPC"))')
[[ $py_t == - ]] && py_t=""
export PKG_CONFIG_PATH="$(dirname "$pc"):$py_libpc"

# ---- the .pc file
cflags=$(pkg-config --cflags pyo3cpp 2>"$tmp/pc.err") libs=$(pkg-config --libs pyo3cpp 2>>"$tmp/pc.err")
{ echo "cflags: $cflags"; echo "libs: $libs"; cat "$pc"; } >>"$tmp/pc.err"
if [[ -n $pc && -n $stage_prefix && -f $stage_prefix/include/pyo3cpp.h && -f $stage_prefix/include/pyo3cpp/pyo3cpp.hpp ]]; then
  pass "installed: libpyo3cpp.so, pyo3cpp.h, pyo3cpp/*.hpp, a relocatable pyo3cpp.pc"
else
  fail "installed: libpyo3cpp.so, pyo3cpp.h, pyo3cpp/*.hpp, a relocatable pyo3cpp.pc" "$tmp/pc.err"
fi
py_inc=$("$python" -c 'import sysconfig; print(sysconfig.get_path("include"))')
include_dirs=$(for flag in $cflags; do [[ $flag == -I* ]] && realpath -m "${flag#-I}"; done)
if grep -qx "$(realpath -m "$stage_prefix/include")" <<<"$include_dirs" && [[ $cflags == *"python$py_ver$py_t"* ]]; then
  pass "pkg-config --cflags pyo3cpp: our include dir and CPython $py_ver$py_t's headers"
else
  fail "pkg-config --cflags pyo3cpp: our include dir and CPython $py_ver$py_t's headers" "$tmp/pc.err"
fi
if [[ $libs == *"-lpyo3cpp"* && $libs != *"-lpython"* ]]; then
  pass "pkg-config --libs pyo3cpp: -lpyo3cpp and no libpython (extensions must not link it)"
else
  fail "pkg-config --libs pyo3cpp: -lpyo3cpp and no libpython (extensions must not link it)" "$tmp/pc.err"
fi
if [[ $(pkg-config --variable=abi_version pyo3cpp) == 1 && $(pkg-config --variable=python_version pyo3cpp) == "$py_ver" \
      && $(pkg-config --variable=free_threaded pyo3cpp) == $([[ -n $py_t ]] && echo 1 || echo 0) ]]; then
  pass "pyo3cpp.pc variables: abi_version, python_version, free_threaded"
else
  fail "pyo3cpp.pc variables: abi_version, python_version, free_threaded" "$tmp/pc.err"
fi

# ---- a C program through pkg-config
cc=${CC:-cc}
# shellcheck disable=SC2046
if $cc -std=c99 -Wall -Werror "$consumer/program.c" -o "$tmp/program" \
     $(pkg-config --cflags --libs pyo3cpp "python-$py_ver$py_t-embed") -Wl,-rpath,"$libdir" \
     -Wl,-rpath,"$(pkg-config --variable=libdir "python-$py_ver$py_t-embed")" >"$tmp/program.log" 2>&1 \
   && "$tmp/program" >>"$tmp/program.log" 2>&1 && grep -q "pyo3cpp ABI 1 for CPython $py_ver$py_t" "$tmp/program.log"; then
  pass "C program via pkg-config --cflags --libs pyo3cpp python-$py_ver$py_t-embed links and runs"
else
  fail "C program via pkg-config --cflags --libs pyo3cpp python-$py_ver$py_t-embed links and runs" "$tmp/program.log"
fi

# ---- an out-of-tree Meson project with dependency('pyo3cpp')
if meson setup "$tmp/consumer-build" "$consumer" -Dpython="$python" >"$tmp/consumer.log" 2>&1 \
   && ninja -C "$tmp/consumer-build" >>"$tmp/consumer.log" 2>&1; then
  pass "out-of-tree meson project: dependency('pyo3cpp') builds an extension"
  if LD_LIBRARY_PATH="$libdir" PYTHONPATH="$tmp/consumer-build" "$python" -c '
import pyo3cpp_consumer as m
assert m.abi_version() == 1, m.abi_version()
assert m.hello() == "hello from an installed pyo3cpp"
' >"$tmp/import.log" 2>&1; then
    pass "the consumer extension imports and runs under $python"
  else
    fail "the consumer extension imports and runs under $python" "$tmp/import.log"
  fi
else
  fail "out-of-tree meson project: dependency('pyo3cpp') builds an extension" "$tmp/consumer.log"
fi

# ---- the same project with pyo3cpp as a Meson subproject (no install at all)
source_root=$(realpath "$consumer/../../..")
mkdir -p "$tmp/sub/subprojects"
cp "$consumer"/consumer.c "$consumer"/meson.build "$consumer"/meson_options.txt "$tmp/sub/"
ln -s "$source_root" "$tmp/sub/subprojects/pyo3cpp"
# dependency('pyo3cpp') falls back to the subproject, which registers itself with
# meson.override_dependency; its own tests, benchmarks and examples are not built.
sed -i "s#dependency('pyo3cpp'[^)]*)#dependency('pyo3cpp', fallback: 'pyo3cpp', default_options: ['tests=false', 'benchmarks=false', 'examples=false', 'python=$python'])#" "$tmp/sub/meson.build"
if meson setup "$tmp/sub-build" "$tmp/sub" -Dpython="$python" \
       --wrap-mode=forcefallback >"$tmp/sub.log" 2>&1 \
   && ninja -C "$tmp/sub-build" >>"$tmp/sub.log" 2>&1 \
   && PYTHONPATH="$tmp/sub-build" "$python" -c '
import pyo3cpp_consumer as m
assert m.abi_version() == 1, m.abi_version()
assert m.hello() == "hello from an installed pyo3cpp"
' >>"$tmp/sub.log" 2>&1; then
  pass "as a Meson subproject: dependency('pyo3cpp') falls back to it, the extension imports"
else
  fail "as a Meson subproject: dependency('pyo3cpp') falls back to it, the extension imports" "$tmp/sub.log"
fi
finish
