"""Runs unittest test files and reports every test case as TAP, so Meson counts them.

Usage: python tap_runner.py DIR_OR_FILE...  (test_*.py files in each directory)
PYO3CPP_PYTHON_TESTS=test_a,test_b keeps only those modules of a directory (scripts/test --tsan
runs the lock tests alone this way).
"""
import os
import sys
import traceback
import unittest


class TapResult(unittest.TestResult):
    def __init__(self):
        super().__init__()
        self.count = 0
        self._reported = False
        self._failures_before = 0

    def _line(self, ok, test, note=""):
        self._reported = True
        self.count += 1
        print(f"{'ok' if ok else 'not ok'} {self.count} - {test.id()}{note}", flush=True)

    def addSuccess(self, test):
        super().addSuccess(test)
        self._line(True, test)

    def _fail(self, test, err):
        self._line(False, test)
        for line in "".join(traceback.format_exception(*err)).splitlines():
            print("# " + line, flush=True)

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._fail(test, err)

    def addError(self, test, err):
        super().addError(test, err)
        self._fail(test, err)

    def addSubTest(self, test, subtest, err):
        # A failing subTest fails its test case; report it so the log says which one and why.
        super().addSubTest(test, subtest, err)
        if err is not None:
            print(f"# subtest failed: {subtest.id()}", flush=True)
            for line in "".join(traceback.format_exception(*err)).splitlines():
                print("# " + line, flush=True)

    def startTest(self, test):
        super().startTest(test)
        self._failures_before = len(self.failures) + len(self.errors)

    def stopTest(self, test):
        super().stopTest(test)
        # Test cases whose only failures were subtests get no addFailure call: count them here.
        if len(self.failures) + len(self.errors) > self._failures_before and not self._reported:
            self._line(False, test, " (subtest failed)")
        self._reported = False

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self._line(True, test, f" # SKIP {reason}")

    def addExpectedFailure(self, test, err):
        super().addExpectedFailure(test, err)
        self._line(True, test)

    def addUnexpectedSuccess(self, test):
        super().addUnexpectedSuccess(test)
        self._line(False, test, " (unexpected success)")


def main(paths):
    loader = unittest.TestLoader()
    suite = unittest.TestSuite()
    chosen = [name for name in os.environ.get("PYO3CPP_PYTHON_TESTS", "").split(",") if name]
    for path in paths:
        if os.path.isdir(path) and chosen:
            sys.path.insert(0, path)
            for name in chosen:
                suite.addTests(loader.loadTestsFromName(name))
        elif os.path.isdir(path):
            sys.path.insert(0, path)
            suite.addTests(loader.discover(path, pattern="test_*.py", top_level_dir=path))
        else:
            directory, name = os.path.split(os.path.abspath(path))
            sys.path.insert(0, directory)
            suite.addTests(loader.loadTestsFromName(name[:-3]))
    print(f"1..{suite.countTestCases()}", flush=True)
    result = TapResult()
    suite.run(result)
    return 0 if result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
