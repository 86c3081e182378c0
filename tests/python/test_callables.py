"""Callbacks both ways (callable.hpp): Callable<R(A...)> and std::function parameters (the
callable() check, conversions, exceptions carried through C++), std::function results as
built-ins with a signature, calls from C++ threads that are not attached, a held callable
replaced while 8 threads call it (for real on a free-threaded build with the GIL off), and
callables released off-thread and after finalisation. Also the example of docs/callbacks.md."""
import gc
import inspect
import os
import subprocess
import sys
import textwrap
import threading
import unittest
import weakref

import pyo3cpp_test_callables as m
from thread_race import run_threads, watched

FREE_THREADED = not getattr(sys, "_is_gil_enabled", lambda: True)()
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


class Counted:
    """A callable object that counts its calls (thread-safe) and computes 2x + 1."""

    def __init__(self):
        self.calls = 0
        self.lock = threading.Lock()

    def __call__(self, x):
        with self.lock:
            self.calls += 1
        return 2 * x + 1


class PythonIntoCpp(unittest.TestCase):
    def test_calls_convert_arguments_and_result(self):
        self.assertEqual(m.apply(lambda x: x * 2, 21), 42)
        self.assertEqual(m.apply_std(lambda x: x + 1, 1), 2)
        self.assertEqual(m.join(lambda s, n: s * n, "ab"), "abab")
        self.assertEqual(m.call_list(lambda: (1, 2)), [1, 2])   # any iterable, as a parameter
        seen = []
        m.call_void(seen.append)
        self.assertEqual(seen, [[1, 2, 3]])
        marker = object()
        self.assertIs(m.call_object(lambda o: o, marker), marker)
        self.assertEqual(m.call_twice_with_token(lambda x: x + 1), 3)

    def test_any_callable_is_accepted(self):
        class WithCall:
            def __call__(self, x):
                return -x
        self.assertEqual(m.apply(WithCall(), 3), -3)
        self.assertEqual(m.apply(abs, -3), 3)                  # a built-in
        self.assertEqual(m.apply(int, 7), 7)                   # a type
        self.assertEqual(m.apply_std(m.adder(1), 1), 2)        # one of ours

    def test_optional(self):
        self.assertEqual(m.apply_optional(None, 1), -1)
        self.assertEqual(m.apply_optional(lambda x: x, 5), 5)

    def test_not_callable_is_a_type_error_naming_the_argument(self):
        cases = [
            (lambda: m.apply(1, 2), "apply() argument 'f' must be callable, not int"),
            (lambda: m.apply_std("x", 2), "apply_std() argument 'f' must be callable, not str"),
            (lambda: m.apply_optional(1.5, 2),
             "apply_optional() argument 'f' must be callable or None, not float"),
            (lambda: m.apply(None, 2), "apply() argument 'f' must be callable, not None"),
        ]
        for call, message in cases:
            with self.assertRaises(TypeError) as caught:
                call()
            self.assertEqual(str(caught.exception), message)

    def test_a_result_that_does_not_convert_names_the_callee(self):
        def on_tick(x):
            return "no"
        with self.assertRaises(TypeError) as caught:
            m.apply(on_tick, 1)
        self.assertEqual(str(caught.exception), "PythonIntoCpp.test_a_result_that_does_not_convert_"
                         "names_the_callee.<locals>.on_tick() result must be int, not str")
        with self.assertRaises(OverflowError) as caught:
            m.apply(lambda x: 2 ** 70, 1)
        self.assertIn(".<lambda>() result must be in range(-9223372036854775808, ", str(caught.exception))
        with self.assertRaises(TypeError) as caught:
            m.call_list(lambda: [1, "x"])
        self.assertTrue(str(caught.exception).endswith(".<lambda>() result: item 1 must be int, not str"))

    def test_a_python_exception_comes_back_as_itself(self):
        class Custom(Exception):
            pass
        error = Custom("boom")

        def raising(x):
            raise error
        for call in (m.apply, m.apply_std, m.call_on_thread):
            with self.assertRaises(Custom) as caught:
                watched(call, raising, 1)  # re-raised here as it was raised in the worker
            self.assertIs(caught.exception, error)
        # through a C++ function composed of a Python one
        with self.assertRaises(Custom) as caught:
            m.compose(m.adder(1), raising)(1)
        self.assertIs(caught.exception, error)

    def test_roundtrip_gives_back_the_original_object(self):
        f = lambda x: x  # noqa: E731
        self.assertIs(m.roundtrip(f), f)
        self.assertIs(m.roundtrip_callable(f), f)
        g = m.roundtrip(m.adder(4))  # a C++ built-in comes back around the same std::function
        self.assertEqual(g(1), 5)

    def test_no_reference_is_leaked(self):
        f = lambda x: x  # noqa: E731
        before = sys.getrefcount(f)
        for _ in range(100):
            m.apply(f, 1)
            m.apply_std(f, 1)
            m.roundtrip(f)
        self.assertEqual(sys.getrefcount(f), before)


