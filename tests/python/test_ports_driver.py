"""bench/ports/driver.py, the workloads ./scripts/bench-ports measures: every workload runs on
both implementations (CPython's own modules and the pyo3cpp ports), timed and setup-only, so
the benchmark cannot rot unseen (the script itself runs callgrind for minutes; CI does not)."""
import os
import subprocess
import sys
import unittest
from pathlib import Path

DRIVER = Path(__file__).resolve().parents[2] / "bench" / "ports" / "driver.py"
WORKLOADS = ("heapify", "heappop", "heappush", "bisect", "insort",
             "random", "getrandbits", "getrandbits_wide", "seed", "state")


class PortsDriver(unittest.TestCase):
    def run_driver(self, *args):
        env = dict(os.environ, PYTHONHASHSEED="0")
        done = subprocess.run([sys.executable, str(DRIVER), *args], env=env, capture_output=True,
                              text=True, timeout=120)
        self.assertEqual(done.returncode, 0, done.stderr)
        return done.stdout

    def test_every_workload_on_both_implementations(self):
        for workload in WORKLOADS:
            for impl in ("cpython", "pyo3cpp"):
                with self.subTest(workload=workload, impl=impl):
                    best_ms = float(self.run_driver(impl, workload, "--time", "1"))
                    self.assertGreater(best_ms, 0.0)
                    self.assertEqual(self.run_driver(impl, workload, "--setup-only"), "")

    def test_unknown_workload_refused(self):
        done = subprocess.run([sys.executable, str(DRIVER), "pyo3cpp", "bogus"],
                              capture_output=True, text=True, timeout=60)
        self.assertNotEqual(done.returncode, 0)
        self.assertIn("unknown workload bogus", done.stderr)


if __name__ == "__main__":
    unittest.main()
