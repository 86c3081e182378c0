"""Names defined more than once (include/pyo3cpp/overload.hpp): the order, the exact first pass,
keywords, constructors, methods, static methods and classmethods, the error text, signatures,
__doc__, stubs, and the docs' example (tests/ext/pyo3cpp_test_overloads.cpp)."""
import importlib.util
import inspect
import os
import pydoc
import re
import tempfile
import unittest

import pyo3cpp_test_overloads as m
from thread_race import run_threads

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, os.pardir)
V = m.Vec2


class Resolution(unittest.TestCase):
    def test_definition_order_and_types(self):
        self.assertEqual(m.half(7), 3)
        self.assertEqual(m.half(7.0), 3.5)
        self.assertEqual(m.half("abcd"), "ab")

    def test_first_pass_takes_exact_types_in_either_order(self):
        self.assertEqual((m.int_first(1), m.int_first(1.0)), ("int", "float"))
        self.assertEqual((m.float_first(1), m.float_first(1.0)), ("int", "float"))

    def test_bool_is_not_an_int_in_the_first_pass(self):
        self.assertEqual(m.with_bool(True), "bool")   # int is written first
        self.assertEqual(m.with_bool(2), "int")
        self.assertEqual(m.int_first(True), "int")    # no bool overload: converted, in order
        self.assertEqual(m.float_first(True), "float")

    def test_an_iterable_is_a_vector_only_in_the_second_pass(self):
        self.assertEqual(m.items("ab"), "str")
        self.assertEqual(m.items([1, 2]), "vector of 2")
        self.assertEqual(m.items(x for x in range(3)), "vector of 3")

    def test_keywords_per_overload(self):
        self.assertEqual(m.place(1), "cell 1,0")
        self.assertEqual(m.place(row=3, col=4), "cell 3,4")
        self.assertEqual(m.place(1, col=2), "cell 1,2")
        self.assertEqual(m.place("a"), "a@end")
        self.assertEqual(m.place(name="a", at=3), "a@3")
        with self.assertRaises(TypeError):
            m.place("a", 3)   # at is keyword-only; col is not for a str

    def test_the_body_exception_propagates(self):
        with self.assertRaisesRegex(ValueError, "^negative$"):
            m.strict(-1)      # the float overload would accept -1: it is not tried
        self.assertEqual(m.strict(2.5), -1)
        with self.assertRaisesRegex(TypeError, "^raised by the body$"):
            m.body_type_error(1)
        self.assertEqual(m.body_type_error(1.5), 2)

    def test_overflow_refuses_the_definition(self):
        self.assertEqual(m.narrow(5), "int8")
        self.assertEqual(m.narrow(1000), "int64")
        with self.assertRaises(TypeError):
            m.narrow(1 << 80)

    def test_classes_as_parameters(self):
        self.assertEqual(m.describe(m.Unit()), "Unit")
        self.assertTrue(m.describe(V(1, 2)).startswith("Vec2(1.0"))

    def test_bodies_calling_back(self):
        self.assertEqual(m.run(2, lambda n: m.half(n)), 1)
        self.assertEqual(m.run("x", lambda s: m.run(4, lambda n: n * 2)), 8)
        # Inside a body being tried, a function defined once still words its own errors.
        with self.assertRaisesRegex(TypeError, r"^once\(\) argument 'n' must be int, not str$"):
            m.run(1, lambda n: m.once("no"))
        with self.assertRaisesRegex(TypeError, r"^half\(\): no overload accepts \(NoneType\)"):
            m.run(1, lambda n: m.half(None))

    def test_no_reference_leaks(self):
        """Arguments refused (count, keywords, exact pass, conversions) or taken keep their
        reference counts."""
        import sys
        key, text, vec = object(), "a" * 50, V(1, 2)
        numbers = [1, 2, 3]
        before = [sys.getrefcount(x) for x in (key, text, vec, numbers)]
        for _ in range(200):
            for call in (lambda: m.half(key), lambda: m.place(key, col=key),
                         lambda: m.place(text, at=key), lambda: vec.add(key),
                         lambda: V(key, key)):
                with self.assertRaises(TypeError):
                    call()
            m.half(text), m.place(text), m.place(text, at=1), vec.add(vec), m.items(numbers)
            V(numbers[:2]), m.describe(vec)
        self.assertEqual([sys.getrefcount(x) for x in (key, text, vec, numbers)], before)

    def test_threads(self):
        def work(index):
            for i in range(2000):
                value = index * 1000 + i
                assert m.int_first(value) == "int" and m.float_first(float(value)) == "float"
                assert m.place(value, col=1) == f"cell {value},1"
                assert V(float(value), 1).add(V(1, 1)).x == value + 1
                try:
                    m.half(None)
                except TypeError:
                    pass
                else:
                    raise AssertionError("half(None) was accepted")
        run_threads(8, work)


