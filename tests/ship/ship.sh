#!/usr/bin/env bash
# Shipping, as TAP, for one interpreter (docs/shipping.md):
#   - sdists of the runtime and of examples/package (meson dist: committed files only);
#   - the README's "Shipping an extension" commands, extracted from README.md and run as written
#     in the unpacked runtime sdist (not a git checkout), with `python3` being this interpreter:
#     a venv with meson-python from Debian's packages, the runtime wheel, the example wheel, and
#     a fresh venv where pip installs both and the example imports;
#   - the wheels: what they hold, readelf -d (no RPATH/RUNPATH, DT_NEEDED by SONAME), no build
#     path inside, no copy of the runtime in the extension wheel;
#   - importing with an empty environment, and from a moved site-packages;
#   - the example wheel from its own unpacked sdist;
#   - runtime missing: ImportError naming the package to install;
#   - a second wheel built separately shares the one runtime (test_one_runtime.py);
#   - mismatches: ImportError naming both sides (test_failures.py), and configure-time refusal;
#   - the runtime package's one-liner (python -m pyo3cpp --cflags --libs).
#   ship.sh SOURCE_ROOT PYTHON WORK_DIR SHARED_WHEEL_DIR
# SHARED_WHEEL_DIR/<tag>/ keeps this interpreter's wheels for the other interpreter's run (the
# cross-interpreter mismatch cases; skipped until both have run once).
set -uo pipefail
src=$(realpath "$1") python=$2 work=$3 shared=$4
mkdir -p "$work" "$shared"
rm -rf "$work"/run.*
tmp=$(mktemp -d "$(realpath "$work")/run.XXXXXX")
[[ -n ${PYO3CPP_KEEP_SHIP:-} ]] || trap 'rm -rf "$tmp"' EXIT
n=0 failed=0
pass() { n=$((n + 1)); echo "ok $n - $1"; }
fail() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"; [[ -f ${2:-} ]] && tail -n 30 "$2" | sed 's/^/#   /'; }
skip() { n=$((n + 1)); echo "ok $n - $1 # SKIP $2"; }
check() { local desc=$1 log=$2; shift 2; if "$@" >>"$log" 2>&1; then pass "$desc"; else fail "$desc" "$log"; fi; }
finish() { echo "1..$n"; exit $((failed > 0)); }
# Forwards a unittest run's TAP (tests/python/tap_runner.py) as our own numbered points.
forward_tap() {
  local line
  while IFS= read -r line; do
    if [[ $line =~ ^ok\ [0-9]+\ -\ (.*)$ ]]; then
      if [[ ${BASH_REMATCH[1]} == *"# SKIP"* ]]; then skip "${BASH_REMATCH[1]%% # SKIP*}" "${BASH_REMATCH[1]#*# SKIP }"; else pass "${BASH_REMATCH[1]}"; fi
    elif [[ $line =~ ^not\ ok\ [0-9]+\ -\ (.*)$ ]]; then fail "${BASH_REMATCH[1]}"
    elif [[ $line == \#* ]]; then echo "$line"
    fi
  done
}

tag=$("$python" -c 'import sys, sysconfig
print(f"cp{sys.version_info[0]}{sys.version_info[1]}" + ("t" if sysconfig.get_config_var("Py_GIL_DISABLED") else ""))')
lib=libpyo3cpp-$tag.so.1
echo "# $python ($tag); scratch directory $tmp"
if [[ -n $(git -C "$src" status --porcelain --untracked-files=no 2>/dev/null) ]]; then
  echo "# note: uncommitted changes are not in the sdists (meson dist packs committed files)"
fi

# `python3` is this interpreter for the README's commands: a script that runs it, not a symlink.
# A venv made through a symlink records the symlink's directory as its home, and an interpreter
# whose compiled-in prefix is not where it lives (sid's relocated 3.13: prefix /usr) then finds no
# standard library in the venv: ensurepip died with "No module named 'encodings'" (3.14 resolves
# the link itself). A user's python3 runs from its own prefix.
mkdir -p "$tmp/bin"
printf '#!/bin/sh\nexec %q "$@"\n' "$(command -v "$python")" >"$tmp/bin/python3"
chmod +x "$tmp/bin/python3"
export PATH="$tmp/bin:$PATH"
unset PKG_CONFIG_PATH PYTHONPATH PIP_REQUIRE_VIRTUALENV

# ---- sdists, made from the git checkout with Debian's meson-python (the system interpreter's)
mkdir -p "$tmp/sdist"
check "sdist of the runtime (meson-python, meson dist)" "$tmp/sdist.log" \
  bash -c "cd '$src' && /usr/bin/python3 -c 'import mesonpy, sys; print(mesonpy.build_sdist(sys.argv[1]))' '$tmp/sdist'"
unpacked=$tmp/newcomer/pyo3cpp-0.1.0
mkdir -p "$tmp/newcomer"
if tar -xzf "$tmp/sdist/pyo3cpp-0.1.0.tar.gz" -C "$tmp/newcomer" 2>>"$tmp/sdist.log" \
   && [[ -f $unpacked/pyproject.toml && ! -e $unpacked/.git && -f $unpacked/examples/package/meson.build ]]; then
  pass "the runtime sdist unpacks to a tree that is not a git checkout"
else
  fail "the runtime sdist unpacks to a tree that is not a git checkout" "$tmp/sdist.log"; finish
fi

# ---- the README's commands, as written
/usr/bin/python3 - "$src/README.md" >"$tmp/readme.sh" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
match = re.search(r"<!-- tested: tests/ship/ship.sh -->\s*```sh\n(.*?)```", text, re.S)
sys.exit("no tested block in README.md") if not match else print(match.group(1), end="")
PY
if [[ -s $tmp/readme.sh ]] && (cd "$unpacked" && bash -euxo pipefail "$tmp/readme.sh") >"$tmp/readme.log" 2>&1 \
   && grep -q '^hello, world 2$' "$tmp/readme.log"; then
  pass "README 'Shipping an extension': every command, run as written in the unpacked sdist"
else
  fail "README 'Shipping an extension': every command, run as written in the unpacked sdist" "$tmp/readme.log"; finish
fi
venv=$unpacked/venv app=$unpacked/app
runtime_whl=$(ls "$unpacked"/dist/pyo3cpp-0.1.0-*.whl 2>/dev/null | head -n 1)
example_whl=$(ls "$unpacked"/dist/pyo3cpp_example-0.1.0-*.whl 2>/dev/null | head -n 1)
site=$("$app/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["platlib"])')

# ---- the wheels
for whl in "$runtime_whl" "$example_whl"; do
  mkdir -p "$tmp/unzip/$(basename "$whl")"
  (cd "$tmp/unzip/$(basename "$whl")" && unzip -q "$whl")
  unzip -l "$whl" | sed 's/^/# /'
done
rt=$tmp/unzip/$(basename "$runtime_whl") ex=$tmp/unzip/$(basename "$example_whl")
{ ls -R "$rt"; } >"$tmp/contents.log" 2>&1
if [[ $(basename "$runtime_whl") == pyo3cpp-0.1.0-*-${tag}-linux_*.whl && -f $rt/pyo3cpp/$lib && ! -L $rt/pyo3cpp/$lib \
      && $(find "$rt" -name 'libpyo3cpp*' | wc -l) == 1 && -f $rt/pyo3cpp/include/pyo3cpp.h \
      && -f $rt/pyo3cpp/include/pyo3cpp/pyo3cpp.hpp && -f $rt/pyo3cpp/include/pyo3cpp/config.hpp \
      && ! -e $rt/pyo3cpp/include/pyo3cpp/config.hpp.in && -f $rt/pyo3cpp/pkgconfig/pyo3cpp.pc \
      && -f $rt/pyo3cpp/pkgconfig/pyo3cpp-$tag.pc && -f $rt/pyo3cpp/__main__.py \
      && -f $rt/pyo3cpp/stubgen.py ]]; then
  pass "runtime wheel ($tag): the package pyo3cpp with $lib (one file), headers, pyo3cpp.pc, stubgen"
else
  fail "runtime wheel ($tag): the package pyo3cpp with $lib (one file), headers, pyo3cpp.pc, stubgen" "$tmp/contents.log"
fi
ls -R "$ex" >"$tmp/excontents.log" 2>&1
exts=("$ex"/pyo3cpp_example/*.so)
if [[ ${#exts[@]} == 2 && -z $(find "$ex" -name 'libpyo3cpp*') ]]; then
  pass "example wheel: a C++ and a C extension module, no copy of the runtime"
else
  fail "example wheel: a C++ and a C extension module, no copy of the runtime" "$tmp/excontents.log"
fi
: >"$tmp/readelf.log"
for f in "$rt/pyo3cpp/$lib" "${exts[@]}"; do
  echo "# readelf -d ${f#"$tmp"/unzip/}"; readelf -d "$f" | grep -E 'NEEDED|SONAME|RPATH|RUNPATH' | sed 's/^/#   /'
  readelf -d "$f" >>"$tmp/readelf.log"
done
if ! grep -qE 'RPATH|RUNPATH' "$tmp/readelf.log" && [[ $(grep -c "Shared library: \[$lib\]" "$tmp/readelf.log") == 2 ]] \
   && grep -q "Library soname: \[$lib\]" "$tmp/readelf.log"; then
  pass "readelf -d: no RPATH/RUNPATH anywhere; SONAME $lib; each extension needs $lib by name"
else
  fail "readelf -d: no RPATH/RUNPATH anywhere; SONAME $lib; each extension needs $lib by name" "$tmp/readelf.log"
fi
if ! grep -rlaF -e "$tmp" -e "$src" "$rt" "$ex" >"$tmp/paths.log" 2>&1; then
  pass "no build-machine path inside either wheel"
else
  fail "no build-machine path inside either wheel" "$tmp/paths.log"
fi

# ---- importing it: an empty environment, then a moved site-packages
check "the user's venv imports the example with an empty environment (env -i)" "$tmp/envi.log" \
  env -i "$app/bin/python" -c '
import pyo3cpp_example as m, pyo3cpp
assert m.greet("a") == "hello, a" and m.count_long_words(["free", "threaded", "python"]) == 2
assert pyo3cpp.library_path().startswith(__import__("sysconfig").get_paths()["platlib"])'
# Import cost (bench/import_time.md): the runtime package loads its library without ctypes.
check "importing the example loads neither ctypes nor _ctypes (the runtime comes through pyo3cpp._loader)" \
  "$tmp/noctypes.log" env -i "$app/bin/python" -c '
import sys, pyo3cpp_example
assert not {"ctypes", "_ctypes"} & set(sys.modules), sorted(m for m in sys.modules if "ctypes" in m)'
cp -r "$site" "$tmp/moved-site"
check "the installed packages work moved to another directory (nothing absolute inside)" "$tmp/moved.log" \
  env -i "$python" -s -c "
import sys; sys.path.insert(0, '$tmp/moved-site')
import pyo3cpp_example as m, pyo3cpp
assert pyo3cpp.__file__.startswith('$tmp/moved-site'), pyo3cpp.__file__
assert m.greet('b') == 'hello, b'
assert [l.split()[-1] for l in open('/proc/self/maps') if 'libpyo3cpp' in l][0].startswith('$tmp/moved-site')"

# keep this interpreter's wheels for the other interpreter's cross-checks
rm -rf "${shared:?}/$tag" && mkdir -p "$shared/$tag/runtime" "$shared/$tag/example" \
  && (cd "$shared/$tag/runtime" && unzip -qo "$runtime_whl") && (cd "$shared/$tag/example" && unzip -qo "$example_whl")
other=""
for d in "$shared"/cp*; do [[ -d $d && $d != "$shared/$tag" ]] && other=$d; done

# ---- the runtime is missing: a venv with only the example wheel
"$python" -m venv --without-pip "$tmp/noruntime" >"$tmp/noruntime.log" 2>&1
"$venv/bin/pip" --python "$tmp/noruntime/bin/python" install -q --no-index --no-deps "$example_whl" >>"$tmp/noruntime.log" 2>&1
for module in pyo3cpp_example pyo3cpp_example._example_c; do
  env -i "$tmp/noruntime/bin/python" -c "import $module" >>"$tmp/noruntime.log" 2>&1
  echo "# import $module without the runtime: $(tail -n 1 "$tmp/noruntime.log")"
  if tail -n 1 "$tmp/noruntime.log" | grep -q "^ImportError: pyo3cpp_example needs the pyo3cpp runtime, which is not installed: pip install pyo3cpp"; then
    pass "runtime not installed: import $module is an ImportError naming the package to install"
  else
    fail "runtime not installed: import $module is an ImportError naming the package to install" "$tmp/noruntime.log"
  fi
done

# ---- the example from its own sdist (made in the git checkout, built where there is no .git)
pc_dir=$("$venv/bin/python" -m pyo3cpp --pkgconfigdir)
mkdir -p "$tmp/exsdist"
if (cd "$src/examples/package" && PKG_CONFIG_PATH=$pc_dir "$venv/bin/python" -c 'import mesonpy, sys; print(mesonpy.build_sdist(sys.argv[1]))' "$tmp/exsdist") >"$tmp/exsdist.log" 2>&1 \
   && tar -xzf "$tmp/exsdist"/pyo3cpp_example-0.1.0.tar.gz -C "$tmp/exsdist" \
   && (cd "$tmp/exsdist/pyo3cpp_example-0.1.0" && PKG_CONFIG_PATH=$pc_dir "$venv/bin/pip" wheel -q --no-build-isolation --no-deps -w "$tmp/exsdist/dist" .) >>"$tmp/exsdist.log" 2>&1 \
   && "$python" -m venv --without-pip "$tmp/fromsdist" >>"$tmp/exsdist.log" 2>&1 \
   && "$venv/bin/pip" --python "$tmp/fromsdist/bin/python" install -q --no-index --find-links "$unpacked/dist" "$tmp/exsdist"/dist/*.whl >>"$tmp/exsdist.log" 2>&1 \
   && env -i "$tmp/fromsdist/bin/python" -c 'import pyo3cpp_example as m; assert m.greet("c") == "hello, c"' >>"$tmp/exsdist.log" 2>&1; then
  pass "example sdist: unpacked outside any git checkout, builds a wheel that installs and imports"
else
  fail "example sdist: unpacked outside any git checkout, builds a wheel that installs and imports" "$tmp/exsdist.log"
fi

# ---- a second extension wheel, built separately, in the same process: one runtime
if (PKG_CONFIG_PATH=$pc_dir "$venv/bin/pip" wheel -q --no-build-isolation --no-deps -w "$tmp/second" "$unpacked/tests/ship/second") >"$tmp/second.log" 2>&1 \
   && "$app/bin/pip" install -q --no-index --find-links "$unpacked/dist" "$tmp"/second/pyo3cpp_second-*.whl >>"$tmp/second.log" 2>&1; then
  pass "a second extension wheel (tests/ship/second) builds separately and installs beside the example"
  forward_tap < <("$app/bin/python" "$src/tests/python/tap_runner.py" "$src/tests/ship/test_one_runtime.py" 2>&1)
else
  fail "a second extension wheel (tests/ship/second) builds separately and installs beside the example" "$tmp/second.log"
fi

# ---- mismatches at import: ImportError naming both sides
forward_tap < <(SHIP_TMP=$tmp/mismatch SHIP_OTHER=$other "$app/bin/python" "$src/tests/python/tap_runner.py" \
  "$src/tests/ship/test_failures.py" 2>&1)

# ---- building against a pyo3cpp for another Python is refused at configure time
meson_python_tag=$(/usr/bin/python3 -c 'import sys; print(f"cp{sys.version_info[0]}{sys.version_info[1]}")')
refuse_pc=$pc_dir
if [[ $meson_python_tag == "$tag" ]]; then   # fake a runtime for another Python
  mkdir -p "$tmp/otherpc" && sed "s/^python_soabi=.*/python_soabi=cpython-399-x86_64-linux-gnu/" "$pc_dir/pyo3cpp.pc" >"$tmp/otherpc/pyo3cpp.pc"
  sed -i "s|^prefix=.*|prefix=$pc_dir/..|" "$tmp/otherpc/pyo3cpp.pc"
  refuse_pc=$tmp/otherpc
fi
want_soabi=$(grep '^python_soabi=' "$refuse_pc/pyo3cpp.pc" | cut -d= -f2)
if ! PKG_CONFIG_PATH=$refuse_pc meson setup "$tmp/refused" "$unpacked/examples/package" >"$tmp/refuse.log" 2>&1 \
   && grep -q "ERROR: .*pyo3cpp (libpyo3cpp-$tag.so.1) is built for $want_soabi, but this build uses /usr/bin/python3" "$tmp/refuse.log"; then
  pass "configure refuses a pyo3cpp built for another Python, naming both ($want_soabi vs meson's /usr/bin/python3)"
  echo "# $(grep 'ERROR:' "$tmp/refuse.log")"
else
  fail "configure refuses a pyo3cpp built for another Python, naming both ($want_soabi vs meson's /usr/bin/python3)" "$tmp/refuse.log"
fi

# ---- the package's one-liner: python -m pyo3cpp --cflags --libs
ext_suffix=$("$python" -c 'import sysconfig; print(sysconfig.get_config_var("EXT_SUFFIX"))')
# shellcheck disable=SC2046
if (cd "$tmp" && c++ -std=c++20 -O2 -shared -fPIC "$src/examples/quickstart/quickstart.cpp" -o "quickstart$ext_suffix" \
      $("$venv/bin/python" -m pyo3cpp --cflags --libs)) >"$tmp/oneliner.log" 2>&1 \
   && ! readelf -d "$tmp/quickstart$ext_suffix" | grep -qE 'RPATH|RUNPATH' \
   && (cd "$tmp" && env -i "$venv/bin/python" -c 'import pyo3cpp, quickstart; assert quickstart.count_long_words(["free", "threaded", "python"]) == 2') >>"$tmp/oneliner.log" 2>&1; then
  pass "one-liner: c++ ... \$(python -m pyo3cpp --cflags --libs) builds a module that imports after pyo3cpp"
else
  fail "one-liner: c++ ... \$(python -m pyo3cpp --cflags --libs) builds a module that imports after pyo3cpp" "$tmp/oneliner.log"
fi
# An extension linked against a system-style install (its own copy of the runtime, reached by
# RUNPATH) loaded first: `import pyo3cpp` adopts that copy by SONAME, never loads a second one.
mkdir -p "$tmp/syslib" && cp "$rt/pyo3cpp/$lib" "$tmp/syslib/"
if (cd "$tmp" && c++ -std=c++20 -O2 -shared -fPIC "$src/examples/quickstart/quickstart.cpp" -o "syslib/quickstart$ext_suffix" \
      -I"$rt/pyo3cpp/include" -I"$("$python" -c 'import sysconfig; print(sysconfig.get_paths()["include"])')" \
      -L"$tmp/syslib" -l:"$lib" -Wl,-rpath,"$tmp/syslib") >"$tmp/adopt.log" 2>&1 \
   && (cd "$tmp/syslib" && env -i "$app/bin/python" -c '
import quickstart, pyo3cpp_example, pyo3cpp
maps = sorted({l.split()[-1] for l in open("/proc/self/maps") if "libpyo3cpp" in l})
assert len(maps) == 1 and "/syslib/" in maps[0], maps
assert pyo3cpp_example.greet("d") == "hello, d" and quickstart.count_long_words(["threaded"]) == 1') >>"$tmp/adopt.log" 2>&1; then
  pass "a runtime already loaded by SONAME (system install first) is adopted: still one copy"
else
  fail "a runtime already loaded by SONAME (system install first) is adopted: still one copy" "$tmp/adopt.log"
fi
check "python -m pyo3cpp --include and pyo3cpp.include() name the headers" "$tmp/include.log" \
  bash -c "[[ -f \$('$venv/bin/python' -m pyo3cpp --include)/pyo3cpp/pyo3cpp.hpp ]] && '$venv/bin/python' -c 'import os, pyo3cpp; assert os.path.isfile(os.path.join(pyo3cpp.include(), \"pyo3cpp.h\"))'"
finish
