"""The function-binding layer from Python: signatures, built-in behaviour (pickle, copy, help,
ProcessPoolExecutor), every entry form, keyword rules, custom exceptions, enums, references."""
import concurrent.futures
import copy
import enum
import inspect
import multiprocessing
import pickle
import pydoc
import sys
import unittest

import pyo3cpp_test_bindings as m

# One of each entry form: shared entry (function pointer), def<&fn>, captureless lambda,
# builtin_method (past the runtime's 1024 shared entries), a submodule's function.
ENTRY_FORMS = {
    "add": m.add, "twice": m.twice, "lambda_add": m.lambda_add, "fn_1099": m.fn_1099,
    "sub.triple": m.sub.triple,
}


class Signatures(unittest.TestCase):
    def test_every_kind_and_default(self):
        expected = {
            "add": "(arg0, arg1, /)",
            "twice": "(x)",
            "describe": "(text, ratio=0.5, limit=None, sep=', ', loud=False)",
            "quoted": "(s='it\\'s \"q\"\\n\\\\')",
            "floats": "(a=1e+100, b=2.0, c=-0.25)",
            "find": "(hay, needle, *, start=0)",
            "norm": "(x, y, /)",
            "mixed": "(a, /, b, *, c)",
            "collect": "(prefix, *args, flag=False, **kwargs)",
            "only_kwargs": "(**kwargs)",
            "fn_1099": "(a, b=1)",
        }
        for name, text in expected.items():
            with self.subTest(name):
                self.assertEqual(str(inspect.signature(getattr(m, name))), text)

    def test_defaults_are_the_values(self):
        sig = inspect.signature(m.quoted)
        self.assertEqual(sig.parameters["s"].default, 'it\'s "q"\n\\')
        self.assertEqual(m.quoted(), 'it\'s "q"\n\\')
        floats = inspect.signature(m.floats).parameters
        self.assertEqual([floats[k].default for k in "abc"], [1e100, 2.0, -0.25])
        self.assertIsInstance(floats["b"].default, float)
        kinds = {p.name: p.kind for p in inspect.signature(m.mixed).parameters.values()}
        P = inspect.Parameter
        self.assertEqual(kinds, {"a": P.POSITIONAL_ONLY, "b": P.POSITIONAL_OR_KEYWORD,
                                 "c": P.KEYWORD_ONLY})

    def test_help_shows_signature_and_doc(self):
        text = pydoc.render_doc(m.describe, renderer=pydoc.plaintext)
        self.assertIn("describe(text, ratio=0.5, limit=None, sep=', ', loud=False)", text)
        self.assertIn("Describe text.", text)
        self.assertIn("built-in function", text)
        # The typed signature leads the doc (help() shows it under the untyped one).
        self.assertIn("describe(text: str, ratio: float = 0.5, ", text)
        self.assertTrue(m.describe.__doc__.startswith("describe(text: str, ratio: float = 0.5, "))
        self.assertTrue(m.describe.__doc__.endswith(") -> str\n\nDescribe text."))
        self.assertTrue(m.fn_1099.__doc__.endswith("\n\nAdds."))  # a builtin_method reports its doc too
        self.assertEqual(m.twice.__doc__.split("\n\n")[1:], ["Twice x."])


