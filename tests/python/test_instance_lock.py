"""The instance lock of `locked` classes (instance_lock.hpp) as a primitive: unwinding at exit,
aliasing within one call, any number of waiters, wait cycles, fork, and a randomized stress.
Every method of pyo3cpp_test_locks counts who is inside it; `m.violations()` is the number of
times a writer met anyone else or a reader met a writer."""
import gc
import os
import random
import re
import signal
import subprocess
import sys
import textwrap
import threading
import time
import unittest
import warnings

import pyo3cpp_test_locks as m
from thread_race import run_threads

Box, Other = m.Box, m.Other
UNDER_ASAN = "libasan" in os.environ.get("LD_PRELOAD", "")
FREE_THREADED = not getattr(sys, "_is_gil_enabled", lambda: True)()
# More stress: PYO3CPP_LOCK_STRESS=<rounds per thread> (the suite runs a few seconds' worth).
STRESS_ROUNDS = int(os.environ.get("PYO3CPP_LOCK_STRESS", "0")) or 2500


def run_script(source, timeout=60):
    return subprocess.run([sys.executable, "-c", textwrap.dedent(source)], capture_output=True,
                          text=True, timeout=timeout)


class Unwinding(unittest.TestCase):
    @unittest.skipIf(UNDER_ASAN, "a pthread_exit unwinding instrumented frames fails ASan's own check")
    def test_daemon_waiter_ended_at_exit_gives_the_lock_back(self):
        # A daemon thread holds x (sleeping detached) past the start of finalisation; another
        # waits for it, takes it as the holder is ended, and is ended itself as it re-attaches.
        # A __del__ at exit then reads x: it must not wait for ever for a thread that is gone.
        result = run_script("""
            import os, threading, time
            import pyo3cpp_test_locks as m
            x = m.Box(0)

            class ReadsAtExit:
                def __init__(self, box):
                    self.box, self.write = box, os.write   # module globals are gone by then
                    self.cycle = self    # freed by the collection Py_FinalizeEx runs once finalising
                def __del__(self):
                    self.write(1, b"read at exit %d\\n" % self.box.get())

            ReadsAtExit(x)
            threading.Thread(target=lambda: x.hold(0.5), daemon=True).start()
            time.sleep(0.1)
            for _ in range(4):
                threading.Thread(target=lambda: x.add(1), daemon=True).start()
            time.sleep(0.1)
            print("main done", flush=True)
            """, timeout=60)
        # A holder CPython ends as it re-attaches (3.11, 3.12, 3.13t here) gives x back, so the
        # __del__ reads it; one CPython parks for ever (3.14+, later 3.13 releases) never will,
        # and the __del__'s wait ends with RuntimeError instead of hanging the exit.
        self.assertEqual(result.returncode, 0, result.stderr)
        stopped = "held by a thread that the interpreter's exit stopped"
        if sys.version_info < (3, 13):
            self.assertIn("read at exit", result.stdout)
        elif sys.version_info >= (3, 14):
            self.assertIn(stopped, result.stderr)
        else:
            self.assertTrue("read at exit" in result.stdout or stopped in result.stderr,
                            result.stdout + result.stderr)