ERROR_HALF = """\
half(): no overload accepts (NoneType); the overloads are:
    half(n: int) -> int
    half(x: float) -> float
    half(s: str) -> str"""


class Errors(unittest.TestCase):
    def test_function(self):
        with self.assertRaises(TypeError) as cm:
            m.half(None)
        self.assertEqual(str(cm.exception), ERROR_HALF)

    def test_keywords_are_named(self):
        with self.assertRaises(TypeError) as cm:
            m.place(1.5, col="x")
        self.assertEqual(str(cm.exception), """\
place(): no overload accepts (float, col=str); the overloads are:
    place(row: int, col: int = 0) -> str
    place(name: str, *, at: int | None = None) -> str""")

    def test_constructor(self):
        with self.assertRaises(TypeError) as cm:
            V("a", 1)
        self.assertEqual(str(cm.exception), """\
Vec2(): no overload accepts (str, int); the overloads are:
    Vec2()
    Vec2(x: float, y: float)
    Vec2(xy: collections.abc.Iterable[float])""")
        with self.assertRaisesRegex(ValueError, "^need 2 coordinates$"):
            V([1, 2, 3])   # the body's error

    def test_method_static_classmethod(self):
        with self.assertRaises(TypeError) as cm:
            V().add("x")
        self.assertEqual(str(cm.exception), """\
add(): no overload accepts (str); the overloads are:
    add(d: float) -> Vec2
    add(o: Vec2) -> Vec2""")
        with self.assertRaisesRegex(TypeError, r"^origin\(\): no overload accepts \(int, int\)"):
            V.origin(1, 2)
        with self.assertRaisesRegex(TypeError, r"^kind\(\): no overload accepts \(str\)"):
            V.kind("x")


class Classes(unittest.TestCase):
    def test_constructors(self):
        self.assertEqual((V().x, V().y), (0.0, 0.0))
        self.assertEqual((V(1, 2).x, V(1, 2).y), (1.0, 2.0))
        self.assertEqual(V(x=3, y=4).y, 4.0)
        self.assertEqual(V([5, 6]).x, 5.0)
        self.assertEqual(V(xy=(7, 8)).y, 8.0)

    def test_methods(self):
        v = V(1, 2)
        self.assertEqual(v.add(1.5).x, 2.5)
        self.assertEqual(v.add(2).y, 4.0)            # int converted in the second pass
        self.assertEqual(v.add(V(10, 20)).y, 22.0)
        self.assertEqual(v.add(o=V(1, 1)).x, 2.0)
        self.assertEqual(V.add(v, d=1).x, 2.0)       # through the class

    def test_static_and_classmethods(self):
        self.assertEqual(V.origin().x, 0.0)
        self.assertEqual(V.origin(2).y, 2.0)
        self.assertEqual(V().origin(both=3).x, 3.0)
        self.assertEqual((V.kind(), V.kind(3), V().kind(n=1)), ("none", "int", "int"))


