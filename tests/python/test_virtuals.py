"""Python overrides of C++ virtual methods (trampoline.hpp, docs/virtuals.md): dispatch from
C++ on the owning thread, on threads Python never saw and while not attached; the C++
implementation without an override; pure virtuals; the lookup and its cache; the instance lock
lent to an override; C++ keeping objects after Python let go. The thread races run for real on a
free-threaded build with the GIL off; every call that could hang runs under a watchdog."""
import gc
import sys
import unittest
import weakref

import pyo3cpp_test_virtuals as m
import pyo3cpp_virtuals as example
from thread_race import run_threads, watched

FREE_THREADED = not getattr(sys, "_is_gil_enabled", lambda: True)()


class Square(m.Probe):
    def step(self, x):
        return x * x

    def weight(self):
        return 7


class Labelled(m.Probe):
    def label(self, prefix):
        return prefix + "labelled"

    def notify(self, value):
        self.bump(int(value) * 100)  # a mutating method of the same instance

    def weight(self):
        return 1


class Delegating(m.Probe):
    def step(self, x):
        return super().step(x) + 1000  # the C++ implementation

    def weight(self):
        return 2


class Deeper(Delegating):
    def step(self, x):
        return super().step(x) * 2  # Delegating.step, then the C++ one


class CallsBack(m.Probe):
    def step(self, x):
        self.bump(1)  # mutating, same instance, same thread: the held instance is lent
        return self.read_total()

    def weight(self):
        return 3


class ReadsOnly(m.Probe):
    def weight(self):
        return self.read_total()  # const while the caller reads: granted


class WritesInConst(m.Probe):
    def weight(self):
        self.bump(1)  # mutating while the caller holds the instance shared
        return 0


class NoOverride(m.Probe):
    pass


class Dispatch(unittest.TestCase):
    def test_override_and_cpp_implementation(self):
        self.assertEqual(m.step_exclusive(Square(), 5), 25)
        self.assertEqual(m.step_exclusive(NoOverride(), 5), 5)  # Probe::step
        self.assertEqual(m.step_exclusive(m.Probe(), 5), 5)     # the bound class itself
        self.assertEqual(m.label_of(Labelled(), "a-"), "a-labelled")
        self.assertEqual(m.label_of(Square(), "a-"), "a-probe")
        self.assertEqual(m.weight_shared(Square()), 7)

    def test_super_runs_the_cpp_implementation(self):
        self.assertEqual(m.step_exclusive(Delegating(), 5), 1005)
        self.assertEqual(m.step_exclusive(Deeper(), 5), 2010)
        self.assertEqual(Delegating().step(5), 1005)  # from Python: the override, then C++
        self.assertEqual(m.Probe.step(Square(), 6), 6)  # the C++ method named explicitly
        self.assertEqual(Square().bump_step(3), 9)  # a C++ method calling the virtual: dispatched

    def test_pure_virtual_without_override(self):
        with self.assertRaises(NotImplementedError) as cm:
            m.weight_shared(NoOverride())
        self.assertEqual(str(cm.exception),
                         "Probe.weight() is pure virtual and its subclass NoOverride does not override it")
        with self.assertRaises(NotImplementedError) as cm:
            m.Probe().weight()
        self.assertEqual(str(cm.exception), "Probe.weight() is pure virtual and Probe is abstract: "
                                            "subclass it in Python and override weight()")

        class CallsPureSuper(m.Probe):
            def weight(self):
                return super().weight()

        with self.assertRaises(NotImplementedError):
            m.weight_shared(CallsPureSuper())

    def test_errors_of_the_override_reach_the_caller(self):
        class Raises(m.Probe):
            def step(self, x):
                raise KeyError(x)

        class WrongType(m.Probe):
            def step(self, x):
                return "seven"

        with self.assertRaises(KeyError):
            m.step_exclusive(Raises(), 3)
        with self.assertRaises(TypeError) as cm:
            m.step_exclusive(WrongType(), 3)
        self.assertEqual(str(cm.exception),
                         "WrongType.step() overrides a C++ method returning int, but returned str")

    def test_void_and_argument_conversion(self):
        p = Labelled()
        m.notify_of(p, 2.0)
        self.assertEqual(p.read_total(), 200)
        q = Square()
        m.notify_of(q, 3.0)  # Probe::notify
        self.assertEqual(q.read_total(), 3)

    def test_lookup_follows_the_mro(self):
        class Mixin:
            def step(self, x):
                return -x

        class Before(Mixin, m.Probe):
            pass

        class After(m.Probe, Mixin):
            pass

        self.assertEqual(m.step_exclusive(Before(), 4), -4)
        self.assertEqual(m.step_exclusive(After(), 4), 4)  # Probe.step comes first: C++

    def test_class_changes_are_seen(self):
        class Changing(m.Probe):
            def step(self, x):
                return 1

        p = Changing()
        self.assertEqual(m.step_exclusive(p, 9), 1)
        Changing.step = lambda self, x: 2
        self.assertEqual(m.step_exclusive(p, 9), 2)
        del Changing.step
        self.assertEqual(m.step_exclusive(p, 9), 9)
        Changing.step = staticmethod(lambda x: x + 3)
        self.assertEqual(m.step_exclusive(p, 9), 12)
        p.step = lambda x: 99  # an instance attribute is not an override (as for special methods)
        self.assertEqual(m.step_exclusive(p, 9), 12)

    def test_many_sibling_classes_share_the_cache(self):
        classes = [type(f"S{i}", (m.Probe,), {"step": (lambda i: lambda self, x: x + i)(i)})
                   for i in range(12)]
        objects = [c() for c in classes]
        for _ in range(3):
            for i, o in enumerate(objects):
                self.assertEqual(m.step_exclusive(o, 100), 100 + i)

    def test_factory_and_new_constructed_classes(self):
        class Twice(m.Loose):
            def twice(self, x):
                return 3 * x

        self.assertEqual(m.twice_of(Twice(), 5), 15)
        self.assertEqual(m.twice_of(m.Loose(), 5), 10)

    def test_subclass_that_skips_init_is_refused(self):
        class SkipsInit(m.Probe):
            def __init__(self):
                pass

            def weight(self):
                return 1

        with self.assertRaises(TypeError) as cm:
            m.keep(SkipsInit())
        self.assertIn("not initialised", str(cm.exception))
        with self.assertRaises(TypeError):
            m.step_exclusive(SkipsInit(), 1)

    def test_bad_arguments(self):
        with self.assertRaises(TypeError):
            m.step_exclusive(Square(), "x")
        with self.assertRaises(TypeError):
            m.step_exclusive(object(), 1)


