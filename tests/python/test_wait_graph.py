"""Wait cycles that pass through more than one extension module's instances, through an object
lock, or through a OnceLock initialiser (the wait-for graph in src/wait_graph.cpp). Each cycle
would hang for ever; the thread that closes it raises RuntimeError instead, and the other side
completes. Every test runs its threads under run_threads' watchdog."""
import os
import subprocess
import sys
import textwrap
import threading
import time
import unittest

import pyo3cpp_test_locks as a_mod
import pyo3cpp_test_wait_graph as b_mod
from thread_race import run_threads

FREE_THREADED = not getattr(sys, "_is_gil_enabled", lambda: True)()
ROUNDS = 20


def cycle_of_two(first, second, stagger=0):
    """Runs first(sync) and second(sync) on two threads; each calls sync() once it holds its
    outer lock and before it asks for the other's. stagger 0: they race from there; 1: thread 0
    asks second; 2: thread 1 asks second. Returns the two outcomes (None: completed; else the
    RuntimeError's text)."""
    barrier = threading.Barrier(2)
    outcomes = [None, None]

    def work(i):
        def sync():
            barrier.wait(10)
            if stagger == i + 1:
                time.sleep(0.02)
        try:
            (first if i == 0 else second)(sync)
        except RuntimeError as exc:
            outcomes[i] = str(exc)
    run_threads(2, work, timeout=30)
    return outcomes


class AcrossModules(unittest.TestCase):
    def test_instances_of_two_modules_in_opposite_order(self):
        # Thread 0 holds a (module A) and wants b (module B); thread 1 the opposite. Each module
        # had its own registry of waiters, so neither saw the cycle: both slept for ever.
        for round_ in range(ROUNDS):
            a, b = a_mod.Box(0), b_mod.Peer(0)
            outcomes = cycle_of_two(lambda sync: a.call(lambda: (sync(), b.add(1))),
                                    lambda sync: b.call(lambda: (sync(), a.add(1))), round_ % 3)
            raised = [o for o in outcomes if o is not None]
            self.assertEqual(len(raised), 1, outcomes)
            self.assertRegex(raised[0], r"^(Box|Peer)\.add\(\): waiting for the instance would deadlock")
            self.assertRegex(raised[0], r"waiting in (Peer|Box)\.add\(\) for an instance this thread holds")
            self.assertEqual(a.get() + b.get(), 1)

    def test_three_threads_two_modules(self):
        for round_ in range(5):
            boxes = [a_mod.Box(0), b_mod.Peer(0), a_mod.Other(0)]
            barrier = threading.Barrier(3)
            errors = []

            def work(i):
                mine, theirs = boxes[i], boxes[(i + 1) % 3]
                try:
                    mine.call(lambda: (barrier.wait(10), time.sleep(0.02 * i), theirs.add(1)))
                except RuntimeError as exc:
                    errors.append(str(exc))
            run_threads(3, work, timeout=30)
            self.assertEqual(len(errors), 1, errors)
            self.assertIn("would deadlock", errors[0])
            self.assertEqual(sum(b.get() for b in boxes), 2)


class ThroughObjectLocks(unittest.TestCase):
    def test_instance_lock_and_object_lock_in_opposite_order(self):
        # Thread 0 holds instance a and wants o's object lock; thread 1 holds o's object lock
        # and wants a. GIL builds: object locks lock nothing, so both complete.
        sides = set()
        for round_ in range(ROUNDS):
            a, o = a_mod.Box(0), []
            done = []
            outcomes = cycle_of_two(
                lambda sync: a.call(lambda: (sync(), b_mod.with_object_lock(o, lambda: done.append(0)))),
                lambda sync: b_mod.with_object_lock(o, lambda: (sync(), a.add(1), done.append(1))),
                round_ % 3)
            raised = [x for x in outcomes if x is not None]
            if not FREE_THREADED:
                self.assertEqual(raised, [])
                self.assertEqual(sorted(done), [0, 1])
                continue
            self.assertEqual(len(raised), 1, outcomes)
            self.assertEqual(len(done), 1, done)
            sides.add(0 if outcomes[0] is not None else 1)
            self.assertIn("would deadlock", raised[0])
            if outcomes[0] is not None:   # thread 0 closed the cycle, waiting for the object lock
                self.assertRegex(raised[0], r"^waiting for the object lock of a list object would deadlock")
                self.assertIn("waiting in Box.add() for an instance this thread holds", raised[0])
            else:
                self.assertRegex(raised[0], r"^Box\.add\(\): waiting for the instance would deadlock")
                self.assertIn("waiting for the object lock of a list object", raised[0])
        if FREE_THREADED:
            self.assertEqual(sides, {0, 1})   # the cycle was closed from either side

    def test_object_lock_taken_after_a_failed_wait(self):
        # The failed wait left the object lock as it found it: others take it at once.
        if not FREE_THREADED:
            self.skipTest("object locks lock nothing with the GIL")
        a, o = a_mod.Box(0), []
        cycle_of_two(lambda sync: a.call(lambda: (sync(), b_mod.with_object_lock(o, lambda: None))),
                     lambda sync: b_mod.with_object_lock(o, lambda: (sync(), a.add(1))))
        run_threads(4, lambda i: [b_mod.with_object_lock(o, lambda: a.add(1)) for _ in range(50)],
                    timeout=30)
        self.assertGreaterEqual(a.get(), 200)


