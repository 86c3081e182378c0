"""A class held by std::shared_ptr with a trampoline (docs/virtuals.md, docs/ownership.md): a
Python subclass's instance holds the trampoline on the heap; a std::shared_ptr handed to C++
keeps the Python object alive, so C++ calls the override after Python let go, from threads
Python never saw, and releases the last one there (the decref goes through the deferred pool);
returned to Python it is the same object; with no C++ owner the object is freed as any other.
The thread races run for real on a free-threaded build with the GIL off, under a watchdog."""
import gc
import os
import subprocess
import sys
import unittest
import weakref

import pyo3cpp_test_shared_virtuals as m
from thread_race import watched


class Scaled(m.Task):
    def __init__(self, factor):
        super().__init__(0)
        self.factor = factor

    def run(self, x):
        return self.factor * x


class Plus(m.Task):
    def run(self, x):
        return super().run(x) + 100  # the C++ implementation


class Seven(m.Job):
    def work(self):
        return 7


class Construction(unittest.TestCase):
    def tearDown(self):
        m.drop_kept()

    def test_python_subclass_holds_the_trampoline(self):
        s = Scaled(3)
        self.assertTrue(m.is_trampoline(s))
        self.assertEqual(m.run_task(s, 5), 15)
        self.assertEqual(m.run_task(Plus(2), 1), 103)

    def test_plain_task_holds_the_task(self):
        t = m.Task(4)
        self.assertFalse(m.is_trampoline(t))
        self.assertEqual(m.run_task(t, 1), 5)
        self.assertEqual(t.run(1), 5)

    def test_abstract_class_holds_the_trampoline(self):
        j = m.Job()
        self.assertTrue(m.is_job_trampoline(j))
        with self.assertRaisesRegex(NotImplementedError, r"Job\.work\(\) is pure virtual and Job is abstract"):
            m.work_of(j)
        self.assertEqual(m.work_of(Seven()), 7)

    def test_factory_init(self):
        class Negated(m.Stage):
            def apply(self, x):
                return -super().apply(x)

        self.assertEqual(m.apply_stage(m.Stage(3), 2), (6, False))
        self.assertEqual(m.apply_stage(Negated(3), 2), (-6, True))

    def test_unique_ptr_cannot_take_a_trampoline(self):
        s = Scaled(2)
        with self.assertRaisesRegex(ValueError, r"calls its Python methods back"):
            m.take(s)
        self.assertEqual(s.run(4), 8)  # still usable
        self.assertEqual(m.take(m.Task(9)), 9)


class CppKeepsThePythonObject(unittest.TestCase):
    def tearDown(self):
        m.drop_kept()
        gc.collect()

    def test_override_after_python_let_go_and_identity(self):
        s = Scaled(3)
        s.note = "kept"
        watch = weakref.ref(s)
        i = m.keep(s)
        del s
        gc.collect()
        self.assertIsNotNone(watch())
        self.assertEqual(m.run_kept(i, 5), 15)
        back = m.kept(i)
        self.assertIs(back, watch())
        self.assertEqual(back.note, "kept")
        del back
        dead = m.trampolines_dead()
        m.drop_kept()
        gc.collect()
        self.assertIsNone(watch())
        self.assertEqual(m.trampolines_dead(), dead + 1)

    def test_no_cycle_when_python_alone_holds_it(self):
        dead = m.trampolines_dead()
        s = Scaled(2)
        self.assertEqual(m.run_task(s, 4), 8)  # C++ shared it for the call, then let go
        watch = weakref.ref(s)
        del s
        gc.collect()
        self.assertIsNone(watch())
        self.assertEqual(m.trampolines_dead(), dead + 1)
        self.assertEqual(gc.garbage, [])

    def test_plain_task_is_not_kept_by_cpp(self):
        t = m.Task(1)
        before = sys.getrefcount(t)
        i = m.keep(t)
        self.assertEqual(sys.getrefcount(t), before)  # C++ shares the Task, not the Python object
        del t
        gc.collect()
        self.assertEqual(m.run_kept(i, 1), 2)

    def test_foreign_thread_calls_and_releases_the_last_owner(self):
        dead = m.trampolines_dead()
        s = Scaled(3)
        watch = weakref.ref(s)
        m.keep(s)
        m.keep(Plus(1))
        del s
        gc.collect()
        self.assertEqual(watched(m.run_and_drop_kept_on_thread, 5), 15 + 106)
        gc.collect()  # the pool was drained when the caller re-attached
        self.assertIsNone(watch())
        self.assertEqual(m.trampolines_dead(), dead + 2)

    def test_threads_race_calls_and_the_last_release(self):
        threads, rounds = 8, 50
        for _ in range(20):
            dead = m.trampolines_dead()
            objects = [Scaled(2), Plus(0)]
            watches = [weakref.ref(o) for o in objects]
            for o in objects:
                m.keep(o)
            del objects, o
            total = watched(m.race_kept_on_threads, threads, rounds, 3)
            self.assertEqual(total, threads * rounds * (6 + 103))
            gc.collect()
            self.assertEqual([w() for w in watches], [None, None])
            self.assertEqual(m.trampolines_dead(), dead + 2)

    def test_last_owner_after_finalisation(self):
        code = ("import pyo3cpp_test_shared_virtuals as m\n"
                "class Sub(m.Task):\n"
                "    def run(self, x):\n"
                "        return x + 1\n"
                "s = Sub()\n"
                "s.payload = [1, 2, 3]\n"
                "m.keep_forever(s)\n"
                "assert m.run_task(s, 1) == 2\n")
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                             env=dict(os.environ))
        self.assertEqual(out.returncode, 0, out.stderr)


if __name__ == "__main__":
    unittest.main()