class Aliasing(unittest.TestCase):
    def setUp(self):
        m.reset_violations()

    def test_self_as_argument(self):
        w = Box(3)
        self.assertEqual(w.merge(w), 6)           # exclusive self, shared argument: one hold
        self.assertEqual(w.absorb(w), 12)         # shared self, exclusive argument
        self.assertEqual(m.read_then_write(w, w), 24)
        m.move(w, w, 5)
        self.assertEqual(w.get(), 24)
        self.assertEqual(m.total(w, w, w), 72)
        o = Other(1)
        self.assertEqual(o.merge(o), 2)
        self.assertEqual(m.violations(), 0)

    def test_aliased_call_then_others_proceed(self):
        # The shared hold of an aliased call is given back exactly once: a writer gets in after.
        w = Box(1)
        for _ in range(100):
            w.merge(w)
            m.total(w, w, Box(0))
        done = []
        t = threading.Thread(target=lambda: done.append(w.add(1)))
        t.start()
        t.join(10)
        self.assertEqual(len(done), 1)

    def test_same_instance_twice_while_writers_wait(self):
        # total(x, x, z) with z busy: the call gives x back and re-takes its locks in address
        # order, z first (z is the lower address here), then x. Each round steers a writer to
        # ask for x just after the reader has re-taken it: on 12173e6 the reader re-took x once
        # per parameter, and the second read queued behind that writer, which waited for the
        # first (reader and writer hung in the first rounds, 3.11). One hold of x per call
        # cannot be wedged. On 3.11 the writer keeps the GIL busy while the reader, holding x,
        # waits to re-attach, so it asks for x inside that window every time; without a GIL the
        # window is short, and the rounds vary the writer's delay around it.
        z, x = sorted((Box(0), Box(0)), key=id)

        def one_round(spin):
            z_held, x_held, free_z, free_x = (threading.Event() for _ in range(4))
            results = []

            def z_holder():
                z.call(lambda: (z_held.set(), free_z.wait(30)))

            def reader():
                results.append(m.total(x, x, z))

            def writer():
                x.call(lambda: (x_held.set(), free_x.wait(30)))
                end = time.perf_counter() + spin
                while time.perf_counter() < end:
                    pass
                x.add(1)

            threads = [threading.Thread(target=f, daemon=True) for f in (z_holder, reader, writer)]
            threads[0].start()
            self.assertTrue(z_held.wait(30))
            threads[1].start()
            time.sleep(0.002)       # the reader has x twice, finds z busy, gives x back, waits for z
            threads[2].start()
            self.assertTrue(x_held.wait(30))
            free_z.set()            # the reader takes z, then waits for x
            time.sleep(0.002)
            free_x.set()            # the reader re-takes x; the writer asks for it
            for t in threads:
                t.join(10)
                self.assertFalse(t.is_alive(), "the reader and the writer deadlocked on x")
            self.assertEqual(len(results), 1)

        for r in range(40):
            one_round(0.002 if not FREE_THREADED else (r % 10) * 4e-6)
        self.assertEqual(x.get(), 40)
        self.assertEqual(m.violations(), 0)

    def test_aliasing_and_upgrades_race(self):
        boxes = [Box(0) for _ in range(3)]

        def work(i):
            rng = random.Random(i)
            for _ in range(400):
                a, b = rng.choice(boxes), rng.choice(boxes)
                op = rng.randrange(4)
                if op == 0:
                    a.merge(b) if a is not b else a.merge(a)
                elif op == 1:
                    m.read_then_write(a, a)
                elif op == 2:
                    m.move(a, b, 1)
                else:
                    m.total(a, b, a)
        run_threads(6, work, timeout=120)
        self.assertEqual(m.violations(), 0)


class Waiters(unittest.TestCase):
    def setUp(self):
        m.reset_violations()

    def test_thousands_of_waiting_writers_and_readers(self):
        # 1,100 writers and 400 readers queue on one instance held by a third party; each
        # writer holds it a little while. Waiting writers were counted in 10 bits: the 1,024th
        # carried into the writer bit and two writers were seen inside at once. Each waiter must
        # wake about once: when a woken waiter gave the lock back to re-take it attached, every
        # release woke the queue again, and 2,000 + 2,000 waiters outlasted this test's deadline
        # under ASan on a loaded 2-core machine.
        writers, readers = 1100, 400
        x = Box(0)
        all_started = threading.Event()
        old = threading.stack_size(256 * 1024)
        try:
            holding = threading.Event()
            holder = threading.Thread(target=lambda: x.call(lambda: (holding.set(), all_started.wait(120))))
            holder.start()
            self.assertTrue(holding.wait(30))
            threads = [threading.Thread(target=lambda: x.hold(0.0002), daemon=True) for _ in range(writers)]
            threads += [threading.Thread(target=lambda: x.read_hold(0.0002), daemon=True) for _ in range(readers)]
            random.Random(1).shuffle(threads)
            for t in threads:
                t.start()
        finally:
            threading.stack_size(old)
        time.sleep(0.5)   # let them queue
        all_started.set()
        deadline = time.monotonic() + 300
        for t in [holder] + threads:
            t.join(max(0.1, deadline - time.monotonic()))
            self.assertFalse(t.is_alive(), "a waiter hung")
        self.assertEqual(m.violations(), 0)
        self.assertEqual(x.add(1), 1)


