"""The module definition helper (include/pyo3cpp/module.hpp) seen from Python: argument binding,
conversions, CPython-style TypeErrors, exception translation, raw functions, constants and a
submodule. The module under test is tests/ext/pyo3cpp_test_module.cpp."""
import inspect
import sys
import unittest

import pyo3cpp_test_module as m


class Binding(unittest.TestCase):
    def test_positional_keyword_and_defaults(self):
        a = [1, 2, 3, 3, 4]
        self.assertEqual(m.bisect_left(a, 3), 2)
        self.assertEqual(m.bisect_left(a, 3, 3), 3)
        self.assertEqual(m.bisect_left(a, 3, lo=3), 3)
        self.assertEqual(m.bisect_left(a, 3, 0, 1), 1)
        self.assertEqual(m.bisect_left(a, 3, hi=1), 1)
        self.assertEqual(m.bisect_left(a, 3, hi=None), 2)
        self.assertEqual(m.bisect_left(x=3, a=a), 2)

    def test_matches_the_stdlib(self):
        import bisect
        a = sorted([5, 1, 9, 3, 3, 7, 0])
        for x in range(-1, 11):
            for lo in range(len(a) + 1):
                self.assertEqual(m.bisect_left(a, x, lo), bisect.bisect_left(a, x, lo))

    def test_text_signature(self):
        self.assertEqual(str(inspect.signature(m.bisect_left)), "(a, x, lo=0, hi=None)")
        self.assertEqual(m.bisect_left.__doc__,
                         "bisect_left(a: object, x: object, lo: int = 0, hi: int | None = None) -> int"
                         "\n\nReturn the index where to insert x in a, keeping it sorted.")
        self.assertEqual(m.bisect_left.__name__, "bisect_left")
        self.assertEqual(m.bisect_left.__module__, "pyo3cpp_test_module")

    def test_functions_are_builtins_that_pickle_and_have_signatures(self):
        import pickle
        # Every def()'d function: __self__ is the module (not a capsule), it pickles by name,
        # and inspect.signature works whatever its defaults are (a str default here).
        for f in (m.add, m.bisect_left, m.greet, m.scale, m.sub.triple):
            self.assertIs(pickle.loads(pickle.dumps(f)), f)
            self.assertTrue(inspect.ismodule(f.__self__))
            self.assertEqual(f.__qualname__, f.__name__)
        self.assertEqual(str(inspect.signature(m.add)), "(arg0, arg1, /)")
        self.assertEqual(str(inspect.signature(m.greet)), "(name, greeting='Hello')")
        self.assertEqual(str(inspect.signature(m.scale)), "(x, factor=2.0)")

    def test_conversions(self):
        self.assertEqual(m.add(2, 3), 5)
        self.assertEqual(m.add(True, 3), 4)  # bool is an int, as in CPython
        self.assertEqual(m.scale(2), 4.0)
        self.assertEqual(m.scale(2, factor=0.5), 1.0)
        self.assertEqual(m.greet("Bob"), "Hello, Bob!")
        self.assertEqual(m.greet("Bob", greeting="Hi"), "Hi, Bob!")
        self.assertEqual(m.greet("żółw"), "Hello, żółw!")
        self.assertEqual(m.maybe(), -1)
        self.assertEqual(m.maybe(None), -1)
        self.assertEqual(m.maybe(4), 40)
        self.assertIs(m.flag(True), False)
        self.assertEqual(m.list_len([1, 2, 3]), 3)
        obj = object()
        self.assertIs(m.identity(obj), obj)
        self.assertIs(m.identity(obj=obj), obj)
        self.assertIsNone(m.nothing())
        self.assertIsNone(m.token_only())

    def test_capturing_lambda_keeps_state(self):
        first = m.counter()
        self.assertEqual(m.counter(), first + 1)

    def test_no_reference_leaks(self):
        if not hasattr(sys, "gettotalrefcount") and not hasattr(sys, "getrefcount"):
            self.skipTest("no refcounts")
        obj = object()
        before = sys.getrefcount(obj)
        for _ in range(1000):
            m.identity(obj)
            m.bisect_left([obj], obj, 1)
            try:
                m.add(obj, 1)
            except TypeError:
                pass
        self.assertEqual(sys.getrefcount(obj), before)


