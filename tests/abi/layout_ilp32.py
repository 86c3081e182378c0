"""The fixed-layout structs of abi/pyo3cpp.h on ILP32 (i386), reported as TAP (meson test
abi_layout_ilp32).

Why: the LP64 build never sees an ILP32 layout, and i386's System V ABI aligns uint64_t inside a
struct to 4 bytes only, so a struct field read with a 64-bit atomic (pyo3cpp_once_state.owner)
can be misaligned there while every LP64 check passes. This compiles the same static
assertions (tests/abi/layout.c and layout.cpp) with -m32, compile-only: nothing is linked or
run, so only the 32-bit headers are needed (Debian: gcc-multilib, g++-multilib; installed by
scripts/prereqs). When the compiler cannot target -m32 at all, a case says SKIP with the
compiler's reason instead of passing.
  1. tests/abi/layout.c, C11, -m32: sizes, alignments, offsets as documented for ILP32
  2. abi/pyo3cpp.h alone, strict C99, -m32 (the alignment attribute needs no C11)
  3. tests/abi/layout.cpp, C++20, -m32 (also: std::atomic_ref's required alignment is met)
"""
import argparse
import os
import shlex
import subprocess
import sys
import tempfile

ap = argparse.ArgumentParser()
ap.add_argument("--cc", required=True, help="C compiler command line")
ap.add_argument("--cxx", required=True, help="C++ compiler command line")
ap.add_argument("--source-root", required=True)
args = ap.parse_args()

here = os.path.join(args.source_root, "tests", "abi")
abi = ["-I", os.path.join(args.source_root, "abi")]
cc, cxx = shlex.split(args.cc), shlex.split(args.cxx)
m32 = ["-m32", "-fsyntax-only"]
warn = ["-Wall", "-Wextra", "-Werror"]


def probe(compiler, suffix, source):
    """None when `compiler -m32` can compile `source` (standard headers included), else why not."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "probe" + suffix)
        with open(path, "w") as f:
            f.write(source)
        run = subprocess.run(compiler + m32 + [path], capture_output=True, text=True)
    if run.returncode == 0:
        return None
    lines = [l for l in (run.stdout + run.stderr).splitlines() if l.strip()]
    first = lines[0] if lines else f"exit status {run.returncode}"
    return f"{os.path.basename(compiler[0])} -m32 unusable (install gcc-multilib/g++-multilib): {first}"


c_reason = probe(cc, ".c", "#include <stddef.h>\n#include <stdint.h>\nint probe;\n")
cxx_reason = probe(cxx, ".cpp", "#include <cstddef>\n#include <type_traits>\nint probe;\n")

cases = [
    ("layout.c with -m32: ILP32 sizes, alignments and offsets (C11 _Static_assert)",
     c_reason, cc + ["-std=c11", "-pedantic"] + warn + abi + [os.path.join(here, "layout.c")]),
    ("pyo3cpp.h alone with -m32 is strict C99",
     c_reason, cc + ["-std=c99", "-pedantic"] + warn + abi + [os.path.join(here, "header_only.c")]),
    ("layout.cpp with -m32: the same ILP32 layouts from C++, atomic_ref alignment met",
     cxx_reason, cxx + ["-std=c++20"] + warn + abi + [os.path.join(here, "layout.cpp")]),
]

failed = 0
for number, (name, skip, cmd) in enumerate(cases, 1):
    if skip is not None:
        print(f"ok {number} - {name} # SKIP {skip}")
        continue
    run = subprocess.run(cmd + m32, capture_output=True, text=True)
    ok = run.returncode == 0
    failed += not ok
    print(f"{'ok' if ok else 'not ok'} {number} - {name}")
    if not ok:
        print("#   " + shlex.join(cmd + m32))
        for line in (run.stdout + run.stderr).splitlines()[:40]:
            print("#   " + line)
print(f"1..{len(cases)}")
sys.exit(1 if failed else 0)