class BuiltinBehaviour(unittest.TestCase):
    def test_identity_attributes(self):
        for qualname, f in ENTRY_FORMS.items():
            with self.subTest(qualname):
                module = "pyo3cpp_test_bindings" + (".sub" if "." in qualname else "")
                name = qualname.split(".")[-1]
                self.assertIs(f.__self__, sys.modules[module])
                self.assertEqual(f.__module__, module)
                self.assertEqual(f.__qualname__, name)
                self.assertEqual(f.__name__, name)
                self.assertTrue(inspect.isbuiltin(f))
                self.assertEqual(repr(f), f"<built-in function {name}>")
        self.assertEqual(type(m.fn_1099).__name__, "builtin_method")
        self.assertEqual(type(m.fn_0).__name__, "builtin_function_or_method")

    # CPython compares and hashes built-ins by __self__ and the PyMethodDef's C pointer: every
    # builtin_method form (past the runtime's shared entries) gets a pointer of its own
    # (pyo3cpp_function_misuse_entry), so distinct late functions are unequal and hash apart.
    def test_distinct_functions_are_unequal_and_hash_apart(self):
        late = [getattr(m, f"fn_{k}") for k in range(1090, 1100)]
        self.assertEqual(len({f: None for f in late}), len(late))
        self.assertNotEqual(m.fn_1098, m.fn_1099)
        self.assertEqual(m.fn_1099, m.fn_1099)
        self.assertEqual(len({hash(f) for f in late}), len(late))
        self.assertNotEqual(m.fn_0, m.fn_1099)

    def test_pickle_and_copy_round_trip(self):
        for qualname, f in ENTRY_FORMS.items():
            with self.subTest(qualname):
                for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
                    self.assertIs(pickle.loads(pickle.dumps(f, protocol)), f)
                self.assertIs(copy.copy(f), f)
                self.assertIs(copy.deepcopy(f), f)

    def test_process_pool_map(self):
        # spawn: the workers import the module by name, so the functions really travel by pickle.
        context = multiprocessing.get_context("spawn")
        with concurrent.futures.ProcessPoolExecutor(2, mp_context=context) as pool:
            self.assertEqual(list(pool.map(m.twice, range(6))), [0, 2, 4, 6, 8, 10])
            self.assertEqual(list(pool.map(m.add, [1, 2], [10, 20])), [11, 22])
            self.assertEqual(list(pool.map(m.fn_1099, [5, 6])), [6, 7])

    def test_calls_through_every_path(self):
        for f in (m.add, m.lambda_add, m.fn_0, m.fn_1099):
            with self.subTest(f.__name__):
                self.assertEqual(f(2, 3), 5)               # interpreter call (specialised or not)
                self.assertEqual(f(*(2, 3)), 5)            # PyObject_Call with a tuple
                self.assertEqual(list(map(f, [1, 2], [3, 4])), [4, 6])
                for _ in range(100):                       # let the specialiser settle
                    self.assertEqual(f(1, 1), 2)
        self.assertEqual(m.lambda_add(b=1, a=2), 3)
        self.assertEqual(m.fn_1099(a=4), 5)


class KeywordRules(unittest.TestCase):
    def check(self, call, exc, message):
        with self.assertRaises(exc) as cm:
            call()
        self.assertEqual(str(cm.exception), message)

    def test_keyword_only_and_positional_only(self):
        self.assertEqual(m.find("abcabc", "c", start=3), 5)
        self.check(lambda: m.find("abc", "c", 1), TypeError,
                   "find() takes 2 positional arguments but 3 were given")
        self.check(lambda: m.find("abc"), TypeError, "find() missing required argument 'needle' (pos 2)")
        self.assertEqual(m.norm(3, 4), 25.0)
        # As CPython words it when no parameter takes keywords (len(obj=1)):
        self.check(lambda: m.norm(x=3, y=4), TypeError, "norm() takes no keyword arguments")
        self.check(lambda: m.mixed(a=1, b=2, c=3), TypeError,
                   "mixed() got some positional-only arguments passed as keyword arguments: 'a'")
        self.assertEqual(m.mixed(1, 2, c=3), 123)
        self.assertEqual(m.mixed(1, b=2, c=3), 123)
        self.check(lambda: m.mixed(1, 2, 3), TypeError,
                   "mixed() takes 2 positional arguments but 3 were given")
        self.check(lambda: m.mixed(1, 2), TypeError, "mixed() missing required keyword-only argument 'c'")
        self.check(lambda: m.mixed(1, b=2, c=3, d=4), TypeError,
                   "mixed() got an unexpected keyword argument 'd'")
        self.check(lambda: m.add(1, b=2), TypeError, "add() takes no keyword arguments")
        self.check(lambda: m.lambda_add(1, a=2), TypeError,
                   "lambda_add() got multiple values for argument 'a'")
        # A keyword that is not the interned string takes the runtime path: same result.
        self.assertEqual(m.lambda_add(**{"".join(["a"]): 1, "".join(["b"]): 2}), 3)

    def test_optional_before_a_required_parameter_is_required_but_takes_none(self):
        self.assertEqual(str(inspect.signature(m.optional_first)), "(arg0, arg1, /)")
        self.assertEqual(m.optional_first(None, 2), -8)
        self.assertEqual(m.optional_first(3, 2), 32)
        self.check(lambda: m.optional_first(2), TypeError,
                   "optional_first() takes 2 positional arguments but 1 was given")

    def test_args_and_kwargs(self):
        self.assertEqual(m.collect("p"), ("p", 0, [], False))
        self.assertEqual(m.collect("p", 1, 2, 3, flag=True, z=1, y=2), ("p", 3, ["y", "z"], True))
        self.assertEqual(m.collect(prefix="q", flag=False), ("q", 0, [], False))
        self.assertEqual(m.only_kwargs(a=1, b=2, c=3), 3)
        self.check(lambda: m.only_kwargs(1), TypeError,
                   "only_kwargs() takes 0 positional arguments but 1 was given")
        self.check(lambda: m.collect("p", prefix="q"), TypeError,
                   "collect() got multiple values for argument 'prefix'")

    def test_no_reference_leaks(self):
        item, key_value = object(), object()
        before = sys.getrefcount(item), sys.getrefcount(key_value)
        for _ in range(10000):
            m.collect("p", item, item, flag=True, k=key_value)
            try:
                m.collect("p", item, prefix=key_value)
            except TypeError:
                pass
        self.assertEqual((sys.getrefcount(item), sys.getrefcount(key_value)), before)