class ArgumentErrors(unittest.TestCase):
    def check(self, exc, message, fn, *args, **kwargs):
        with self.assertRaises(exc) as cm:
            fn(*args, **kwargs)
        self.assertEqual(str(cm.exception), message)

    def test_wrong_types_name_function_and_argument(self):
        self.check(TypeError, "bisect_left() argument 'lo' must be int, not str",
                   m.bisect_left, [1], 2, "x")
        self.check(TypeError, "bisect_left() argument 'hi' must be int or None, not float",
                   m.bisect_left, [1], 2, hi=1.5)
        self.check(TypeError, "scale() argument 'x' must be float, not str", m.scale, "a")
        self.check(TypeError, "greet() argument 'name' must be str, not int", m.greet, 3)
        self.check(TypeError, "flag() argument 'b' must be bool, not int", m.flag, 1)
        self.check(TypeError, "list_len() argument 'items' must be list, not tuple",
                   m.list_len, (1,))
        self.check(TypeError, "add() argument 2 must be int, not str", m.add, 1, "2")

    def test_arity(self):
        self.check(TypeError, "add() takes 2 positional arguments but 3 were given",
                   m.add, 1, 2, 3)
        self.check(TypeError, "add() takes 2 positional arguments but 1 was given", m.add, 1)
        self.check(TypeError, "bisect_left() takes from 2 to 4 positional arguments but 5 were given",
                   m.bisect_left, [], 1, 0, 0, 0)
        self.check(TypeError, "nothing() takes 0 positional arguments but 1 was given",
                   m.nothing, 1)
        self.check(TypeError, "bisect_left() missing required argument 'x' (pos 2)",
                   m.bisect_left, [1])
        self.check(TypeError, "bisect_left() missing required argument 'a' (pos 1)",
                   m.bisect_left, x=1)

    def test_keywords(self):
        self.check(TypeError, "bisect_left() got an unexpected keyword argument 'key'",
                   m.bisect_left, [1], 2, key=len)
        self.check(TypeError, "bisect_left() got multiple values for argument 'lo'",
                   m.bisect_left, [1], 2, 0, lo=1)
        self.check(TypeError, "add() takes no keyword arguments", m.add, 1, b=2)

    def test_other_conversion_errors_keep_their_type(self):
        with self.assertRaises(OverflowError):
            m.add(2 ** 70, 1)
        with self.assertRaises(ValueError):
            m.bisect_left([1], 1, -1)  # raised by the function itself


class ExceptionTranslation(unittest.TestCase):
    def test_table(self):
        cases = {
            "bad_alloc": MemoryError,
            "out_of_range": IndexError,
            "invalid_argument": ValueError,
            "domain_error": ValueError,
            "overflow_error": OverflowError,
            "runtime_error": RuntimeError,
            "logic_error": RuntimeError,
            "pyerr": KeyError,
            "int": SystemError,
        }
        for kind, exc in cases.items():
            with self.subTest(kind=kind):
                with self.assertRaises(exc) as cm:
                    m.raise_cpp(kind)
                self.assertIs(type(cm.exception), exc)
        self.assertIsNone(m.raise_cpp("nothing"))

    def test_messages(self):
        for kind, text in [("out_of_range", "index 7 out of range"),
                           ("runtime_error", "something broke"),
                           ("pyerr", "'missing-key'"),
                           ("int", "unknown C++ exception"),
                           ("bad_utf8", "bad \ufffd byte")]:
            with self.subTest(kind=kind):
                with self.assertRaises(Exception) as cm:
                    m.raise_cpp(kind)
                self.assertEqual(str(cm.exception), text)


