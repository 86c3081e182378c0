"""Runs upstream PyKDL test files in this interpreter, as their own __main__ does (each file's
suite()), and prints one JSON object: which PyKDL was imported and every test's outcome.

Usage: python run_upstream.py TESTS_DIR MODULE...   (MODULE: framestest, kinfamtest, ...)
The caller chooses the PyKDL through PYTHONPATH (the port's build directory, or nothing for
Debian's python3-pykdl)."""
import importlib
import json
import os
import sys
import traceback
import unittest


class Recorder(unittest.TestResult):
    def __init__(self):
        super().__init__()
        self.outcomes = {}

    def addSuccess(self, test):
        self.outcomes[test.id()] = ["ok", ""]

    def _bad(self, test, err, kind):
        self.outcomes[test.id()] = [kind, "".join(traceback.format_exception(*err))]

    def addFailure(self, test, err):
        self._bad(test, err, "fail")

    def addError(self, test, err):
        self._bad(test, err, "error")

    def addSkip(self, test, reason):
        self.outcomes[test.id()] = ["skip", reason]


def main():
    tests_dir, modules = sys.argv[1], sys.argv[2:]
    sys.path.insert(0, tests_dir)
    import PyKDL
    report = {"pykdl": os.path.realpath(PyKDL.__file__), "modules": {}}
    for name in modules:
        result = Recorder()
        try:
            importlib.import_module(name).suite().run(result)
        except Exception:  # the file itself did not import or build its suite
            result.outcomes["<import>"] = ["error", traceback.format_exc()]
        report["modules"][name] = result.outcomes
    print(json.dumps(report))


if __name__ == "__main__":
    main()
