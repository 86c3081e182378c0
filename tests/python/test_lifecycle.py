"""The runtime at the edges of a process's life (issue: never crash, never hang).

Shutdown: a daemon or foreign thread that is inside a library wait when finalisation starts is
ended by CPython with a forced unwind when it re-attaches; the process must still exit 0.
Locks: a queued __del__ that takes the lock its thread is re-acquiring must not deadlock.
fork: the child of a process whose threads are busy inside the library can use all of it.
Subinterpreters: importing a pyo3cpp module in one is an ImportError that says why.

Every scenario runs in a child process under a timeout, so a hang fails instead of stalling."""
import os
import subprocess
import sys
import textwrap
import unittest
from concurrent.futures import ThreadPoolExecutor

FREE_THREADED = bool(__import__("sysconfig").get_config_var("Py_GIL_DISABLED"))

# Under the ASan run (scripts/test preloads gcc 12's libasan) two things break inside ASan itself,
# not in the code under test: its allocator is not fork-safe (a child's first allocation waits
# for an allocator lock a parent thread held at the fork: seen with gdb), and a pthread_exit
# unwinding instrumented frames fails ASan's own check (asan_thread.cpp:371,
# kCurrentStackFrameMagic). Those scenarios run in the plain runs on both interpreters.
UNDER_ASAN = "libasan" in os.environ.get("LD_PRELOAD", "")
ASAN_REASON = "gcc 12's ASan runtime is not fork-safe and fails its own check on pthread_exit unwinds"


def run_script(source, timeout=60):
    return subprocess.run([sys.executable, "-c", textwrap.dedent(source)], capture_output=True,
                          text=True, timeout=timeout)


# Finalisation kept busy by a module global whose __del__ sleeps (the GIL released): daemon
# threads that wake meanwhile re-attach while the interpreter is finalising.
BUSY_FINALISATION = """
import threading, time
class SlowToDie:
    def __del__(self):
        time.sleep(0.6)
keep_finalisation_busy = SlowToDie()
"""

SHUTDOWN_SCENARIOS = {
    # The reported abort: a daemon thread sleeping in quickstart.nap (inside detach).
    "nap": """
import quickstart
threading.Thread(target=quickstart.nap, args=(0.25,), daemon=True).start()
time.sleep(0.05)
""",
    # One daemon holds the Mutex across a detached nap; another is blocked waiting for it.
    "mutex": """
import pyo3cpp_test_lifecycle as m
threading.Thread(target=m.hold_mutex, args=(0.25,), daemon=True).start()
while not m.mutex_is_locked(): time.sleep(0.001)
threading.Thread(target=m.lock_mutex, daemon=True).start()
time.sleep(0.05)
""",
    # The same with a std::mutex through lock_detached.
    "lock_detached": """
import pyo3cpp_test_lifecycle as m
threading.Thread(target=m.hold_std_mutex, args=(0.25,), daemon=True).start()
time.sleep(0.05)
threading.Thread(target=m.lock_std_mutex, daemon=True).start()
time.sleep(0.05)
""",
    # One daemon runs a OnceLock initialiser that naps detached; another waits for it.
    "once_lock": """
import pyo3cpp_test_lifecycle as m
threading.Thread(target=m.slow_once, args=(0.25,), daemon=True).start()
time.sleep(0.05)
threading.Thread(target=m.slow_once, args=(0.25,), daemon=True).start()
time.sleep(0.05)
""",
    # One daemon holds an object lock across a detached nap; another waits for it.
    "object_lock": """
import pyo3cpp_test_lifecycle as m
shared = []
threading.Thread(target=m.hold_object_lock, args=(shared, 0.25), daemon=True).start()
time.sleep(0.05)
threading.Thread(target=m.hold_object_lock, args=(shared, 0.0), daemon=True).start()
time.sleep(0.05)
""",
    # Threads Python never created, napping detached in a loop.
    "foreign_thread": """
import pyo3cpp_test_lifecycle as m
for _ in range(3):
    m.start_foreign_napper(0.1, 100)
time.sleep(0.05)
""",
}


@unittest.skipIf(UNDER_ASAN, ASAN_REASON)
class ShutdownTest(unittest.TestCase):
    RUNS = 20

    def check_scenario(self, name):
        script = BUSY_FINALISATION + SHUTDOWN_SCENARIOS[name]
        with ThreadPoolExecutor(max_workers=4) as pool:
            results = list(pool.map(lambda _: run_script(script), range(self.RUNS)))
        for result in results:
            self.assertEqual(result.returncode, 0,
                             f"{name}: exit {result.returncode}\n{result.stderr[-2000:]}")
            self.assertNotIn("terminate", result.stderr)
            self.assertNotIn("FATAL", result.stderr)

    def test_daemon_in_detach(self):
        self.check_scenario("nap")

    def test_daemon_blocked_on_mutex(self):
        self.check_scenario("mutex")

    def test_daemon_blocked_in_lock_detached(self):
        self.check_scenario("lock_detached")

    def test_daemon_waiting_on_once_lock(self):
        self.check_scenario("once_lock")

    def test_daemon_waiting_on_object_lock(self):
        self.check_scenario("object_lock")

    def test_foreign_threads_in_detach(self):
        self.check_scenario("foreign_thread")


