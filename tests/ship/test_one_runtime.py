"""Two extension wheels built separately (examples/package and tests/ship/second), installed
beside the pyo3cpp runtime wheel, share one runtime instance: the same library mapped once, one
deferred-decref pool, one attach gate, one object-lock table. Run by tests/ship/ship.sh with the
interpreter of a venv that holds the three wheels."""
import subprocess
import sys
import threading
import time
import unittest

import pyo3cpp
import pyo3cpp_example
import pyo3cpp_second
from pyo3cpp_example import _example_c as first
from pyo3cpp_second import _second as second


def mapped_runtimes():
    with open("/proc/self/maps") as maps:
        return sorted({line.split()[-1] for line in maps if "libpyo3cpp" in line})


class OneRuntimeTest(unittest.TestCase):
    def test_one_library_mapped(self):
        self.assertEqual(mapped_runtimes(), [pyo3cpp.library_path()])

    def test_same_functions(self):
        self.assertEqual(first.runtime_info()["address"], second.runtime_address())

    def test_runtime_matches_interpreter(self):
        info = first.runtime_info()
        self.assertEqual(info["abi"], pyo3cpp.ABI_VERSION)
        self.assertEqual(info["python"][:2], tuple(sys.version_info[:2]))

    def test_one_pool(self):
        obj = object()
        before = sys.getrefcount(obj)
        pending = second.pool_pending()
        first.defer_decref(obj)            # queued by the first extension ...
        self.assertEqual(sys.getrefcount(obj), before + 1)
        self.assertEqual(second.pool_pending(), pending + 1)   # ... seen by the second
        self.assertGreaterEqual(second.pool_drain(), 1)        # ... and applied by it
        self.assertEqual(sys.getrefcount(obj), before)
        self.assertEqual(first.pool_pending(), 0)

    def test_one_gate(self):
        # The runtime registers its attach gate (an atexit callback) once per process. In a fresh
        # process: the first extension is imported and attaches from a new thread; then the
        # second, built separately, does the same: no second gate appears.
        code = """if True:
            import atexit
            from pyo3cpp_example import _example_c as first
            first.attach_from_thread()
            after_first = atexit._ncallbacks()
            from pyo3cpp_second import _second as second
            second.attach_from_thread()
            first.attach_from_thread()
            print(after_first, atexit._ncallbacks())"""
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             check=True).stdout.split()
        self.assertEqual(out[0], out[1])

    @unittest.skipUnless(pyo3cpp.PYTHON_TAG.endswith("t"),
                         "GIL builds: object locks are free, the GIL is the lock")
    def test_object_locks_exclude_each_other(self):
        obj = []
        done = threading.Event()

        def other_extension():
            second.lock_and_unlock(obj)    # must wait for the first extension's lock
            done.set()

        first.object_lock(obj)
        try:
            thread = threading.Thread(target=other_extension)
            thread.start()
            time.sleep(0.3)
            self.assertFalse(done.is_set(), "the second extension took a lock the first holds")
        finally:
            first.object_unlock(obj)
        thread.join(10)
        self.assertTrue(done.is_set())

    def test_extensions_work(self):
        self.assertEqual(pyo3cpp_example.greet("world"), "hello, world")
        counts = {}
        pyo3cpp_example.tally(counts, ["a", "b", "a"])
        self.assertEqual(counts, {"a": 2, "b": 1})
        if pyo3cpp.PYTHON_TAG.endswith("t"):   # the runtime and both wheels keep the GIL off
            self.assertFalse(sys._is_gil_enabled())
        self.assertIn("lock_and_unlock", pyo3cpp_second.__all__)


if __name__ == "__main__":
    unittest.main()