class CppIntoPython(unittest.TestCase):
    def test_a_builtin_with_a_signature(self):
        add5 = m.adder(5)
        self.assertEqual(add5(1), 6)
        self.assertIsInstance(add5, type(len))  # builtin_function_or_method
        self.assertEqual(str(inspect.signature(add5)), "(arg0, /)")
        self.assertEqual(add5.__text_signature__, "(arg0, /)")
        self.assertEqual(add5.__doc__, "function(arg0: int, /) -> int")
        j = m.joiner()
        self.assertEqual(str(inspect.signature(j)), "(arg0, arg1, arg2=None, /)")
        self.assertEqual(j.__doc__, "function(arg0: str, arg1: int, arg2: float | None = None, /) -> str")
        self.assertEqual(j("x", 3), "x3-")
        self.assertEqual(j("x", 3, 1.0), "x3+")

    def test_call_errors_in_cpythons_words(self):
        add5 = m.adder(5)
        cases = [
            (lambda: add5("x"), TypeError, "function() argument 1 must be int, not str"),
            (lambda: add5(1, 2), TypeError, "function() takes 1 positional argument but 2 were given"),
            (lambda: add5(), TypeError, "function() takes 1 positional argument but 0 were given"),
            (lambda: add5(arg0=1), TypeError, "function() takes no keyword arguments"),
            (lambda: m.thrower()(), ValueError, "from C++"),
        ]
        for call, kind, message in cases:
            with self.assertRaises(kind) as caught:
                call()
            self.assertEqual(str(caught.exception), message)

    def test_bound_classes_cross_both_ways(self):
        add = m.tally_adder()
        t = m.Tally()
        add(t, 5)
        add(t, 2)
        self.assertEqual(t.total, 7)  # by reference: the instance itself
        self.assertEqual(add.__doc__, "function(arg0: Tally, arg1: int, /) -> None")
        with self.assertRaises(TypeError) as caught:
            add(1, 2)
        self.assertEqual(str(caught.exception), "function() argument 1 must be Tally, not int")
        self.assertEqual(m.read_tally(lambda tally: tally.total + 1), 42)  # a copy to Python

    def test_distinct_functions_are_distinct(self):
        a, b = m.adder(1), m.adder(1)
        self.assertNotEqual(a, b)
        self.assertEqual(a, a)
        self.assertEqual(hash(a), hash(a))

    def test_empty_gives_none(self):
        self.assertIsNone(m.empty_function())
        self.assertIsNone(m.empty_callable())

    def test_the_function_releases_what_it_holds(self):
        class Target:
            def __call__(self, x):
                return x
        t = Target()
        ref = weakref.ref(t)
        composed = m.compose(t, t)
        del t
        self.assertEqual(composed(3), 3)
        self.assertIsNotNone(ref())
        del composed
        gc.collect()
        self.assertIsNone(ref())


