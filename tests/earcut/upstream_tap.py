"""Runs python-mapbox-earcut's own pytest suite, unmodified, against whichever `mapbox_earcut`
the interpreter imports, and reports each case as TAP so Meson counts them.

Usage: python upstream_tap.py SOURCE_DIR EXPECTED_MODULE_DIR
  SOURCE_DIR           the unpacked source package (scripts/fetch-mapbox-earcut): its tests/
  EXPECTED_MODULE_DIR  where `mapbox_earcut` must come from (the port's build directory, or
                       Debian's dist-packages for the control run): the first case checks it,
                       so a run can never test the other implementation by accident.
"""
import os
import sys


class Tap:
    """A pytest plugin: one TAP line per test (a failure in any phase fails it)."""

    def __init__(self, first):
        self.count = first
        self.failed = False

    def pytest_runtest_logreport(self, report):
        if report.when == "call" or report.outcome != "passed":
            if report.when != "call" and report.outcome == "passed":
                return
            self.count += 1
            if report.outcome == "skipped":
                print(f"ok {self.count} - {report.nodeid} # SKIP", flush=True)
            elif report.outcome == "passed":
                print(f"ok {self.count} - {report.nodeid}", flush=True)
            else:
                self.failed = True
                print(f"not ok {self.count} - {report.nodeid} ({report.when})", flush=True)
                for line in str(report.longrepr).splitlines():
                    print("# " + line, flush=True)


def main(source_dir, expected_dir):
    import mapbox_earcut
    origin = os.path.realpath(os.path.dirname(mapbox_earcut.__file__))
    same = origin == os.path.realpath(expected_dir)
    print(f"{'ok' if same else 'not ok'} 1 - mapbox_earcut imported from {origin}", flush=True)
    if not same:
        print(f"# expected it from {os.path.realpath(expected_dir)}", flush=True)
    import pytest
    tap = Tap(first=1)
    # No terminal output (it is not TAP), no cache written into the source package.
    code = pytest.main([os.path.join(source_dir, "tests"), "-p", "no:cacheprovider", "-p", "no:terminal"],
                       plugins=[tap])
    if tap.count == 1:
        tap.count += 1
        print(f"not ok {tap.count} - pytest ran no test (exit status {int(code)})", flush=True)
        tap.failed = True
    print(f"1..{tap.count}", flush=True)
    return 0 if same and not tap.failed and int(code) == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