class Concurrency(unittest.TestCase):
    """Every call path at once from 8 threads (GIL off on 3.13t): results exact, errors right,
    no reference lost or leaked."""

    def test_threads_call_every_path(self):
        import threading
        threads, rounds = 8, 2000
        barrier = threading.Barrier(threads)
        marker = object()
        before = sys.getrefcount(marker)
        failures = []

        def worker(t):
            try:
                barrier.wait(timeout=60)
                for i in range(rounds):
                    assert m.lambda_add(a=i, b=t) == i + t
                    assert m.add(i, t) == i + t
                    assert m.fn_1099(i, b=t) == i + t
                    assert m.collect("p", marker, i, k=marker) == ("p", 2, ["k"], False)
                    try:
                        m.total({"a": marker})
                    except TypeError as e:
                        assert str(e) == "total() argument 'counts': value for key 'a' must be int, not object"
                    else:
                        raise AssertionError("no TypeError")
            except BaseException as e:  # reported below, with the thread
                failures.append((t, repr(e)))

        pool = [threading.Thread(target=worker, args=(t,)) for t in range(threads)]
        for thread in pool:
            thread.start()
        for thread in pool:
            thread.join(timeout=300)
            self.assertFalse(thread.is_alive(), "a thread hung")
        self.assertEqual(failures, [])
        self.assertEqual(sys.getrefcount(marker), before)


class ErrorMessages(unittest.TestCase):
    """Every conversion failure as the caller reads it: function, argument, element context,
    CPython's wording, no C++ names (tests/test_conversion_errors.cpp has the full table of the
    conversions' own texts)."""

    TABLE = [
        (lambda: m.total([]), TypeError, "total() argument 'counts' must be dict[str, int], not list"),
        (lambda: m.total({1: 2}), TypeError, "total() argument 'counts': key must be str, not int"),
        (lambda: m.total({"a": "x"}), TypeError,
         "total() argument 'counts': value for key 'a' must be int, not str"),
        (lambda: m.pair_sum((1,)), ValueError,
         "pair_sum() argument 'p' must be a tuple of length 2, not length 1"),
        (lambda: m.pair_sum((1, "2")), TypeError, "pair_sum() argument 'p': item 1 must be int, not str"),
        (lambda: m.opt_list("abc"), TypeError, "opt_list() argument 'v' must be list[int] or None, not str"),
        (lambda: m.opt_list([1, "x"]), TypeError, "opt_list() argument 'v': item 1 must be int, not str"),
        (lambda: m.small(300), OverflowError, "small() argument 'x' must be in range(0, 256), not 300"),
        (lambda: m.small(-1), OverflowError, "small() argument 'x' must be in range(0, 256), not -1"),
        (lambda: m.small(1.5), TypeError, "small() argument 'x' must be int, not float"),
        (lambda: m.opt_int("3"), TypeError, "opt_int() argument 'x' must be int or None, not str"),
        (lambda: m.names("abc"), TypeError, "names() argument 'xs' must be list[str], not str"),
        (lambda: m.names(["a", 2]), TypeError, "names() argument 'xs': item 1 must be str, not int"),
        (lambda: m.positional_only_int("x"), TypeError,
         "positional_only_int() argument 1 must be int, not str"),
        (lambda: m.describe(1), TypeError, "describe() argument 'text' must be str, not int"),
        (lambda: m.describe("t", ratio="x"), TypeError, "describe() argument 'ratio' must be float, not str"),
        (lambda: m.mix(m.Color.RED, None), TypeError, "mix() argument 'b' must be Color, not NoneType"),
    ]

    def test_table(self):
        for call, exc, message in self.TABLE:
            with self.subTest(message):
                with self.assertRaises(exc) as cm:
                    call()
                self.assertIs(type(cm.exception), exc)
                self.assertEqual(str(cm.exception), message)
                for word in ("std::", "C long", "long long", "unsigned", "vector", "basic_string"):
                    self.assertNotIn(word, str(cm.exception))

    def test_user_index_error_is_not_hidden(self):
        class Bad:
            def __index__(self):
                raise TypeError("custom __index__ failure")
        with self.assertRaises(TypeError) as cm:
            m.small(Bad())
        self.assertIn("custom __index__ failure", str(cm.exception))

    def test_failed_conversions_leak_nothing(self):
        key, value = "k" * 3, object()
        counts = {key: value}
        before = sys.getrefcount(key), sys.getrefcount(value)
        for _ in range(5000):
            with self.assertRaises(TypeError):
                m.total(counts)
        self.assertEqual((sys.getrefcount(key), sys.getrefcount(value)), before)


