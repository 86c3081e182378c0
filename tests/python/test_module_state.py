"""Per-module state (module_state.hpp), through tests/ext/pyo3cpp_test_module_state.cpp and the
docs' example (tests/ext/pyo3cpp_docs_module_state.cpp, shown in docs/subinterpreters.md)."""
import gc
import importlib.util
import inspect
import os
import re
import subprocess
import sys
import unittest
import weakref

import pyo3cpp_test_module_state as ext
from thread_race import run_threads

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NAME = "pyo3cpp_test_module_state"


HERE = os.path.dirname(os.path.abspath(__file__))
CHILD = "PYO3CPP_TEST_MODULE_STATE_CHILD"


def modules_are_immortal():
    """3.13t makes objects with deferred reference counts (module objects among them) immortal
    once a second thread has started: then no module object is ever freed in this process."""
    probe = fresh_module(exec_it=False)
    return sys.getrefcount(probe) > 2**29


def fresh_module(exec_it=True):
    """A second module object of the same extension (its own exec, so its own state)."""
    spec = importlib.util.find_spec(NAME)
    module = importlib.util.module_from_spec(spec)
    if exec_it:
        spec.loader.exec_module(module)
    return module


class ModuleStateTests(unittest.TestCase):
    def setUp(self):
        gc.collect()  # module objects left by earlier tests: destroyed before the counts are read

    def in_fresh_process_if_immortal(self):
        """True when the test ran in a child interpreter (no thread started there) instead."""
        if not modules_are_immortal():
            return False
        if os.environ.get(CHILD):
            self.fail("module objects are immortal in the child too")
        env = dict(os.environ)
        env[CHILD] = "1"
        env["PYTHONPATH"] = os.pathsep.join(
            [HERE, os.path.dirname(ext.__file__)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
        test = f"test_module_state.ModuleStateTests.{self._testMethodName}"
        done = subprocess.run([sys.executable, "-m", "unittest", test], env=env, cwd=HERE,
                              capture_output=True, text=True, timeout=120)
        self.assertEqual(done.returncode, 0, done.stdout + done.stderr)
        return True

    def test_functions_reach_the_state(self):
        start = ext.count()
        self.assertEqual(ext.bump(), start + 1)
        self.assertEqual(ext.bump_by_ten(), start + 11)  # a capturing lambda (vectorcall path)
        ext.bump_many(5)
        self.assertEqual(ext.count(), start + 16)
        self.assertEqual(ext.count_of(ext), start + 16)
        self.assertEqual(ext.Probe().module_count(), start + 16)  # a method, via its class

    def test_the_state_parameter_is_not_a_python_parameter(self):
        self.assertEqual(str(inspect.signature(ext.bump)), "()")
        self.assertEqual(str(inspect.signature(ext.bump_many)), "(n)")
        with self.assertRaisesRegex(TypeError, r"takes 0 positional arguments but 1 was given"):
            ext.bump(1)

    def test_each_module_object_has_its_own_state_made_once(self):
        if self.in_fresh_process_if_immortal():
            return
        made, gone = ext.constructed(), ext.destroyed()
        other = fresh_module()
        self.assertIsNot(other, ext)
        self.assertEqual(ext.constructed(), made + 1)
        spec = importlib.util.find_spec(NAME)
        spec.loader.exec_module(other)  # exec again: the same state
        self.assertEqual(ext.constructed(), made + 1)
        self.assertNotEqual(other.state_address(), ext.state_address())
        before = ext.count()
        other.bump()
        other.bump()
        self.assertEqual(other.count(), 2)
        self.assertEqual(ext.count(), before)
        self.assertEqual(ext.count_of(other), 2)
        # Class types are still process-wide: made once, by the first module object, whose
        # state their methods reach.
        self.assertIs(other.Probe, ext.Probe)
        self.assertEqual(other.Probe().module_count(), before)
        del other
        gc.collect()
        self.assertEqual(ext.destroyed(), gone + 1)
        self.assertEqual(ext.constructed(), made + 1)

    def test_the_gc_sees_and_clears_a_cycle_through_the_state(self):
        if self.in_fresh_process_if_immortal():
            return
        class Node:
            pass

        made, gone, cleared = ext.constructed(), ext.destroyed(), ext.cleared()
        other = fresh_module()
        node = Node()
        node.module = other  # module -> state -> node -> module
        other.hold(node)
        self.assertIs(other.held(), node)
        self.assertTrue(any(r is node for r in gc.get_referents(other)))  # traverse visits it
        alive = weakref.ref(node)
        module_alive = weakref.ref(other)
        del node, other
        gc.collect()
        self.assertIsNone(alive())
        self.assertIsNone(module_alive())
        self.assertEqual(ext.destroyed(), gone + 1)
        self.assertEqual(ext.cleared(), cleared + 1)
        self.assertEqual(ext.constructed(), made + 1)

    def test_state_before_exec_raises(self):
        other = fresh_module(exec_it=False)
        with self.assertRaisesRegex(RuntimeError, r"used before the module's exec"):
            ext.count_of(other)

    def test_state_after_clear_raises(self):
        if self.in_fresh_process_if_immortal():
            return
        gone = ext.destroyed()
        other = fresh_module()
        count = other.count
        ext.clear_module_state(other)
        self.assertEqual(ext.destroyed(), gone + 1)
        with self.assertRaisesRegex(RuntimeError, r"used after the module was cleared or freed"):
            count()
        with self.assertRaisesRegex(RuntimeError, r"cleared or freed"):
            ext.count_of(other)
        ext.clear_module_state(other)  # twice: nothing left to destroy
        del count, other
        gc.collect()
        self.assertEqual(ext.destroyed(), gone + 1)

    def test_wrong_objects_raise_type_errors(self):
        import pyo3cpp_docs_module_state as docs
        with self.assertRaisesRegex(TypeError, r"expected a module, not int"):
            ext.count_of(1)
        with self.assertRaisesRegex(TypeError, r"has no pyo3cpp module state"):
            ext.count_of(docs)
        with self.assertRaisesRegex(TypeError, r"has no pyo3cpp module state"):
            ext.count_of(sys)


class ModuleStateRaceTests(unittest.TestCase):
    """The state is shared by every thread: an atomic counter keeps an exact total (3.13t with
    PYTHON_GIL=0 runs the calls really in parallel)."""

    def test_concurrent_increments_are_exact(self):
        threads, rounds, calls, inner = 4, 20, 50, 200
        module = fresh_module()

        def work(index):
            for _ in range(calls):
                module.bump()
                module.bump_many(inner)

        for _ in range(rounds):
            run_threads(threads, work, timeout=60)
        self.assertEqual(module.count(), rounds * threads * calls * (1 + inner))
        if hasattr(sys, "_is_gil_enabled") and os.environ.get("PYTHON_GIL") == "0":
            self.assertFalse(sys._is_gil_enabled())


class DocsExampleTests(unittest.TestCase):
    def test_docs_show_the_source_verbatim(self):
        with open(os.path.join(ROOT, "tests", "ext", "pyo3cpp_docs_module_state.cpp"), encoding="utf-8") as f:
            source = f.read()
        with open(os.path.join(ROOT, "docs", "subinterpreters.md"), encoding="utf-8") as f:
            docs = f.read()
        self.assertIn(source, re.findall(r"^```cpp\n(.*?)^```$", docs, re.S | re.M))

    def test_docs_example_behaves_as_shown(self):
        import pyo3cpp_docs_module_state as docs
        seen = []
        docs.set_hook(lambda: seen.append(1))
        start = docs.calls()
        self.assertEqual(docs.Greeter("Ada").greet(), "Hello, Ada!")
        self.assertEqual(docs.calls(), start + 1)
        self.assertEqual(seen, [1])
        self.assertEqual(str(inspect.signature(docs.set_hook)), "(hook)")


if __name__ == "__main__":
    unittest.main()