class RawAndModuleContents(unittest.TestCase):
    def test_raw_function_gets_vectorcall_arguments(self):
        self.assertEqual(m.raw_sum(), (0, 0))
        self.assertEqual(m.raw_sum(1, 2, 3), (6, 0))
        self.assertEqual(m.raw_sum(1, a=2, b=3), (6, 2))
        with self.assertRaises(TypeError):
            m.raw_sum("x")
        self.assertEqual(m.raw_sum.__doc__, "raw_sum(*args: object, **kwargs: object) -> object\n\n"
                                            "Sum of all arguments; (sum, number of keywords).")
        self.assertEqual(str(inspect.signature(m.raw_sum)), "(*args, **kwargs)")

    def test_compile_time_raw_fastcall_has_the_module_as_self(self):
        self.assertEqual(m.fast_sum(), ("pyo3cpp_test_module", 0, 0))
        self.assertEqual(m.fast_sum(1, 2, 3), ("pyo3cpp_test_module", 3, 6))
        self.assertIs(m.fast_sum.__self__, m)  # not a capsule
        self.assertEqual(m.fast_sum.__name__, "fast_sum")
        self.assertEqual(m.fast_sum.__module__, "pyo3cpp_test_module")
        self.assertEqual(m.fast_sum.__doc__, "Sum of the arguments.")
        self.assertEqual(m.fast_sum.__text_signature__, "($module, /, *args)")
        with self.assertRaisesRegex(TypeError, "takes no keyword arguments"):
            m.fast_sum(1, x=2)  # METH_FASTCALL without METH_KEYWORDS: CPython refuses
        with self.assertRaises(TypeError):
            m.fast_sum("x")  # the conversion's TypeError, translated

    def test_compile_time_raw_keywords(self):
        self.assertIsNone(m.fast_keywords(1, 2))
        self.assertEqual(m.fast_keywords(1, b=2, a=3), ("b", "a"))
        self.assertIs(m.fast_keywords.__self__, m)
        self.assertIsNone(m.fast_keywords.__doc__)

    def test_compile_time_raw_one_and_no_args(self):
        marker = object()
        self.assertIs(m.one_identity(marker), marker)
        with self.assertRaisesRegex(IndexError, "None is out of range"):
            m.one_identity(None)  # C++ exception -> IndexError
        with self.assertRaisesRegex(TypeError, r"one_identity\(\) takes exactly one argument \(0 given\)"):
            m.one_identity()
        with self.assertRaisesRegex(TypeError, r"one_identity\(\) takes exactly one argument \(2 given\)"):
            m.one_identity(1, 2)
        self.assertIs(m.no_args_module(), m)
        with self.assertRaisesRegex(TypeError, r"no_args_module\(\) takes no arguments \(1 given\)"):
            m.no_args_module(1)
        self.assertEqual(m.lambda_double(21), 42)
        self.assertIs(m.lambda_double.__self__, m)

    def test_constants_and_objects(self):
        self.assertEqual(m.ANSWER, 42)
        self.assertEqual(m.NAME, "pyo3cpp")
        self.assertEqual(m.REGISTRY, {})
        self.assertIs(m.COMPLETE, True)
        self.assertEqual(m.__doc__, "pyo3cpp's module-helper test module.")

    def test_submodule(self):
        self.assertEqual(m.sub.triple(4), 12)
        self.assertIs(m.sub.READY, True)
        self.assertEqual(m.sub.__name__, "pyo3cpp_test_module.sub")
        self.assertEqual(m.sub.triple.__module__, "pyo3cpp_test_module.sub")
        self.assertIs(sys.modules["pyo3cpp_test_module.sub"], m.sub)
        import pyo3cpp_test_module.sub as sub
        self.assertIs(sub, m.sub)

    def test_exec_ran_once(self):
        self.assertEqual(m.exec_calls(), 1)


if __name__ == "__main__":
    unittest.main()