class CustomExceptions(unittest.TestCase):
    def test_classes(self):
        self.assertTrue(issubclass(m.ParseError, ValueError))
        self.assertTrue(issubclass(m.SyntaxProblem, m.ParseError))
        self.assertEqual(m.ParseError.__module__, "pyo3cpp_test_bindings")
        self.assertEqual(m.SyntaxProblem.__qualname__, "SyntaxProblem")
        self.assertEqual(m.ParseError.__doc__, "Input could not be parsed.")
        error = m.ParseError("x")
        self.assertEqual(repr(pickle.loads(pickle.dumps(error))), repr(error))

    def test_translation_most_derived_first(self):
        with self.assertRaises(m.ParseError) as cm:
            m.fail("parse")
        self.assertIs(type(cm.exception), m.ParseError)
        self.assertEqual(str(cm.exception), "bad input at line 3")
        with self.assertRaises(m.SyntaxProblem) as cm:
            m.fail("syntax")
        self.assertIs(type(cm.exception), m.SyntaxProblem)
        with self.assertRaises(RuntimeError):
            m.fail("runtime")
        with self.assertRaises(m.ParseError) as cm:
            m.fail("typed")
        self.assertEqual(str(cm.exception), "raised from C++ by type")
        with self.assertRaisesRegex(SystemError, "unknown C\\+\\+ exception"):
            m.throw_non_exception()

    def test_chaining_from_a_python_error(self):
        def callback():
            return {}["missing"]
        with self.assertRaises(m.ParseError) as cm:
            m.parse_with(callback)
        self.assertEqual(str(cm.exception), "the callback failed")
        self.assertIsInstance(cm.exception.__cause__, KeyError)
        self.assertTrue(cm.exception.__suppress_context__)
        self.assertEqual(m.parse_with(lambda: 7), 7)

    def test_chaining_two_levels(self):
        with self.assertRaises(m.ParseError) as cm:
            m.nested_twice()
        middle = cm.exception.__cause__
        self.assertIs(type(middle), ValueError)
        self.assertEqual(str(middle), "middle")
        self.assertIs(type(middle.__cause__), IndexError)
        self.assertEqual(str(middle.__cause__), "innermost index 9")


class Enums(unittest.TestCase):
    def test_classes_are_real_enums(self):
        self.assertTrue(issubclass(m.Color, enum.Enum))
        self.assertFalse(issubclass(m.Color, int))
        self.assertTrue(issubclass(m.Level, enum.IntEnum))
        self.assertEqual([c.name for c in m.Color], ["RED", "GREEN", "BLUE"])
        self.assertEqual([c.value for c in m.Color], [1, 2, 4])
        self.assertEqual(m.Color.__module__, "pyo3cpp_test_bindings")
        self.assertEqual(m.Color.__qualname__, "Color")
        self.assertEqual(m.Color.__doc__, "Primary colours.")
        self.assertIs(m.Color(2), m.Color.GREEN)
        self.assertEqual(m.Level.HIGH, 10)
        self.assertLess(m.Level.LOW, m.Level.HIGH)
        for member in list(m.Color) + list(m.Level):
            self.assertIs(pickle.loads(pickle.dumps(member)), member)

    def test_conversion_both_ways(self):
        self.assertIs(m.mix(m.Color.RED, m.Color.BLUE), m.Color.BLUE)
        self.assertIs(m.mix(m.Color.GREEN, m.Color.RED), m.Color.GREEN)
        self.assertEqual(m.all_colors(), list(m.Color))
        self.assertEqual(m.level_value(m.Level.HIGH), 10)
        self.assertEqual(m.level_value(10), 10)   # IntEnum: its values are accepted too
        self.assertIs(m.make_level(0), m.Level.LOW)

    def test_bad_values(self):
        with self.assertRaises(TypeError) as cm:
            m.mix(1, m.Color.RED)
        self.assertEqual(str(cm.exception), "mix() argument 'a' must be Color, not int")
        with self.assertRaises(TypeError) as cm:
            m.mix(m.Color.RED, m.Level.LOW)
        self.assertEqual(str(cm.exception), "mix() argument 'b' must be Color, not Level")
        with self.assertRaises(ValueError) as cm:
            m.level_value(5)
        self.assertEqual(str(cm.exception), "level_value() argument 'level': 5 is not a valid Level")
        with self.assertRaises(ValueError) as cm:
            m.make_level(3)
        self.assertEqual(str(cm.exception), "3 is not a valid Level")


if __name__ == "__main__":
    unittest.main()
