"""pyo3cpp_c_example: a C99 extension on the C ABI alone — detach, attach from a foreign
thread, critical sections, once-cells, interning — on the GIL and the free-threaded build."""
import gc
import json
import subprocess
import sys
import sysconfig
import threading
import unittest

from thread_race import run_threads

import pyo3cpp_c_example as m

FREE_THREADED = bool(sysconfig.get_config_var("Py_GIL_DISABLED"))


class ModuleTest(unittest.TestCase):
    def test_runtime_matches_interpreter(self):
        self.assertEqual(m.RUNTIME_FREE_THREADED, int(FREE_THREADED))

    @unittest.skipUnless(FREE_THREADED, "free-threaded build only")
    def test_import_keeps_the_gil_disabled(self):
        # Py_mod_gil = Py_MOD_GIL_NOT_USED: importing must not re-enable the GIL.
        self.assertFalse(sys._is_gil_enabled())


class DetachTest(unittest.TestCase):
    def setUp(self):
        m.gate_close()

    def test_waiter_lets_the_opener_run(self):
        # The waiter blocks in C. Only if it detached can this thread (GIL build: it needs the
        # GIL) reach gate_open(), and can gc.collect() stop the world (free-threaded build).
        result = []
        waiter = threading.Thread(target=lambda: result.append(m.gate_wait(20.0)))
        waiter.start()
        for _ in range(3):
            gc.collect()
        m.gate_open()
        waiter.join(timeout=30)
        self.assertEqual(result, [True], "gate_wait timed out: it did not detach")

    def test_timeout_and_bad_timeout(self):
        self.assertFalse(m.gate_wait(0.01))
        with self.assertRaises(ValueError):
            m.gate_wait(-1.0)
        with self.assertRaises(TypeError):
            m.gate_wait("soon")


class ForeignThreadTest(unittest.TestCase):
    def test_new_pthread_attaches_and_calls(self):
        main = threading.get_ident()
        idents = m.call_from_new_thread(lambda i: threading.get_ident(), 4)
        self.assertEqual(len(set(idents)), 1)
        self.assertNotEqual(idents[0], main)
        self.assertEqual(m.call_from_new_thread(lambda i: i * i, 5), [0, 1, 4, 9, 16])

    def test_exception_on_the_thread_reaches_the_caller(self):
        def explode(i):
            if i == 2:
                raise KeyError("from the foreign thread")
            return i

        try:
            m.call_from_new_thread(explode, 5)
        except KeyError as error:  # not assertRaises: it strips the traceback we check
            self.assertIn("from the foreign thread", str(error))
            frames = [frame.f_code.co_name for frame, _ in __import__("traceback").walk_tb(error.__traceback__)]
            self.assertIn("explode", frames, "the foreign thread's traceback came along")
        else:
            self.fail("KeyError expected")

    def test_bad_arguments(self):
        with self.assertRaises(TypeError):
            m.call_from_new_thread(42, 1)

    def test_many_threads_at_once(self):
        results = [None] * 4
        run_threads(4, lambda i: results.__setitem__(i, m.call_from_new_thread(lambda k: k + i, 50)))
        for i, got in enumerate(results):
            self.assertEqual(got, [k + i for k in range(50)])


