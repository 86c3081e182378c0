#!/usr/bin/env python3
"""Counts test cases in Meson build directories: every gtest case, TAP line and plain test.

Reads meson-logs/testlog.junit.xml (cases) and testlog.json (per-suite verdicts) of each build
directory given; a suite that failed (crashed, timed out) without reporting a failing case
counts as one failure, so no failure can hide. Prints "passed failed skipped".
"""
import glob
import json
import os
import sys
import xml.etree.ElementTree as ET


def count(build_dir):
    passed = failed = skipped = 0
    logs = os.path.join(build_dir, "meson-logs")
    # One pair of logs per `meson test` run: testlog.* or, with --wrapper, testlog-<wrapper>.*
    # (scripts/test clears them before each run, so every file found belongs to this run).
    for junit in sorted(glob.glob(os.path.join(logs, "testlog*.junit.xml"))):
        suites_failed_cases = {}
        for suite in ET.parse(junit).getroot().iter("testsuite"):
            name = suite.get("name", "")
            bad = 0
            for case in suite.iter("testcase"):
                kinds = {child.tag for child in case}
                if kinds & {"failure", "error"}:
                    failed += 1
                    bad += 1
                elif "skipped" in kinds or case.get("status") == "notrun":
                    skipped += 1
                else:
                    passed += 1
            suites_failed_cases[name] = suites_failed_cases.get(name, 0) + bad
        verdicts = junit[: -len(".junit.xml")] + ".json"
        if not os.path.exists(verdicts):
            continue
        with open(verdicts) as f:
            for line in f:
                entry = json.loads(line)
                if entry.get("result") in ("OK", "SKIP", "EXPECTEDFAIL"):
                    continue
                test = entry.get("name", "")
                reported = sum(v for k, v in suites_failed_cases.items()
                               if k.split(".")[1:2] == [test.split(" ")[0]] or test in k)
                if reported == 0:  # crashed or timed out before reporting a failing case
                    failed += 1
    return passed, failed, skipped


def main(dirs):
    totals = [0, 0, 0]
    for d in dirs:
        for i, n in enumerate(count(d)):
            totals[i] += n
    print(*totals)


if __name__ == "__main__":
    main(sys.argv[1:])
