"""Compile-only checks of abi/pyo3cpp.h, reported as TAP (meson test abi_compile).

Each case runs one compiler on one file with -fsyntax-only and fails with the compiler's
message. Compilers come from the build (CC/CXX command lines) plus clang/clang++ when present:
  1-2. the header alone, and after <Python.h>: strict C99 (-std=c99 -Wall -Wextra -Werror -pedantic)
  3.   the header alone under clang as strict C99
  4.   tests/abi/layout.c as C11: _Static_assert freezes struct sizes, alignments, offsets,
       static initialisers and version macros
  5-6. tests/abi/layout.cpp with the build's C++ compiler and with clang++ -stdlib=libc++
  7.   the header from C++11 -pedantic (C++ users of the C ABI need no C++20)
"""
import argparse
import os
import shlex
import shutil
import subprocess
import sys

ap = argparse.ArgumentParser()
ap.add_argument("--cc", required=True, help="C compiler command line")
ap.add_argument("--cxx", required=True, help="C++ compiler command line")
ap.add_argument("--source-root", required=True)
ap.add_argument("--py-include", required=True)
ap.add_argument("--version", required=True, help="Meson project version, e.g. 0.1.0")
ap.add_argument("--abi-major", required=True)
args = ap.parse_args()

here = os.path.join(args.source_root, "tests", "abi")
abi = ["-I", os.path.join(args.source_root, "abi")]
py = ["-isystem", args.py_include]
major, minor, patch = args.version.split(".")[:3]
expect = [f"-DEXPECT_MAJOR={major}", f"-DEXPECT_MINOR={minor}", f"-DEXPECT_PATCH={patch}",
          f"-DEXPECT_ABI_MAJOR={args.abi_major}"]
strict_c99 = ["-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic"]
cc, cxx = shlex.split(args.cc), shlex.split(args.cxx)
clang, clangxx = shutil.which("clang"), shutil.which("clang++")

cases = [
    ("pyo3cpp.h alone is strict C99 (" + os.path.basename(cc[0]) + ")",
     cc + strict_c99 + abi + [os.path.join(here, "header_only.c")]),
    ("Python.h then pyo3cpp.h is strict C99",
     cc + strict_c99 + abi + py + [os.path.join(here, "header_with_python.c")]),
    ("pyo3cpp.h alone is strict C99 (clang)",
     [clang] + strict_c99 + abi + [os.path.join(here, "header_only.c")] if clang else None),
    ("layout.c: struct layouts and version macros frozen (C11 _Static_assert)",
     cc + ["-std=c11", "-Wall", "-Wextra", "-Werror", "-pedantic"] + abi + expect
     + [os.path.join(here, "layout.c")]),
    ("layout.cpp: the same layouts from C++ (" + os.path.basename(cxx[0]) + ")",
     cxx + ["-std=c++20", "-Wall", "-Wextra", "-Werror"] + abi + expect
     + [os.path.join(here, "layout.cpp")]),
    ("layout.cpp: the same layouts from clang++ -stdlib=libc++",
     [clangxx, "-stdlib=libc++", "-std=c++20", "-Wall", "-Wextra", "-Werror"] + abi + expect
     + [os.path.join(here, "layout.cpp")] if clangxx else None),
    ("pyo3cpp.h from C++11 -pedantic",
     cxx + ["-x", "c++", "-std=c++11", "-Wall", "-Wextra", "-Werror", "-pedantic"] + abi
     + [os.path.join(here, "header_only.c")]),
]

failed = 0
for number, (name, cmd) in enumerate(cases, 1):
    if cmd is None:
        print(f"ok {number} - {name} # SKIP compiler not found")
        continue
    run = subprocess.run(cmd + ["-fsyntax-only"], capture_output=True, text=True)
    ok = run.returncode == 0
    failed += not ok
    print(f"{'ok' if ok else 'not ok'} {number} - {name}")
    if not ok:
        print("#   " + shlex.join(cmd + ["-fsyntax-only"]))
        for line in (run.stdout + run.stderr).splitlines()[:40]:
            print("#   " + line)
print(f"1..{len(cases)}")
sys.exit(1 if failed else 0)