class AtomicAppendTest(unittest.TestCase):
    def test_append_if_absent(self):
        items = []
        self.assertTrue(m.append_if_absent(items, "a"))
        self.assertFalse(m.append_if_absent(items, "a"))
        self.assertTrue(m.append_if_absent(items, "b"))
        self.assertEqual(items, ["a", "b"])

    def test_bad_arguments(self):
        with self.assertRaises(TypeError):
            m.append_if_absent((), 1)
        with self.assertRaises(TypeError):
            m.append_if_absent([])

    def test_locked_sum_sees_consistent_snapshots(self):
        # One writer appends 0, 1, 2, ...; readers sum under the critical section: every
        # snapshot is a prefix, so (n, sum) always satisfies sum == n * (n - 1) / 2.
        shared = []
        bad = []

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
        with self.assertRaises(TypeError):
            m.locked_sum(["x"])

    def test_locked_sum_overflow_is_overflow_error(self):
        # An item beyond long long used to leak PyLong_AsLongLong's error as SystemError; a sum
        # beyond it used to wrap silently (signed overflow: undefined behaviour in C).
        big = 2**63 - 1
        with self.assertRaisesRegex(OverflowError, "locked_sum"):
            m.locked_sum([2**70, 1])
        with self.assertRaisesRegex(OverflowError, "locked_sum"):
            m.locked_sum([big, 1])
        with self.assertRaisesRegex(OverflowError, "locked_sum"):
            m.locked_sum([-(2**63), -1])
        with self.assertRaisesRegex(OverflowError, "locked_sum"):
            m.locked_sum([-(2**70)])
        # Right at the boundary every sum is exact.
        self.assertEqual(m.locked_sum([big - 1, 1]), (2, big))
        self.assertEqual(m.locked_sum([big]), (1, big))
        self.assertEqual(m.locked_sum([-(2**63)]), (1, -(2**63)))
        self.assertEqual(m.locked_sum([-(2**63) + 1, -1]), (2, -(2**63)))
        self.assertEqual(m.locked_sum([big, -(2**63)]), (2, -1))
        # The critical section ended on the error path: the list is usable, the next call works.
        items = [big, 1]
        with self.assertRaises(OverflowError):
            m.locked_sum(items)
        items[1] = -1
        self.assertEqual(m.locked_sum(items), (2, big - 1))

    def test_racing_threads_never_duplicate(self):
        # Every thread offers the same values in a different order; without the critical
        # section, two threads that both saw "absent" would both append (free-threaded build).
        values = 300
        for round_ in range(5):
            shared = []
            appended = [0] * 8

            def offer(index):
                order = range(values) if index % 2 else range(values - 1, -1, -1)
                appended[index] = sum(m.append_if_absent(shared, v) for v in order)

            run_threads(8, offer)
            self.assertEqual(len(shared), values, f"round {round_}: duplicates or losses")
            self.assertEqual(sorted(shared), list(range(values)))
            self.assertEqual(sum(appended), values, "each value reported appended exactly once")


class OnceCellTest(unittest.TestCase):
    def test_registry_initialised_exactly_once_under_a_race(self):
        seen = [None] * 8
        run_threads(8, lambda i: seen.__setitem__(i, m.shared_registry()))
        self.assertTrue(all(r is seen[0] for r in seen))
        self.assertEqual(m.registry_init_count(), 1)
        self.assertIs(m.shared_registry(), seen[0])
        self.assertEqual(seen[0]["created_by"], None)

    def test_failed_initialiser_leaves_the_cell_empty(self):
        # The cell is process-wide and other suites may have filled it (the bad-input fuzzer
        # calls every function): check it in a fresh interpreter.
        code = """
import pyo3cpp_c_example as m
try:
    m.flaky_value(True)
except ValueError as e:
    assert "failed as asked" in str(e), e
else:
    raise SystemExit("the failing initialiser did not raise")
assert m.flaky_value(False) == "initialised"
# Done now: the initialiser does not run again, so "fail" no longer matters.
assert m.flaky_value(True) is m.flaky_value(False)
"""
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              timeout=120)
        self.assertEqual(done.returncode, 0, done.stdout + done.stderr)


class InternTest(unittest.TestCase):
    def test_interned_identity(self):
        name = m.interned_name()
        self.assertIs(name, sys.intern("pyo3cpp_c_example." + "interned"))
        self.assertIs(m.interned_name(), name)

    def test_get_name_and_json(self):
        class Named:
            name = "x"

        self.assertEqual(m.get_name(Named()), "x")
        with self.assertRaises(AttributeError):
            m.get_name(object())
        self.assertEqual(m.json_dumps({"a": [1, 2]}), json.dumps({"a": [1, 2]}))
        with self.assertRaises(TypeError):
            m.json_dumps(object())


if __name__ == "__main__":
    unittest.main()
