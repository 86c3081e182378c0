#!/usr/bin/env bash
# Consumers of an installed pyo3cpp, as TAP: `meson install --destdir` the build into a temporary
# stage (the .pc files are relocatable, so no prefix rewriting is needed), then
#   - check that every installed name carries the Python ABI tag (3.11 and 3.13t builds coexist
#     in one prefix; with the other interpreter's build directory beside this one, both are
#     installed into the same stage and checked);
#   - check pyo3cpp-<tag>.pc: our include dir and Python's headers, -lpyo3cpp-<tag>, never -lpython;
#   - build the README's extension one-liner (pkg-config and an rpath) and import it with an
#     environment without LD_LIBRARY_PATH (LD_PRELOAD stays: the sanitizer runs need it);
#   - build and run a C program with `pkg-config --cflags --libs pyo3cpp python-X.Y-embed`;
#   - configure an out-of-tree Meson project using dependency('pyo3cpp-<tag>'), whose `python`
#     variable selects the interpreter (meson itself runs on /usr/bin/python3), and import its
#     extension with the target interpreter;
#   - build the same project with this source tree as a Meson subproject instead.
#   consumers.sh BUILD_DIR PYTHON CONSUMER_SOURCE_DIR
set -uo pipefail
build=$1 python=$2 consumer=$3
source_root=$(realpath "$consumer/../../..")
tmp=$(mktemp -d "${TMPDIR:-/tmp}/pyo3cpp-consumers.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
n=0 failed=0
pass() { n=$((n + 1)); echo "ok $n - $1"; }
fail() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"; [[ -f ${2:-} ]] && tail -n 25 "$2" | sed 's/^/#   /'; }
skip() { n=$((n + 1)); echo "ok $n - $1 # SKIP $2"; }
finish() { echo "1..$n"; exit $((failed > 0)); }

if meson install -C "$build" --destdir "$tmp/stage" --no-rebuild >"$tmp/install.log" 2>&1; then
  pass "meson install --destdir"
else
  fail "meson install --destdir" "$tmp/install.log"; finish
fi
read -r py_ver py_t py_libpc < <("$python" -c 'import sys, sysconfig
print(f"{sys.version_info[0]}.{sys.version_info[1]}", "t" if sysconfig.get_config_var("Py_GIL_DISABLED") else "-", sysconfig.get_config_var("LIBPC"))')
[[ $py_t == - ]] && py_t=""
tag=cp${py_ver/./}$py_t name=pyo3cpp-$tag
pc=$(find "$tmp/stage" -name "$name.pc" | head -n 1)
if [[ -n $pc ]] && ! grep -q '^prefix=${pcfiledir}' "$pc"; then
  # A build directory configured before pkgconfig.relocatable was the default: point the staged
  # copy at the stage, as a packager would.
  sed -i "s|^prefix=\(.*\)|prefix=$tmp/stage\1|" "$pc"
fi
libdir=$(dirname "$(find "$tmp/stage" -name "lib$name.so.1" | head -n 1)")
header=$(find "$tmp/stage" -path "*/include/$name/pyo3cpp.h" | head -n 1)
stage_prefix=$(dirname "$(dirname "$(dirname "$header")")")
export PKG_CONFIG_PATH="$(dirname "$pc"):$py_libpc"

# ---- names: every installed file carries the tag, so other Python ABIs install beside it
(cd "$tmp/stage" && find . -type f -o -type l) | sort >"$tmp/names.log"
if [[ -s $tmp/names.log ]] && ! grep -v -- "$tag" "$tmp/names.log" >/dev/null \
   && [[ -f $libdir/lib$name.so.1 && ! -L $libdir/lib$name.so.1 && -L $libdir/lib$name.so ]]; then
  pass "every installed name carries $tag: lib$name.so.1 (its SONAME), include/$name/, $name.pc"
else
  fail "every installed name carries $tag: lib$name.so.1 (its SONAME), include/$name/, $name.pc" "$tmp/names.log"
fi
# The sibling build directory (scripts/test: build/py311, build/py313t) for the other Python ABI.
other_build="" other_lib=""
for dir in "$build"/../py311 "$build"/../py313t; do
  candidate=$(find "$dir/src" -maxdepth 1 -name 'libpyo3cpp-cp*.so.1' 2>/dev/null | head -n 1)
  if [[ -n $candidate && $(basename "$candidate") != "lib$name.so.1" && -f $dir/build.ninja ]]; then
    other_build=$dir other_lib=$candidate
  fi
done
if [[ -n $other_lib ]]; then
  other_name=$(basename "$other_lib" .so.1); other_name=${other_name#lib}
  before=$(cd "$tmp/stage" && find . -path "*$tag*" ! -path "*${tag}t*" -type f -exec sha256sum {} + | sort)
  if meson install -C "$other_build" --destdir "$tmp/stage" --no-rebuild >"$tmp/other.log" 2>&1 \
     && [[ -f $libdir/lib$other_name.so.1 && -f $(dirname "$pc")/$other_name.pc ]] \
     && [[ -n $(find "$tmp/stage" -path "*/include/$other_name/pyo3cpp.h") ]] \
     && [[ $before == "$(cd "$tmp/stage" && find . -path "*$tag*" ! -path "*${tag}t*" -type f -exec sha256sum {} + | sort)" ]] \
     && grep -qx "library=lib$other_name.so.1" "$(dirname "$pc")/$other_name.pc"; then
    pass "$name and $other_name installed into one prefix: both present, neither overwritten"
  else
    fail "$name and $other_name installed into one prefix: both present, neither overwritten" "$tmp/other.log"
  fi
else
  skip "3.11 and 3.13t installed into one prefix" "the other interpreter's build directory is not built"
fi

# ---- the .pc file
cflags=$(pkg-config --cflags "$name" 2>"$tmp/pc.err") libs=$(pkg-config --libs "$name" 2>>"$tmp/pc.err")
{ echo "cflags: $cflags"; echo "libs: $libs"; cat "$pc"; } >>"$tmp/pc.err"
if [[ -n $pc && -n $stage_prefix && -f $stage_prefix/include/$name/pyo3cpp.h && -f $stage_prefix/include/$name/pyo3cpp/pyo3cpp.hpp ]]; then
  pass "installed: lib$name.so.1, pyo3cpp.h, pyo3cpp/*.hpp, a relocatable $name.pc"
else
  fail "installed: lib$name.so.1, pyo3cpp.h, pyo3cpp/*.hpp, a relocatable $name.pc" "$tmp/pc.err"
fi
py_inc=$("$python" -c 'import sysconfig; print(sysconfig.get_path("include"))')
include_dirs=$(for flag in $cflags; do [[ $flag == -I* ]] && realpath -m "${flag#-I}"; done)
if grep -qx "$(realpath -m "$stage_prefix/include/$name")" <<<"$include_dirs" && [[ $cflags == *"python$py_ver$py_t"* ]]; then
  pass "pkg-config --cflags $name: our include dir and CPython $py_ver$py_t's headers"
else
  fail "pkg-config --cflags $name: our include dir and CPython $py_ver$py_t's headers" "$tmp/pc.err"
fi
if [[ $libs == *"-l$name"* && $libs != *"-lpython"* ]]; then
  pass "pkg-config --libs $name: -l$name and no libpython (extensions must not link it)"
else
  fail "pkg-config --libs $name: -l$name and no libpython (extensions must not link it)" "$tmp/pc.err"
fi
if [[ $(pkg-config --variable=abi_version "$name") == 1 && $(pkg-config --variable=python_version "$name") == "$py_ver" \
      && $(pkg-config --variable=free_threaded "$name") == $([[ -n $py_t ]] && echo 1 || echo 0) \
      && $(pkg-config --variable=python "$name") == "$python" && $(pkg-config --variable=python_tag "$name") == "$tag" ]]; then
  pass "$name.pc variables: abi_version, python_version, free_threaded, python, python_tag"
else
  fail "$name.pc variables: abi_version, python_version, free_threaded, python, python_tag" "$tmp/pc.err"
fi

# ---- a C program through pkg-config
cc=${CC:-cc}
# PYO3CPP_EMBED_LDFLAGS: what a program linking this libpython needs besides pkg-config's flags
# (scripts/test sets it for Debian sid's interpreters: sid's loader and libc).
# shellcheck disable=SC2046
if $cc -std=c99 -Wall -Werror "$consumer/program.c" -o "$tmp/program" ${PYO3CPP_EMBED_LDFLAGS:-} \
     $(pkg-config --cflags --libs "$name" "python-$py_ver$py_t-embed") -Wl,-rpath,"$libdir" \
     -Wl,-rpath,"$(pkg-config --variable=libdir "python-$py_ver$py_t-embed")" >"$tmp/program.log" 2>&1 \
   && "$tmp/program" >>"$tmp/program.log" 2>&1 && grep -q "pyo3cpp ABI 1 for CPython $py_ver$py_t" "$tmp/program.log"; then
  pass "C program via pkg-config --cflags --libs $name python-$py_ver$py_t-embed links and runs"
else
  fail "C program via pkg-config --cflags --libs $name python-$py_ver$py_t-embed links and runs" "$tmp/program.log"
fi

# ---- the README's extension one-liner: pkg-config plus an rpath, no LD_LIBRARY_PATH at import
ext_suffix=$("$python" -c 'import sysconfig; print(sysconfig.get_config_var("EXT_SUFFIX"))')
# shellcheck disable=SC2046
if (cd "$tmp" && ${CXX:-c++} -std=c++20 -shared -fPIC "$source_root/examples/quickstart/quickstart.cpp" -o "quickstart$ext_suffix" \
      $(pkg-config --cflags --libs "$name") -Wl,-rpath,"$(pkg-config --variable=libdir "$name")") >"$tmp/oneliner.log" 2>&1 \
   && (cd "$tmp" && env -u LD_LIBRARY_PATH -u PYTHONPATH "$python" -c 'import quickstart; assert quickstart.count_long_words(["free", "threaded", "python"]) == 2') >>"$tmp/oneliner.log" 2>&1; then
  pass "README one-liner: c++ ... \$(pkg-config --cflags --libs $name) -Wl,-rpath,... imports without LD_LIBRARY_PATH"
else
  fail "README one-liner: c++ ... \$(pkg-config --cflags --libs $name) -Wl,-rpath,... imports without LD_LIBRARY_PATH" "$tmp/oneliner.log"
fi

# ---- an out-of-tree Meson project with dependency('pyo3cpp-<tag>'); meson runs on /usr/bin/python3
# and the .pc's `python` variable picks the target interpreter
if meson setup "$tmp/consumer-build" "$consumer" -Dpyo3cpp="$name" >"$tmp/consumer.log" 2>&1 \
   && ninja -C "$tmp/consumer-build" >>"$tmp/consumer.log" 2>&1 \
   && [[ -f $tmp/consumer-build/pyo3cpp_consumer$ext_suffix ]]; then
  pass "out-of-tree meson project: dependency('$name') builds an extension for $python"
  if (cd "$tmp/consumer-build" && env -u LD_LIBRARY_PATH -u PYTHONPATH "$python" -c '
import pyo3cpp_consumer as m
assert m.abi_version() == 1, m.abi_version()
assert m.hello() == "hello from an installed pyo3cpp"
') >"$tmp/import.log" 2>&1; then
    pass "the consumer extension imports and runs under $python without LD_LIBRARY_PATH or PYTHONPATH"
  else
    fail "the consumer extension imports and runs under $python without LD_LIBRARY_PATH or PYTHONPATH" "$tmp/import.log"
  fi
else
  fail "out-of-tree meson project: dependency('$name') builds an extension for $python" "$tmp/consumer.log"
fi

# ---- the same project with pyo3cpp as a Meson subproject (no install at all)
mkdir -p "$tmp/sub/subprojects"
cp "$consumer"/consumer.c "$consumer"/meson.build "$consumer"/meson_options.txt "$tmp/sub/"
ln -s "$source_root" "$tmp/sub/subprojects/pyo3cpp"
# dependency('pyo3cpp') falls back to the subproject, which registers itself with
# meson.override_dependency; its own tests, benchmarks and examples are not built.
sed -i "s#dependency(get_option('pyo3cpp')[^)]*)#dependency('pyo3cpp', fallback: 'pyo3cpp', default_options: ['python=$python'])#" "$tmp/sub/meson.build"
grep -q "fallback: 'pyo3cpp'" "$tmp/sub/meson.build" || echo "# the subproject rewrite of consumer/meson.build did not apply" >>"$tmp/sub.log"
if meson setup "$tmp/sub-build" "$tmp/sub" \
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