class NoPythonCodeUnderALibraryLock(unittest.TestCase):
    """A queued object's __del__ takes the lock that its thread is re-acquiring after a wait.
    Re-acquiring must not run the pool (the __del__ would deadlock against its own thread)."""

    SCRIPT = """
import pyo3cpp_test_lifecycle as m
hold, lock = {hold}, {lock}
events = []
class TakesTheLock:
    def __del__(self):
        lock()
        events.append("del")
hold(0.2)                             # a foreign thread, never attached, holds the lock
m.drop_on_foreign_thread(TakesTheLock())
assert m.pool_pending() >= 1, m.pool_pending()
lock()                                # contended: waits detached, re-acquires, returns
events.append("locked")
m.join_foreign_holder()
m.drain_pool()                        # no lock held: the queued __del__ runs here
assert events == ["locked", "del"], events
print("ok")
"""

    def check(self, hold, lock):
        result = run_script(self.SCRIPT.format(hold=hold, lock=lock), timeout=30)
        self.assertEqual(result.returncode, 0, result.stderr[-2000:])
        self.assertEqual(result.stdout.strip(), "ok")

    def test_mutex(self):
        self.check("m.hold_mutex_foreign", "m.lock_mutex")

    def test_lock_detached(self):
        self.check("m.hold_std_mutex_foreign", "m.lock_std_mutex")


@unittest.skipIf(UNDER_ASAN, ASAN_REASON)
class ForkTest(unittest.TestCase):
    """os.fork() 100 times while four threads attach from foreign threads, drop references
    detached, hold an object lock and run a once-cell initialiser; every child runs the
    library's checks and exits through normal finalisation, within a watchdog."""

    SCRIPT = """
import os, sys, threading, time, warnings
import pyo3cpp_test_lifecycle as m
warnings.simplefilter("ignore", DeprecationWarning)   # fork() with threads: that is the point
stop = threading.Event()
def busy(kind):
    while not stop.is_set():
        m.churn(kind, 20)
workers = [threading.Thread(target=busy, args=(k,), daemon=True) for k in range(4)]
for w in workers: w.start()
time.sleep(0.05)
hung = failed = 0
for i in range({forks}):
    pid = os.fork()
    if pid == 0:
        passed = m.child_checks()
        sys.exit(0 if passed == m.CHILD_CHECKS else 3)
    deadline = time.time() + 20
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            if os.waitstatus_to_exitcode(status) != 0:
                failed += 1
                print("child", i, "exit", os.waitstatus_to_exitcode(status), file=sys.stderr)
            break
        if time.time() > deadline:
            hung += 1
            os.kill(pid, 9); os.waitpid(pid, 0)
            break
        time.sleep(0.002)
stop.set()
for w in workers: w.join(timeout=30)
print(hung, failed)
"""

    def test_fork_with_busy_threads(self):
        result = run_script(self.SCRIPT.format(forks=100), timeout=600)
        self.assertEqual(result.returncode, 0, result.stderr[-3000:])
        self.assertEqual(result.stdout.split()[-2:], ["0", "0"],
                         "hung / failed children\n" + result.stderr[-3000:])


class SubinterpreterTest(unittest.TestCase):
    """Until the runtime's state is per interpreter, importing a pyo3cpp module in a
    subinterpreter is refused with an ImportError (the C++ helper and a C module alike)."""

    def import_in_subinterpreter(self, module):
        import tempfile
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "result.txt")
            code = textwrap.dedent(f"""
                try:
                    import {module}
                    outcome = "imported"
                except ImportError as exc:
                    outcome = "ImportError: " + str(exc)
                except BaseException as exc:
                    outcome = type(exc).__name__ + ": " + str(exc)
                with open({out!r}, "w") as f:
                    f.write(outcome)
                """)
            script = textwrap.dedent(f"""
                code = {code!r}
                try:
                    import _interpreters as interpreters
                    interp = interpreters.create()
                    interpreters.exec(interp, code)
                    interpreters.destroy(interp)
                except ImportError:
                    import _xxsubinterpreters as interpreters
                    interp = interpreters.create()
                    interpreters.run_string(interp, code)
                    interpreters.destroy(interp)
                """)
            result = run_script(script)
            self.assertEqual(result.returncode, 0, result.stderr[-2000:])
            with open(out) as f:
                return f.read()

    def test_cpp_module_refused(self):
        outcome = self.import_in_subinterpreter("quickstart")
        self.assertTrue(outcome.startswith("ImportError: "), outcome)
        self.assertIn("subinterpreter", outcome)

    def test_c_module_refused(self):
        outcome = self.import_in_subinterpreter("quickstart_c")
        self.assertTrue(outcome.startswith("ImportError: "), outcome)
        self.assertIn("subinterpreter", outcome)

    def test_main_interpreter_still_imports(self):
        result = run_script("import quickstart, quickstart_c; print('ok')")
        self.assertEqual(result.stdout.strip(), "ok", result.stderr)


if __name__ == "__main__":
    unittest.main()
