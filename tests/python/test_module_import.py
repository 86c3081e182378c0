"""Importing modules built with module.hpp: concurrent first imports (8 threads, a submodule)
initialise once and never expose a half-built module; the GIL stays off on a free-threaded
CPython unless the module opts out with gil_used(). Each scenario runs in a fresh interpreter
(subprocess) so that it is really the first import there and the GIL state does not leak."""
import os
import subprocess
import sys
import sysconfig
import textwrap
import unittest

FREE_THREADED = bool(sysconfig.get_config_var("Py_GIL_DISABLED"))


def run_python(code, env_update=None, drop=()):
    env = dict(os.environ)
    for name in drop:
        env.pop(name, None)
    env.update(env_update or {})
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=env,
                          capture_output=True, text=True, timeout=120)


CONCURRENT_IMPORT = """
import sys, threading
N = 8
barrier = threading.Barrier(N)
seen, errors = [], []

def worker(i):
    try:
        barrier.wait()
        if i % 2:
            import pyo3cpp_test_module.sub as sub
            import pyo3cpp_test_module as mod
        else:
            from pyo3cpp_test_module import sub
            import pyo3cpp_test_module as mod
        # Everything exec adds must be there: COMPLETE is added last, after a 50 ms pause.
        assert mod.COMPLETE is True, "half-built module"
        assert mod.ANSWER == 42 and mod.sub is sub and sub.triple(2) == 6 and sub.READY
        assert mod.bisect_left([1, 2, 3], 2) == 1
        seen.append((id(mod), id(sub)))
    except BaseException as e:
        errors.append(repr(e))

threads = [threading.Thread(target=worker, args=(i,)) for i in range(N)]
for t in threads: t.start()
for t in threads: t.join()
import pyo3cpp_test_module as mod
print("errors", errors)
print("distinct", len(set(seen)), "seen", len(seen))
print("exec_calls", mod.exec_calls())
print("gil", getattr(sys, "_is_gil_enabled", lambda: True)())
"""


class ConcurrentImport(unittest.TestCase):
    def test_eight_threads_import_once_and_never_half_built(self):
        for round_ in range(4):
            with self.subTest(round=round_):
                result = run_python(CONCURRENT_IMPORT)
                self.assertEqual(result.returncode, 0, result.stderr)
                lines = dict(line.split(" ", 1) for line in result.stdout.splitlines())
                self.assertEqual(lines["errors"], "[]", result.stdout)
                self.assertEqual(lines["distinct"], "1 seen 8")
                self.assertEqual(lines["exec_calls"], "1")


@unittest.skipUnless(FREE_THREADED, "free-threaded CPython only")
class GilState(unittest.TestCase):
    # PYTHON_GIL=0 (how CI runs 3.13t) would force the GIL off whatever modules declare, so
    # these subprocesses run without it: the module's own declaration decides.
    def test_helper_module_keeps_the_gil_disabled(self):
        result = run_python("""
            import sys
            assert not sys._is_gil_enabled()
            import pyo3cpp_test_module
            print(sys._is_gil_enabled())
            """, drop=("PYTHON_GIL",))
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stdout.strip(), "False")
        self.assertNotIn("RuntimeWarning", result.stderr)

    def test_gil_used_module_re_enables_the_gil_with_a_warning(self):
        result = run_python("""
            import sys
            assert not sys._is_gil_enabled()
            import pyo3cpp_test_gil_used
            print(sys._is_gil_enabled(), pyo3cpp_test_gil_used.answer())
            """, drop=("PYTHON_GIL",))
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stdout.strip(), "True 42")
        self.assertIn("RuntimeWarning", result.stderr)
        self.assertIn("pyo3cpp_test_gil_used", result.stderr)
        self.assertIn("GIL", result.stderr)


class GilUsedOnGilBuilds(unittest.TestCase):
    def test_gil_used_module_imports_everywhere(self):
        result = run_python("import pyo3cpp_test_gil_used as m; print(m.answer())",
                            env_update={"PYTHONWARNINGS": "ignore"})
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stdout.strip(), "42")


if __name__ == "__main__":
    unittest.main()