class Locks(unittest.TestCase):
    def test_override_calls_back_into_the_held_instance(self):
        p = CallsBack()
        self.assertEqual(watched(m.step_exclusive, p, 1), 1)       # held by the parameter
        self.assertEqual(watched(p.bump_step, 1), 2)               # held by the bound method
        self.assertEqual(p.read_total(), 4)                        # bump_step added the 2
        self.assertEqual(watched(m.step_under_guard, p, 1), 5)     # held by lock() from C++

    def test_shared_hold_is_not_lent_for_writing(self):
        self.assertEqual(watched(m.weight_shared, ReadsOnly(5)), 5)
        with self.assertRaises(RuntimeError) as cm:
            watched(m.weight_shared, WritesInConst())
        self.assertIn("already in use by this thread", str(cm.exception))

    def test_threads_call_the_override_concurrently(self):
        class Counting(m.Probe):
            def step(self, x):
                self.bump(1)  # exclusive against every other thread
                return x

        p = Counting()
        threads, rounds = 8, 200
        expected = sum(t * 1000 + i for t in range(threads) for i in range(rounds))
        self.assertEqual(watched(m.step_from_threads, p, threads, rounds), expected)
        self.assertEqual(p.read_total(), threads * rounds)
        self.assertEqual(m.violations(), 0)

    def test_threads_holding_the_instance_exclude_each_other(self):
        class BumpsOnce(m.Probe):
            def step(self, x):
                self.bump(1)  # lent by the thread's exclusive hold
                return 0

        p = BumpsOnce()
        threads, rounds = 8, 100
        self.assertEqual(watched(m.bump_step_from_threads, p, threads, rounds), 0)
        self.assertEqual(p.read_total(), threads * rounds)  # no update lost
        self.assertEqual(m.violations(), 0)

    def test_python_threads_and_cpp_callers_together(self):
        p = CallsBack()

        def worker(i):
            for _ in range(100):
                if i % 2:
                    m.step_exclusive(p, 1)
                else:
                    p.bump(1)

        run_threads(8, worker)
        self.assertEqual(m.violations(), 0)


class ForeignThreads(unittest.TestCase):
    def test_pure_virtual_from_a_foreign_thread(self):
        self.assertEqual(watched(m.weight_from_thread, Square()), 7)
        with self.assertRaises(NotImplementedError):
            watched(m.weight_from_thread, NoOverride())
        self.assertEqual(watched(m.what_from_thread, NoOverride()),
                         "NotImplementedError: Probe.weight() is pure virtual and its subclass "
                         "NoOverride does not override it")

    def test_cpp_outlives_the_last_python_reference(self):
        before = m.trampolines_dead()
        p = Square()
        alive = weakref.ref(p)
        m.keep(p)
        m.keep(Delegating())
        del p
        gc.collect()
        self.assertIsNotNone(alive())  # C++ keeps it
        self.assertEqual(watched(m.step_kept_from_thread, 3), 9 + 1003)
        watched(m.release_kept_from_thread)  # released on a thread that is not attached
        gc.collect()
        self.assertIsNone(alive())
        self.assertEqual(m.trampolines_dead() - before, 2)


class DocsExample(unittest.TestCase):
    """examples/virtuals: docs/virtuals.md shows it byte for byte, and it behaves as shown there."""

    def test_docs_show_the_source_verbatim(self):
        import pathlib
        import re
        root = pathlib.Path(__file__).resolve().parents[2]
        docs = (root / "docs" / "virtuals.md").read_text(encoding="utf-8")
        source = (root / "examples" / "virtuals" / "pyo3cpp_virtuals.cpp").read_text(encoding="utf-8")
        self.assertIn(source, re.findall(r"^```cpp\n(.*?)^```$", docs, re.S | re.M))

    def test_as_shown(self):
        class Double(example.Task):
            def run(self, x):
                return 2 * x

            def name(self):
                return "double"

        class Shout(example.Task):
            def run(self, x):
                return super().run(x) * 10  # Task::run, then this

            def name(self):
                return "shout"

        class Unnamed(example.Task):
            pass

        s = example.Scheduler()
        s.add(Double())
        s.add(Shout())
        self.assertEqual(watched(s.run_all, 5), ["double: 10", "shout: 60"])
        d = Double()
        self.assertEqual(d.execute(4), 8)
        self.assertEqual(d.runs, 1)
        s.add(Unnamed())
        with self.assertRaises(NotImplementedError) as cm:
            watched(s.run_all, 1)
        self.assertEqual(str(cm.exception),
                         "Task.name() is pure virtual and its subclass Unnamed does not override it")
        s.clear()


if __name__ == "__main__":
    unittest.main()
