"""Builds pyo3cpp_cross with clang++ -stdlib=libc++ (not Meson's C++ compiler: that is g++ with
libstdc++, which built libpyo3cpp.so), then runs test_cross.py against it; TAP on stdout.

Compiling at test time rather than as a build target means a header that clang rejects fails
this test with the compiler's message instead of stopping everyone's build.

  run_cross.py --clangxx CLANGXX --lib LIBPYO3CPP --source-root DIR --build-root DIR
               --py-include DIR --out DIR
"""
import argparse
import os
import shlex
import subprocess
import sys

ap = argparse.ArgumentParser()
for name in ("--clangxx", "--lib", "--source-root", "--build-root", "--py-include", "--out"):
    ap.add_argument(name, required=True)
ap.add_argument("--cxx-flags", default="-stdlib=libc++")
args = ap.parse_args()

here = os.path.join(args.source_root, "tests", "cross")
os.makedirs(args.out, exist_ok=True)
module = os.path.join(args.out, "pyo3cpp_cross.so")
lib = os.path.abspath(args.lib)
command = [args.clangxx, *shlex.split(args.cxx_flags), "-std=c++20", "-O1", "-g", "-fPIC", "-shared",
           "-fvisibility=hidden", "-Wall", "-Wextra", "-Werror",
           "-I" + os.path.join(args.source_root, "include"),
           "-I" + os.path.join(args.source_root, "abi"),
           "-I" + os.path.join(args.build_root, "include"),  # generated pyo3cpp/config.hpp
           "-isystem", args.py_include,
           os.path.join(here, "pyo3cpp_cross.cpp"), lib, "-o", module,
           "-Wl,-rpath," + os.path.dirname(lib)]
build = subprocess.run(command, capture_output=True, text=True)
if build.returncode != 0:
    print("not ok 1 - clang++ -stdlib=libc++ builds pyo3cpp_cross through the public headers")
    print("#   " + shlex.join(command))
    for line in (build.stdout + build.stderr).splitlines()[:60]:
        print("#   " + line)
    print("1..1")
    sys.exit(1)
print("ok 1 - clang++ -stdlib=libc++ builds pyo3cpp_cross through the public headers")
sys.stdout.flush()

# The Python cases, numbered after the build case.
env = dict(os.environ, PYTHONPATH=args.out, PYTHONDONTWRITEBYTECODE="1")
runner = os.path.join(args.source_root, "tests", "python", "tap_runner.py")
run = subprocess.run([sys.executable, runner, os.path.join(here, "test_cross.py")],
                     env=env, capture_output=True, text=True, timeout=300)
count, failed = 1, 0
for line in run.stdout.splitlines():
    if line.startswith(("ok ", "not ok ")):
        ok = line.startswith("ok ")
        rest = line.split(" ", 2 if ok else 3)[-1]
        rest = rest.split(" ", 1)[1] if rest.split(" ", 1)[0].isdigit() else rest
        count += 1
        failed += not ok
        print(f"{'ok' if ok else 'not ok'} {count} {rest}")
    elif line.startswith("#"):
        print(line)
if run.returncode != 0 and failed == 0:
    count += 1
    failed += 1
    print(f"not ok {count} - test_cross.py exited with {run.returncode}")
    for line in run.stderr.splitlines()[-30:]:
        print("#   " + line)
print(f"1..{count}")
sys.exit(1 if failed else 0)