class Introspection(unittest.TestCase):
    def test_signature_raises_value_error(self):
        for obj in (m.half, V.add, V().add, V.origin, V.kind):
            with self.subTest(obj=obj):
                with self.assertRaises(ValueError):
                    inspect.signature(obj)
                self.assertIsNone(getattr(obj, "__text_signature__", None))
        # Defined once: a signature as before.
        self.assertEqual(str(inspect.signature(m.once)), "(n)")
        self.assertEqual(str(inspect.signature(V.same)), "(self, /, other)")

    def test_doc_lists_every_signature_then_the_docs(self):
        self.assertEqual(m.half.__doc__, "half(n: int) -> int\nhalf(x: float) -> float\n"
                                         "half(s: str) -> str\n\nInteger half.\n\nReal half.")
        self.assertEqual(V.add.__doc__, "add(d: float) -> Vec2\nadd(o: Vec2) -> Vec2\n\n"
                                        "Both coordinates plus d.\n\nThe sum of two vectors.")
        self.assertEqual(V.__doc__, "Vec2()\nVec2(x: float, y: float)\n"
                                    "Vec2(xy: collections.abc.Iterable[float])\n\n"
                                    "A 2-D vector.")
        self.assertEqual(V.origin.__doc__, "origin() -> Vec2\norigin(both: float) -> Vec2")

    def test_help(self):
        text = pydoc.render_doc(m.half, renderer=pydoc.plaintext)
        for line in ("half(n: int) -> int", "half(x: float) -> float", "Integer half."):
            self.assertIn(line, text)


def _stubgen():
    path = os.path.join(ROOT, "python", "pyo3cpp", "stubgen.py")
    spec = importlib.util.spec_from_file_location("pyo3cpp_stubgen_overloads", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


IGNORE = "  # type: ignore[misc, overload-overlap, overload-cannot-match]"


class Stubs(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.text = _stubgen().generate("pyo3cpp_test_overloads", docstrings=False)[
            "pyo3cpp_test_overloads.pyi"]

    def test_overload_per_signature(self):
        self.assertIn("from typing import Never, final, overload\n", self.text)
        self.assertIn("@overload\ndef half(n: int) -> int: ...\n"
                      f"@overload\ndef half(x: float) -> float: ...{IGNORE}\n"
                      f"@overload\ndef half(s: str) -> str: ...{IGNORE}\n", self.text)
        self.assertIn("    @overload\n    def __init__(self) -> None: ...\n"
                      f"    @overload\n    def __init__(self, x: float, y: float) -> None: ...{IGNORE}\n",
                      self.text)
        self.assertIn("    @overload\n    @staticmethod\n    def origin() -> Vec2: ...\n", self.text)
        self.assertIn("    @overload\n    @classmethod\n"
                      f"    def kind(cls, n: int) -> str: ...{IGNORE}\n", self.text)
        self.assertIn("    def same(self, other: Vec2) -> bool: ...\n", self.text)   # once: plain


class DocsExample(unittest.TestCase):
    def test_the_docs_example_is_compiled_here(self):
        """Every line of the C++ example under "## Overloads" in docs/bindings.md is a line of
        tests/ext/pyo3cpp_test_overloads.cpp, in the same order."""
        with open(os.path.join(ROOT, "docs", "bindings.md"), encoding="utf-8") as f:
            docs = f.read()
        section = docs.split("## Overloads", 1)[1]
        example = re.search(r"```cpp\n(.*?)```", section, re.S).group(1)
        with open(os.path.join(ROOT, "tests", "ext", "pyo3cpp_test_overloads.cpp"),
                  encoding="utf-8") as f:
            source = [line.rstrip() for line in f]
        at = 0
        for line in example.splitlines():
            if not line.strip():
                continue
            while at < len(source) and source[at] != line.rstrip():
                at += 1
            self.assertLess(at, len(source), f"not in the test extension (in order): {line!r}")


if __name__ == "__main__":
    unittest.main()
