"""Upstream PyKDL's own tests (orocos-kdl 1.5.1: python_orocos_kdl/tests/framestest.py,
frameveltest.py, kinfamtest.py, dynamicstest.py; fetched once by scripts/fetch-orocos-kdl),
unmodified, against the port in examples/pykdl, on whatever interpreter runs this suite (3.13t
with PYTHON_GIL=0 in scripts/test). On the system 3.11 the same files also run against Debian's
python3-pykdl (upstream's pybind11 build, the control), so that a test the port passes and the
control fails, or the reverse, shows as a difference of expectation.

Each file runs in a subprocess (upstream's suites write /tmp files and star-import PyKDL); every
upstream test is one subTest here, named by its id. A platform without psutil (3.13t) gets
tests/python/pykdl/psutil.py, the one call kinfamtest makes."""
import json
import os
import subprocess
import sys
import sysconfig
import tempfile
import unittest
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
FILES = ("framestest", "frameveltest", "kinfamtest", "dynamicstest")
PORT_DIR = os.environ.get("PYO3CPP_PYKDL_DIR", "")
DEBIAN_PYKDL = Path("/usr/lib/python3/dist-packages")


def upstream_tests():
    """The cached source's tests directory (fetching it the first time), or None."""
    # Without the sanitizer runtime scripts/test preloads for the tests (apt-get needs none).
    env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
    done = subprocess.run([str(REPO / "scripts" / "fetch-orocos-kdl")], capture_output=True, text=True,
                          timeout=600, env=env)
    if done.returncode != 0:
        return None
    tests = Path(done.stdout.strip()) / "python_orocos_kdl" / "tests"
    return tests if tests.is_dir() else None


def has_psutil():
    return subprocess.run([sys.executable, "-c", "import psutil"], capture_output=True).returncode == 0


def run(tests_dir, path_entries, module):
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    env["PYTHONPATH"] = os.pathsep.join([str(p) for p in path_entries])
    with tempfile.TemporaryDirectory() as cwd:
        done = subprocess.run([sys.executable, str(HERE / "pykdl" / "run_upstream.py"), str(tests_dir), module],
                              env=env, cwd=cwd, capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise AssertionError(f"{module}: the runner failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.splitlines()[-1])


class UpstreamTests(unittest.TestCase):
    tests_dir = None
    shims = []
    unavailable = None  # why these tests cannot run here: each skips itself (TAP counts every test)

    @classmethod
    def setUpClass(cls):
        if not PORT_DIR or not list(Path(PORT_DIR).glob("PyKDL*.so")):
            cls.unavailable = "examples/pykdl is not built (liborocos-kdl-dev absent, or -Dexamples=false)"
            return
        cls.tests_dir = upstream_tests()
        if cls.tests_dir is None:
            cls.unavailable = "the orocos-kdl source could not be fetched (scripts/fetch-orocos-kdl)"
            return
        cls.shims = [] if has_psutil() else [HERE / "pykdl"]

    def setUp(self):
        if self.unavailable:
            self.skipTest(self.unavailable)

    def check(self, module, path_entries, expect_in):
        report = run(self.tests_dir, path_entries, module)
        self.assertTrue(report["pykdl"].startswith(str(expect_in)), report["pykdl"])
        outcomes = report["modules"][module]
        self.assertGreater(len(outcomes), 0)
        for test_id, (kind, detail) in sorted(outcomes.items()):
            with self.subTest(test=test_id):
                self.assertEqual(kind, "ok", detail)
        return outcomes

    def port(self, module):
        return self.check(module, [Path(PORT_DIR), *self.shims], Path(PORT_DIR).resolve())

    def test_framestest_port(self):
        self.assertEqual(len(self.port("framestest")), 8)

    def test_frameveltest_port(self):
        self.assertEqual(len(self.port("frameveltest")), 8)

    def test_kinfamtest_port(self):
        self.assertEqual(len(self.port("kinfamtest")), 11)

    def test_dynamicstest_port(self):
        self.assertEqual(len(self.port("dynamicstest")), 1)


class UpstreamTestsControl(UpstreamTests):
    """The same files against Debian's pybind11 build (3.11 only: the package's ABI)."""

    @classmethod
    def setUpClass(cls):
        if sys.version_info[:2] != (3, 11) or sysconfig.get_config_var("Py_GIL_DISABLED") \
                or not list(DEBIAN_PYKDL.glob("PyKDL.cpython-311-*.so")) \
                or not Path(sys.executable).resolve().is_relative_to("/usr"):
            cls.unavailable = "the control is Debian's python3-pykdl, for the system 3.11"
            return
        super().setUpClass()

    def port(self, module):  # the control in place of the port: same files, same expectations
        return self.check(module, [*self.shims], DEBIAN_PYKDL)


if __name__ == "__main__":
    unittest.main()
