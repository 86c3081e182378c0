"""pyo3cpp_cross: a clang++/libc++ extension against the g++/libstdc++ libpyo3cpp.so."""
import sys
import sysconfig
import threading
import unittest

import pyo3cpp_cross as m

FREE_THREADED = bool(sysconfig.get_config_var("Py_GIL_DISABLED"))


def run_threads(count, target):
    barrier = threading.Barrier(count)
    errors = []

    def body(index):
        try:
            barrier.wait(timeout=30)
            target(index)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=body, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
        if t.is_alive():
            raise AssertionError("a worker thread hung (deadlock?)")
    if errors:
        raise errors[0]


class ToolchainTest(unittest.TestCase):
    def test_built_with_clang_and_libcxx_next_to_libstdcxx(self):
        text, _ = m.toolchain()
        self.assertIn("clang", text)
        self.assertIn("libc++", text)
        with open("/proc/self/maps") as maps:
            mapped = maps.read()
        self.assertIn("libc++.so", mapped, "the extension's standard library")
        self.assertIn("libstdc++.so", mapped, "libpyo3cpp.so's standard library")
        self.assertIn("libpyo3cpp-cp", mapped)   # libpyo3cpp-<python tag>.so.<abi>


class OwnershipTest(unittest.TestCase):
    def test_refs_dropped_on_a_libcxx_thread_reach_the_pool(self):
        items = [object() for _ in range(200)]
        before = [sys.getrefcount(o) for o in items]
        queued, left = m.drop_refs_on_thread(items)
        self.assertEqual(queued, 200)
        self.assertEqual(left, 0, "re-attaching drained the pool")
        self.assertEqual([sys.getrefcount(o) for o in items], before)

    def test_bound_and_py_balance(self):
        obj = object()
        before = sys.getrefcount(obj)
        for _ in range(1000):
            self.assertIs(m.bound_roundtrip(obj), obj)
        self.assertEqual(sys.getrefcount(obj), before)


class OnceCellTest(unittest.TestCase):
    def test_initialised_once_under_a_race(self):
        seen = [None] * 8
        run_threads(8, lambda i: seen.__setitem__(i, m.cached_object()))
        self.assertTrue(all(v is seen[0] for v in seen))
        self.assertEqual(seen[0], ("cached", "by clang++/libc++"))
        self.assertEqual(m.cached_init_count(), 1)


class CriticalSectionTest(unittest.TestCase):
    def test_snapshots_are_consistent(self):
        # One writer appends 0, 1, 2, ...; readers sum under the section: always a prefix.
        shared, bad = [], []

        def work(index):
            if index == 0:
                for v in range(20000):
                    shared.append(v)
            else:
                for _ in range(300):
                    n, total = m.locked_sum(shared)
                    if total != n * (n - 1) // 2:
                        bad.append((n, total))

        run_threads(4, work)
        self.assertEqual(bad, [])
        self.assertEqual(m.locked_sum(shared), (20000, 20000 * 19999 // 2))

    def test_errors_inside_the_section(self):
        with self.assertRaises(TypeError):
            m.locked_sum([1, "text"])
        with self.assertRaises(TypeError):
            m.locked_sum(())


class ExceptionTest(unittest.TestCase):
    def test_pyerr_crosses_back(self):
        with self.assertRaisesRegex(ValueError, "clang\\+\\+/libc\\+\\+ says: boom"):
            m.raise_value_error("boom")

    def test_cpp_exception_becomes_runtime_error(self):
        with self.assertRaisesRegex(RuntimeError, "std::runtime_error: bang"):
            m.raise_cpp("bang")

    def test_python_exception_round_trip_keeps_identity(self):
        error = KeyError("original")

        def fail():
            raise error

        with self.assertRaises(KeyError) as caught:
            m.call_and_translate(fail)
        self.assertIs(caught.exception, error)
        self.assertEqual(m.call_and_translate(lambda: 42), 42)


if __name__ == "__main__":
    unittest.main()