class WaitCycles(unittest.TestCase):
    def setUp(self):
        m.reset_violations()

    def test_opposite_nesting_raises_instead_of_deadlocking(self):
        # a.call(b.add) on one thread, b.call(a.add) on the other: each holds its outer instance
        # and wants the other's. This deadlocked (the documented limit); now the second thread
        # to wait raises RuntimeError naming both calls, and the first completes.
        for round_ in range(20):
            a, b = Box(0), Other(0)
            barrier = threading.Barrier(2)
            errors = [None, None]

            def work(i):
                inner = (lambda: (barrier.wait(10), b.add(1))) if i == 0 else (lambda: (barrier.wait(10), a.add(1)))
                try:
                    (a if i == 0 else b).call(inner)
                except RuntimeError as exc:
                    errors[i] = str(exc)
            run_threads(2, work, timeout=30)
            raised = [e for e in errors if e is not None]
            self.assertEqual(len(raised), 1, errors)
            self.assertRegex(raised[0], r"^(Box\.add\(\)|Other\.add\(\)): waiting for the instance would deadlock")
            self.assertRegex(raised[0], r"waiting in (Other|Box)\.add\(\) for an instance this thread holds")
            self.assertEqual(a.get() + b.get(), 1)
        self.assertEqual(m.violations(), 0)

    def test_cycle_through_three_threads(self):
        boxes = [Box(0), Box(0), Other(0)]
        barrier = threading.Barrier(3)
        errors = []

        def work(i):
            mine, theirs = boxes[i], boxes[(i + 1) % 3]
            try:
                mine.call(lambda: (barrier.wait(10), time.sleep(0.05 * i), theirs.add(1)))
            except RuntimeError as exc:
                errors.append(str(exc))
        run_threads(3, work, timeout=30)
        self.assertEqual(len(errors), 1, errors)
        self.assertIn("would deadlock", errors[0])
        self.assertEqual(sum(b.get() for b in boxes), 2)

    def test_failure_while_relocking_leaves_locks_consistent(self):
        # Thread A holds q (q.call) and calls move(x, y) while B holds y (y.call) and waits for
        # q: A finds y busy, gives x back and re-takes x, y in address order; waiting for y
        # closes a cycle and raises in the middle of the re-locking. Afterwards every lock is
        # free: other threads take them all, nothing was unlocked twice.
        for round_ in range(10):
            q, x, y = Box(0), Box(0), Box(0)
            a_holds_q, b_holds_y = threading.Event(), threading.Event()
            errors = []

            def work(i):
                try:
                    if i == 0:
                        def inner():
                            a_holds_q.set()
                            b_holds_y.wait(10)
                            time.sleep(0.05)   # B is waiting for q by now
                            m.move(x, y, 1)
                        q.call(inner)
                    else:
                        a_holds_q.wait(10)
                        y.call(lambda: (b_holds_y.set(), q.add(1)))
                except RuntimeError as exc:
                    errors.append(str(exc))
            run_threads(2, work, timeout=30)
            self.assertEqual(len(errors), 1, errors)
            self.assertIn("would deadlock", errors[0])
            run_threads(4, lambda i: [(x.add(1), y.add(1), q.get(), m.move(x, y, 1)) for _ in range(50)], timeout=30)
            self.assertEqual((x.get() + y.get(), q.get()), (400, 1))
        self.assertEqual(m.violations(), 0)


def _fork_load(i, x, y, stop):
    while not stop.is_set():
        if i == 0:
            x.hold(0.002)
        elif i == 1:
            y.read_hold(0.002)
        elif i == 2:
            m.move(x, y, 1)
        else:
            x.get(), y.add(1)