class ThroughOnceLock(unittest.TestCase):
    def test_initialiser_waits_for_an_instance_the_waiter_holds(self):
        # Thread 0 runs the cell's initialiser, which wants instance a; thread 1 holds a and
        # calls get_or_init, so waits for thread 0's initialiser. Either order of the two waits.
        for round_ in range(ROUNDS):
            b_mod.once_reset()
            a = a_mod.Box(0)
            in_init, holds_a = threading.Event(), threading.Event()

            def initialiser():
                in_init.set()
                holds_a.wait(10)
                if round_ % 2:
                    time.sleep(0.02)   # thread 1 waits for the cell first
                a.add(1)
                return "made by the initialiser"

            def first(sync):
                result.append(b_mod.once_get_or_init(initialiser))

            def second(sync):
                in_init.wait(10)

                def holding_a():
                    holds_a.set()
                    if not round_ % 2:
                        time.sleep(0.02)   # thread 0 waits for a first
                    result.append(b_mod.once_get_or_init(lambda: "made by the holder of a"))
                a.call(holding_a)
            result = []
            outcomes = cycle_of_two(first, second)
            raised = [x for x in outcomes if x is not None]
            self.assertEqual(len(raised), 1, outcomes)
            self.assertIn("would deadlock", raised[0])
            self.assertIn("wait_graph.cell", raised[0])
            if outcomes[0] is not None:   # the initialiser closed the cycle waiting for a
                self.assertRegex(raised[0], r"^Box\.add\(\): waiting for the instance would deadlock")
                self.assertEqual(result, ["made by the holder of a"])
            else:
                self.assertRegex(raised[0], r"^waiting for once-cell 'wait_graph\.cell' would deadlock")
                self.assertEqual(result, ["made by the initialiser"])
        b_mod.once_reset()


class AfterFork(unittest.TestCase):
    def test_child_of_a_fork_among_waiters_sees_only_its_own_waits(self):
        # Forks while other threads hold and wait for instances of both modules (and an object
        # lock): the child's graph must hold none of their waits (their threads are gone) and
        # still work: a new cycle in the child raises once, and nothing hangs.
        script = textwrap.dedent("""
            import os, sys, threading, warnings
            import pyo3cpp_test_locks as a_mod, pyo3cpp_test_wait_graph as b_mod
            from test_wait_graph import cycle_of_two
            warnings.simplefilter("ignore", DeprecationWarning)   # fork with threads
            x, y, o, stop = a_mod.Box(0), b_mod.Peer(0), [], threading.Event()

            def load(i):
                while not stop.is_set():
                    try:
                        if i == 0:
                            x.hold(0.002)
                        elif i == 1:
                            x.call(lambda: y.add(1))
                        else:
                            b_mod.with_object_lock(o, lambda: y.call(lambda: x.add(1)) if i == 2 else None)
                    except RuntimeError:   # x.call(y...) racing y.call(x...): a cycle, refused
                        pass
            threads = [threading.Thread(target=load, args=(i,), daemon=True) for i in range(4)]
            for t in threads:
                t.start()
            for _ in range(20):
                pid = os.fork()
                if pid == 0:
                    a, b = a_mod.Box(0), b_mod.Peer(0)
                    outcomes = cycle_of_two(lambda sync: a.call(lambda: (sync(), b.add(1))),
                                            lambda sync: b.call(lambda: (sync(), a.add(1))))
                    os._exit(0 if sum(o is not None for o in outcomes) == 1 else 3)
                _, status = os.waitpid(pid, 0)
                if os.waitstatus_to_exitcode(status) != 0:
                    print("child failed:", status, flush=True)
                    sys.exit(1)
            stop.set()
            print("ok", flush=True)
            """)
        here = os.path.dirname(os.path.abspath(__file__))   # the child imports cycle_of_two from here
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([here, os.environ.get("PYTHONPATH", "")]))
        result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                                env=env)
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        self.assertIn("ok", result.stdout)


if __name__ == "__main__":
    unittest.main()
