"""Shows every debug check firing, and compiled out when the option is off (TAP output).

Usage: check_debug_checks.py CHECKED_PROBE UNCHECKED_PROBE

CHECKED_PROBE is debug_probe.cpp built with PYO3CPP_DEBUG_CHECKS=1, UNCHECKED_PROBE the same
source built with 0. Each misuse scenario runs in its own subprocess: with the checks it must
abort (SIGABRT) with the check's message; without them the benign misuses must run to the end,
and the unchecked binary must not even reference the debug entry points of libpyo3cpp.
PYTHONMALLOC=debug makes CPython poison freed memory, so a release of a dead object is seen as
one (refcount <= 0) instead of reading whatever the allocator left there.
"""
import os
import signal
import subprocess
import sys

CHECKED, UNCHECKED = sys.argv[1], sys.argv[2]
ENV = dict(os.environ, PYTHONMALLOC="debug")

# scenario -> text the abort message must contain (the check and the call it names)
FIRES = {
    "refcount_detached": ["refcount operation on a thread that is not attached", " in Bound"],
    "token_detached": ["a Python token was used by scenario_token_detached",
                       "not attached"],
    "double_release_bound": ["double release", "in ~Bound"],
    "double_release_py": ["double release", "in Py<T>::~Py"],
    "traverse_refcount": ["refcount operation during a GC traversal", "in from_borrowed_ptr"],
    "traverse_attach": ["attach during a GC traversal", "in pyo3cpp::attach"],
    "traverse_py_release": ["Py<T> released during a GC traversal", "in Py<T>::~Py"],
    # a class bound with ClassDef::gc(visit, clear): its tp_traverse runs the visit function
    # under the TraverseGuard (class.hpp), so the same misuses abort there
    "class_traverse_clone_ref": ["refcount operation during a GC traversal", "in clone_ref"],
    "class_traverse_bind": ["refcount operation during a GC traversal", "in bind"],
    "class_traverse_attach": ["attach during a GC traversal", "in pyo3cpp::attach"],
}
# misuses that are harmless enough to run to completion when the checks are compiled out
BENIGN = ["refcount_detached", "token_detached", "live_py_at_exit"]

results = []


def report(ok, name, detail=""):
    results.append(ok)
    print(f"{'ok' if ok else 'not ok'} {len(results)} - {name}", flush=True)
    if not ok:
        for line in detail.splitlines()[-25:]:
            print("# " + line, flush=True)


def run(binary, scenario):
    return subprocess.run([binary, scenario], env=ENV, capture_output=True, text=True,
                          timeout=120)


def main():
    clean = run(CHECKED, "clean")
    report(clean.returncode == 0 and "pyo3cpp debug check" not in clean.stderr
           and "live Py<T> after clean scenario: 0" in clean.stdout,
           "checked probe: correct use runs clean (no false positive, live Py<T> back to 0)",
           clean.stdout + clean.stderr)

    # The bound class with its visit function behaving: gc.collect() traverses it and frees it.
    for binary, which in ((CHECKED, "checked"), (UNCHECKED, "unchecked")):
        proc = run(binary, "class_clean")
        report(proc.returncode == 0 and "pyo3cpp debug check" not in proc.stderr
               and "Holders destroyed: 1" in proc.stdout
               and "Holder visits: 0," not in proc.stdout and "Holder visits:" in proc.stdout,
               f"{which} probe: a bound GC class whose visit only visits is collected cleanly",
               f"rc={proc.returncode}\n{proc.stdout}{proc.stderr}")

    for scenario, needles in FIRES.items():
        proc = run(CHECKED, scenario)
        aborted = proc.returncode == -signal.SIGABRT
        missing = [n for n in needles if n not in proc.stderr]
        report(aborted and not missing and "pyo3cpp debug check: " in proc.stderr,
               f"checked probe: {scenario} aborts with its message",
               f"rc={proc.returncode} missing={missing}\n{proc.stderr}")

    live = run(CHECKED, "live_py_at_exit")
    report(live.returncode == 0 and
           "pyo3cpp debug check: 1 Py<T> still alive at interpreter finalisation" in live.stderr,
           "checked probe: a Py<T> alive at finalisation is reported",
           f"rc={live.returncode}\n{live.stderr}")

    for scenario in BENIGN:
        proc = run(UNCHECKED, scenario)
        report(proc.returncode == 0 and "pyo3cpp debug check" not in proc.stderr,
               f"unchecked probe: {scenario} is not checked (compiled out)",
               f"rc={proc.returncode}\n{proc.stderr}")

    def debug_imports(binary):
        out = subprocess.run(["nm", "-D", "--undefined-only", binary], capture_output=True,
                             text=True, check=True).stdout
        return sorted({line.split()[-1].split("@")[0] for line in out.splitlines()
                       if "pyo3cpp_debug_" in line})

    checked_syms, unchecked_syms = debug_imports(CHECKED), debug_imports(UNCHECKED)
    report("pyo3cpp_debug_thread_state" in checked_syms and
           "pyo3cpp_debug_count_py" in checked_syms,
           "checked probe calls the library's debug entry points", str(checked_syms))
    report(unchecked_syms == [],
           "unchecked probe references no debug entry point (checks compiled out)",
           str(unchecked_syms))

    print(f"1..{len(results)}", flush=True)
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