class Threads(unittest.TestCase):
    def test_called_from_a_cpp_thread(self):
        self.assertEqual(watched(m.call_on_thread, lambda x: x * 3, 5), 15)

    def test_dropped_on_a_thread_that_is_not_attached(self):
        target = Counted()
        ref = weakref.ref(target)
        watched(m.drop_on_thread, target)
        del target
        gc.collect()  # the pooled decref was applied when this thread re-attached
        self.assertIsNone(ref())

    def test_cpp_threads_call_the_stored_callback(self):
        target = Counted()
        m.store(target)
        threads, calls = 4, 200
        n = threads * calls
        self.assertEqual(watched(m.fire_on_threads, threads, calls), n * (n - 1) + n)  # sum of 2x + 1
        self.assertEqual(target.calls, n)

    def test_eight_threads_call_and_replace_the_held_callable(self):
        rounds = 300 if FREE_THREADED else 100
        made = []
        made_lock = threading.Lock()
        wrong = []
        fired = [0] * 8

        def fresh():
            c = Counted()
            with made_lock:
                made.append(c)
            return c
        m.store(fresh())

        def worker(index):
            for i in range(rounds):
                if (i + index) % 4 == 0:
                    m.store(fresh())
                else:
                    x = index * rounds + i
                    r = m.fire(x)
                    fired[index] += 1
                    if r != 2 * x + 1:
                        wrong.append((x, r))
                if index == 0 and i % 50 == 0:
                    # C++ threads calling the same stored callable at the same time
                    total = m.fire_on_threads(2, 5)
                    fired[index] += 10
                    if total != sum(2 * x + 1 for x in range(10)):
                        wrong.append(("threads", total))

        run_threads(8, worker, timeout=120)
        self.assertEqual(wrong, [])
        self.assertEqual(sum(c.calls for c in made), sum(fired))


def run_script(source, timeout=60):
    return subprocess.run([sys.executable, "-c", textwrap.dedent(source)], capture_output=True,
                          text=True, timeout=timeout)


class Finalisation(unittest.TestCase):
    def test_a_callable_outliving_the_interpreter_is_never_touched(self):
        # A C++ thread waits for exit (after Py_FinalizeEx), then calls (refused) and drops the
        # last reference; a std::function in a C++ static is destroyed at exit too.
        result = run_script("""
            import pyo3cpp_test_callables as m
            class Target:
                def __call__(self, x):
                    return x
                def __del__(self):
                    print("__del__ ran")
            m.call_after_exit(Target())
            m.keep_forever(Target())
            m.keep_forever(m.adder(1))  # the first one is released now
            print("exiting")
        """)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stdout.split("\n"),
                         ["__del__ ran", "exiting", "refused after exit", "dropped after exit", ""])


class DocsExample(unittest.TestCase):
    def test_the_page_shows_the_example_verbatim(self):
        with open(os.path.join(ROOT, "examples", "callbacks", "pyo3cpp_callbacks.cpp")) as f:
            source = f.read()
        with open(os.path.join(ROOT, "docs", "callbacks.md")) as f:
            page = f.read()
        self.assertIn("```cpp\n" + source + "```\n", page)

    def test_the_example_works(self):
        try:
            import pyo3cpp_callbacks as cb
        except ImportError:
            self.skipTest("the examples are not built (-Dexamples=false)")
        self.assertEqual(cb.apply_twice(lambda x: x * 3, 2), 18)
        double = cb.scaler(2.0)
        self.assertEqual(double(1.5), 3.0)
        self.assertEqual(str(inspect.signature(double)), "(arg0, /)")
        self.assertEqual(cb.transform(["a", "b"], str.upper), ["A", "B"])
        self.assertEqual(cb.on_thread(lambda x: x + 1, 41), 42)
        with self.assertRaises(TypeError) as caught:
            cb.apply_twice(3, 2)
        self.assertEqual(str(caught.exception), "apply_twice() argument 'f' must be callable, not int")
        with self.assertRaises(ZeroDivisionError):
            cb.on_thread(lambda x: x // 0, 1)


if __name__ == "__main__":
    unittest.main()