@unittest.skipUnless(hasattr(os, "fork"), "needs fork")
class Fork(unittest.TestCase):
    @unittest.skipIf(UNDER_ASAN, "gcc 12's ASan runtime is not fork-safe")
    def test_fork_while_other_threads_hold_instances(self):
        # 100 forks while four threads keep x and y held (exclusively and shared). In each child
        # a call on them either runs or raises the locked-at-fork RuntimeError: never hangs.
        # The workers get their objects as arguments, not through closure cells: on 3.13t a cell
        # is read under its own object lock, and one a worker held at the fork stays held in the
        # child, which then hangs in CPython (seen: PyCell_GetRef in the child's frame).
        x, y = Box(0), Box(0)
        stop = threading.Event()
        workers = [threading.Thread(target=_fork_load, args=(i, x, y, stop), daemon=True) for i in range(4)]
        for t in workers:
            t.start()
        outcomes = {"ran": 0, "locked at fork": 0}
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)   # fork with threads (3.12+)
                for _ in range(100):
                    time.sleep(0.003)
                    pid = os.fork()
                    if pid == 0:
                        code = 3
                        try:
                            try:
                                x.get(), x.add(1), y.get(), y.add(1), m.move(x, y, 1)
                                code = 0
                            except RuntimeError as exc:
                                code = 1 if "locked by another thread when the process forked" in str(exc) else 2
                        finally:
                            os._exit(code)
                    deadline = time.monotonic() + 30
                    while True:
                        done, status = os.waitpid(pid, os.WNOHANG)
                        if done:
                            break
                        if time.monotonic() > deadline:
                            os.kill(pid, signal.SIGKILL)
                            os.waitpid(pid, 0)
                            self.fail("a forked child hung on an instance lock")
                        time.sleep(0.005)
                    code = os.waitstatus_to_exitcode(status)
                    self.assertIn(code, (0, 1), "the child failed otherwise")
                    outcomes["ran" if code == 0 else "locked at fork"] += 1
        finally:
            stop.set()
            for t in workers:
                t.join(30)
        self.assertEqual(sum(outcomes.values()), 100)


class Stress(unittest.TestCase):
    def test_random_interleavings(self):
        # N threads, each a random mix: shared and exclusive calls, multi-instance calls with
        # aliasing, nested calls through callbacks (including cycles, which raise), exceptions
        # and __del__ in callbacks, gc.collect(). Checked: nobody overlaps a writer, every
        # thread finishes (watchdog), the only errors are re-entrance and wait-cycle ones (and
        # the callbacks' own), and every lock is free at the end.
        m.reset_violations()
        boxes = [Box(0) for _ in range(4)] + [Other(0) for _ in range(2)]
        unexpected = []
        expected_errors = re.compile(r"already in use by this thread|would deadlock|^boom$")

        class Touches:
            def __init__(self, box):
                self.box = box

            def __del__(self):
                try:
                    self.box.get()
                except RuntimeError:
                    pass

        def work(i):
            rng = random.Random(1000 + i)

            def op(depth):
                a, b, c = (rng.choice(boxes) for _ in range(3))
                k = rng.randrange(13)
                if k == 0:
                    a.get()
                elif k == 1:
                    a.add(1)
                elif k == 2 and type(a) is type(b) is type(c) is Box:
                    m.total(a, b, c)
                elif k == 3 and type(a) is type(b) is Box:
                    m.move(a, b, 1)
                elif k == 4 and type(a) is Box:
                    m.read_then_write(a, a if rng.random() < 0.5 else b if type(b) is Box else a)
                elif k == 5 and type(a) is type(b):
                    a.merge(b)
                elif k == 6 and depth < 3:
                    a.call(lambda: op(depth + 1))
                elif k == 7 and depth < 3:
                    a.peek(lambda: op(depth + 1))
                elif k == 8:
                    def fail():
                        raise ValueError("boom")
                    (a.call if rng.random() < 0.5 else a.peek)(fail)
                elif k == 9:
                    a.call(lambda: Touches(b))      # the __del__ runs as the callback's result dies
                elif k == 10 and rng.random() < 0.05:
                    gc.collect()
                elif k == 11:
                    a.hold(0.00005)
                else:
                    a.read_hold(0.00005)

            for _ in range(STRESS_ROUNDS):
                try:
                    op(0)
                except (RuntimeError, ValueError) as exc:
                    if not expected_errors.search(str(exc)):
                        unexpected.append(repr(exc))
        try:
            run_threads(8, work, timeout=int(os.environ.get("PYO3CPP_LOCK_STRESS_TIMEOUT", "240")))
        except AssertionError:
            print(m.dump_waiters(), file=sys.stderr)
            raise
        self.assertEqual(unexpected, [])
        self.assertEqual(m.violations(), 0)
        for b in boxes:
            self.assertIsInstance(b.get(), int)
            b.add(1)   # every lock is free again


if __name__ == "__main__":
    unittest.main()
