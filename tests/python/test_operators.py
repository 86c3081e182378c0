"""The number protocol of bound classes (class_number.hpp), through pyo3cpp_test_operators:
results, NotImplemented for operands that do not convert (and CPython's own TypeError text at the
end), reflected and in-place forms, pow with a modulus, unary operators and conversions, aliasing,
inheritance through extends<>, Python subclasses, and a locked class raced by in-place operators."""
import operator
import sys
import unittest

import pyo3cpp_test_operators as m
from thread_race import run_threads

Vec, Bits, Num, Scaled, Total = m.Vec, m.Bits, m.Num, m.Scaled, m.Total
V = "pyo3cpp_test_operators.Vec"


def xy(v):
    return (v.x, v.y)


class Binary(unittest.TestCase):
    def test_results(self):
        a, b = Vec(1, 2), Vec(3, 4)
        self.assertEqual(xy(a + b), (4, 6))
        self.assertEqual(xy(a - b), (-2, -2))
        self.assertEqual(xy(a * 2), (2, 4))
        self.assertEqual(xy(a * 2.5), (2.5, 5))
        self.assertEqual(a @ b, 11.0)
        self.assertEqual(xy(b / 2), (1.5, 2))
        self.assertEqual(xy(Vec(7, 9) // 2), (3, 4))
        self.assertEqual(xy(Vec(7, 9) % 4), (3, 1))
        q, r = divmod(Vec(7, 9), 4)
        self.assertEqual((xy(q), xy(r)), ((1, 2), (3, 1)))
        self.assertEqual(xy(a ** 2), (1, 4))
        self.assertEqual(xy(operator.add(a, b)), (4, 6))
        self.assertEqual(xy(a), (1, 2))  # the operands are unchanged
        self.assertEqual(xy(b), (3, 4))

    def test_bitwise_and_shifts(self):
        x = Bits(12)
        self.assertEqual((x & Bits(10)).value, 8)
        self.assertEqual((x | Bits(3)).value, 15)
        self.assertEqual((x ^ Bits(5)).value, 9)
        self.assertEqual((x << 2).value, 48)
        self.assertEqual((x >> 2).value, 3)

    def test_reflected(self):
        a = Vec(1, 2)
        self.assertEqual(xy(2 * a), (2, 4))          # int.__mul__ -> NotImplemented -> __rmul__
        self.assertEqual(xy(2.5 * a), (2.5, 5))
        self.assertEqual(xy(1 / Vec(2, 4)), (0.5, 0.25))
        self.assertEqual(xy(2 ** Vec(3, 4)), (8, 16))
        self.assertEqual((7 & Bits(12)).value, 4)
        self.assertEqual((3 | Bits(12)).value, 15)
        self.assertEqual((5 ^ Bits(12)).value, 9)
        self.assertEqual(1 << Bits(3), 8)
        self.assertEqual(64 >> Bits(3), 8)
        # The slot wrappers CPython adds reach the same methods.
        self.assertEqual(xy(a.__rmul__(3)), (3, 6))
        self.assertEqual(xy(a.__mul__(3)), (3, 6))

    def test_reflected_missing_or_same_type(self):
        # __radd__ is not defined: the wrapper exists (CPython adds both) and answers NotImplemented
        # for another type; for a Vec it is the slot with the operands swapped, as for int.
        self.assertIs(Vec(1, 2).__radd__(1), NotImplemented)
        self.assertEqual(xy(Vec(1, 2).__radd__(Vec(10, 10))), (11, 12))
        # Operands of the same type never reach the reflected method: Vec * Vec has no __mul__
        # for a Vec (it takes a float), and __rmul__ is not tried.
        with self.assertRaises(TypeError) as cm:
            Vec(1, 2) * Vec(3, 4)
        self.assertEqual(str(cm.exception), f"unsupported operand type(s) for *: '{V}' and '{V}'")

    def test_not_implemented_gives_cpythons_error(self):
        a = Vec(1, 2)
        cases = [
            (lambda: a + "x", f"unsupported operand type(s) for +: '{V}' and 'str'"),
            (lambda: "x" + a, f'can only concatenate str (not "{V}") to str'),
            (lambda: a - 1, f"unsupported operand type(s) for -: '{V}' and 'int'"),
            (lambda: a @ 1, f"unsupported operand type(s) for @: '{V}' and 'int'"),
            (lambda: a * "x", f"can't multiply sequence by non-int of type '{V}'"),  # str's own
            (lambda: a * None, f"unsupported operand type(s) for *: '{V}' and 'NoneType'"),
            (lambda: [] * a, f"can't multiply sequence by non-int of type '{V}'"),
            (lambda: a / None, f"unsupported operand type(s) for /: '{V}' and 'NoneType'"),
            (lambda: divmod(a, "x"), f"unsupported operand type(s) for divmod(): '{V}' and 'str'"),
            (lambda: a ** "x", f"unsupported operand type(s) for ** or pow(): '{V}' and 'str'"),
            (lambda: "x" ** a, f"unsupported operand type(s) for ** or pow(): 'str' and '{V}'"),
            (lambda: Bits(1) & "x",
             "unsupported operand type(s) for &: 'pyo3cpp_test_operators.Bits' and 'str'"),
            (lambda: Bits(1) << 1.5,
             "unsupported operand type(s) for <<: 'pyo3cpp_test_operators.Bits' and 'float'"),
            (lambda: a | 1, f"unsupported operand type(s) for |: '{V}' and 'int'"),
        ]
        for call, text in cases:
            with self.subTest(text=text):
                with self.assertRaises(TypeError) as cm:
                    call()
                self.assertEqual(str(cm.exception), text)
                self.assertIsNone(cm.exception.__context__)  # nothing was left set
        self.assertIs(a.__add__("x"), NotImplemented)
        self.assertIs(a.__mul__("x"), NotImplemented)

    def test_operand_holding_views(self):
        self.assertEqual((Total(5) - ["a", "b"]).count, 3)
        with self.assertRaises(TypeError) as cm:
            Total(5) - [1]
        self.assertEqual(str(cm.exception), "unsupported operand type(s) for -: "
                                            "'pyo3cpp_test_operators.Total' and 'list'")

    def test_other_conversion_errors_propagate(self):
        # Not a type mismatch: the error is the method's, as int * float raises OverflowError.
        with self.assertRaises(OverflowError) as cm:
            Vec(1, 2) * 10 ** 400
        self.assertEqual(str(cm.exception), "__mul__() argument 'k': int too large to convert to float")
        with self.assertRaises(OverflowError):
            Bits(1) << 10 ** 30
        with self.assertRaises(OverflowError):
            Bits(1) << -1
        # An exception from the method itself propagates too.
        with self.assertRaisesRegex(ValueError, "Vec / 0"):
            Vec(1, 2) / 0

    def test_pow_two_and_three_arguments(self):
        self.assertEqual(xy(pow(Vec(2, 3), 2)), (4, 9))
        self.assertEqual(xy(pow(Vec(2, 3), 3, 5)), (3, 2))
        self.assertEqual(xy(pow(Vec(2, 3), 2, None)), (4, 9))
        # The modulus is an operand too: one that does not convert gives NotImplemented.
        with self.assertRaises(TypeError) as cm:
            pow(Vec(2, 3), 2, "x")
        self.assertEqual(str(cm.exception),
                         f"unsupported operand type(s) for ** or pow(): '{V}', 'int', 'str'")
        with self.assertRaises(TypeError) as cm:
            pow(Vec(2, 3), "x", 5)
        self.assertEqual(str(cm.exception),
                         f"unsupported operand type(s) for ** or pow(): '{V}', 'str', 'int'")
        # Three arguments reach right's __rpow__ with the modulus (as CPython 3.14 does).
        self.assertEqual(xy(pow(2, Vec(3, 4), 5)), (3, 1))
        self.assertEqual(xy(pow(2, Vec(3, 4))), (8, 16))


class InPlace(unittest.TestCase):
    def test_in_place_returns_the_same_object(self):
        a = Vec(1, 2)
        before = a
        a += Vec(1, 1)
        self.assertIs(a, before)
        self.assertEqual(xy(a), (2, 3))
        a -= Vec(1, 1)            # a member operator returning Vec&: still the same object
        self.assertIs(a, before)
        a *= 3                    # the C++ result (42) is discarded
        self.assertIs(a, before)
        self.assertEqual(xy(a), (3, 6))
        self.assertIs(operator.iadd(a, Vec(1, 1)), before)
        a **= 2                   # no __ipow__: `a = a ** 2`, a new object
        self.assertIsNot(a, before)
        self.assertEqual(xy(a), (16, 49))
        t = Total(3)
        same = t
        t **= 2                   # in-place pow (the ternary in-place slot, modulus None)
        self.assertIs(t, same)
        self.assertEqual(t.count, 9)
        self.assertIs(t.__ipow__(1), same)
        self.assertIs(t.__ipow__("x"), NotImplemented)
        with self.assertRaises(OverflowError):   # not a type mismatch: the method's error
            t.__ipow__(-1)
        self.assertEqual(t.count, 9)
        with self.assertRaisesRegex(TypeError, r"__ipow__\(\) takes 1 positional argument but 2 were given"):
            t.__ipow__(2, 7)      # the wrapper passes a modulus; this method takes none

    def test_every_in_place_form(self):
        x = Bits(0b1111)
        same = x
        x &= Bits(0b0110)
        x |= Bits(0b1000)
        x ^= Bits(0b0001)
        x <<= 2
        x >>= 1
        self.assertIs(x, same)
        self.assertEqual(x.value, 0b11110)
        x %= 7
        self.assertEqual(x.value, 2)
        x = Bits(100)
        y = x
        x //= 7
        self.assertIs(x, y)
        self.assertEqual(x.value, 14)
        x /= 2
        self.assertIs(x, y)
        self.assertEqual(x.value, 7)
        x @= Bits(0b101)
        self.assertIs(x, y)
        self.assertEqual(x.value, 2)

    def test_in_place_falls_back_to_binary(self):
        # __iadd__ does not take an int; there is no __add__ for an int either: CPython's error.
        a = Vec(1, 2)
        with self.assertRaises(TypeError) as cm:
            a += 1
        self.assertEqual(str(cm.exception), f"unsupported operand type(s) for +=: '{V}' and 'int'")
        # No __itruediv__ on Vec: `/=` is `/`, a new object.
        b = a
        a /= 2
        self.assertIsNot(a, b)
        self.assertEqual(xy(a), (0.5, 1))
        # __imul__ refuses a Vec: __mul__ refuses it too, __rmul__ is not tried for one type.
        with self.assertRaises(TypeError):
            b *= Vec(1, 1)
        self.assertEqual(xy(b), (1, 2))
        # Bits has __imod__ (an int) but no __mod__: a float operand is unsupported; a Bits one
        # converts through its __index__.
        x = Bits(5)
        with self.assertRaises(TypeError) as cm:
            x %= 1.5
        self.assertEqual(str(cm.exception),
                         "unsupported operand type(s) for %=: 'pyo3cpp_test_operators.Bits' and 'float'")
        x %= Bits(3)
        self.assertEqual(x.value, 2)

    def test_in_place_method_error_propagates(self):
        x = Bits(5)
        with self.assertRaisesRegex(ValueError, "Bits %= 0"):
            x %= 0
        self.assertEqual(x.value, 5)


class Unary(unittest.TestCase):
    def test_unary(self):
        a = Vec(3, -4)
        self.assertEqual(xy(-a), (-3, 4))
        self.assertIs(+a, a)
        self.assertEqual(abs(a), 5.0)
        self.assertEqual((~Bits(0)).value, 2 ** 64 - 1)
        with self.assertRaises(TypeError) as cm:
            ~a
        self.assertEqual(str(cm.exception), f"bad operand type for unary ~: '{V}'")

    def test_conversions(self):
        x = Bits(12)
        self.assertEqual(int(x), 12)
        self.assertEqual(float(x), 12.0)
        self.assertEqual(operator.index(x), 12)
        self.assertEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13][x], 12)  # __index__
        self.assertEqual(hex(x), "0xc")
        self.assertEqual(complex(Vec(1, 2)), 1 + 2j)   # __complex__: a plain method
        self.assertFalse(Vec(0, 0))
        with self.assertRaises(TypeError):
            operator.index(Vec(1, 2))
        with self.assertRaises(TypeError):
            int(Vec(1, 2))


class Aliasing(unittest.TestCase):
    def test_same_instance_twice(self):
        # self exclusive and the operand shared are the same instance: taken once, no deadlock.
        t = Total(3)
        t += t
        self.assertEqual(t.count, 6)
        self.assertEqual((t + t).count, 12)
        self.assertEqual((t * t).count, 36)
        v = Vec(1, 2)
        v += v
        self.assertEqual(xy(v), (2, 4))
        self.assertEqual(v @ v, 20.0)
        x = Bits(6)
        x &= x
        x ^= x
        self.assertEqual(x.value, 0)


class Inheritance(unittest.TestCase):
    def test_bound_subclass_keeps_base_operators(self):
        # Scaled defines __radd__ and __mul__; Num's __add__, __sub__, __neg__ stay.
        s = Scaled(5, 3)
        self.assertEqual(s + 1, 6)            # Num.__add__
        self.assertEqual(1 + s, 2016)         # Scaled.__radd__
        self.assertEqual(1 + Num(5), 1006)    # Num.__radd__
        self.assertEqual(s * 2, 30)           # Scaled.__mul__
        self.assertEqual(s - Num(1), 4)       # Num.__sub__ with a base operand
        self.assertEqual(Num(5) - s, 0)       # a subclass operand of the base's parameter
        self.assertEqual(-s, -5)
        with self.assertRaises(TypeError) as cm:
            Num(5) * 2
        self.assertEqual(str(cm.exception),
                         "unsupported operand type(s) for *: 'pyo3cpp_test_operators.Num' and 'int'")

    def test_python_subclass(self):
        class Plain(Vec):
            pass

        class Over(Vec):
            def __add__(self, other):
                return "Over.__add__"

        self.assertIs(type(Plain(1, 2) + Vec(1, 1)), Vec)
        self.assertEqual(xy(Vec(1, 1) + Plain(1, 2)), (2, 3))
        self.assertEqual(xy(2 * Plain(1, 2)), (2, 4))
        p = Plain(1, 1)
        q = p
        p += Vec(1, 1)
        self.assertIs(p, q)
        # A Python override runs first; one answering NotImplemented falls back to the C++
        # method, as for a subclass of int.
        self.assertEqual(Over(1, 2) + Vec(1, 1), "Over.__add__")
        self.assertEqual(Over(1, 2) + 5, "Over.__add__")
        self.assertEqual(xy(Vec(1, 1) + Over(1, 2)), (2, 3))

        class Declines(Vec):
            def __add__(self, other):
                return NotImplemented

        self.assertEqual(xy(Declines(1, 2) + Vec(1, 1)), (2, 3))
        with self.assertRaises(TypeError):
            Declines(1, 2) + 5

        class DeclinesInt(int):
            def __add__(self, other):
                return NotImplemented

        self.assertEqual(DeclinesInt(1) + 2, 3)  # CPython's int, for comparison

        class Reflects(Vec):
            def __rmul__(self, other):
                return "Reflects.__rmul__"

        # A subclass on the right that overrides the reflected method is asked first.
        self.assertEqual(Vec(1, 1) * Reflects(1, 2), "Reflects.__rmul__")
        self.assertEqual(3 * Reflects(1, 2), "Reflects.__rmul__")
        self.assertEqual(xy(Reflects(1, 2) * 3), (3, 6))


class OverloadedSpecials(unittest.TestCase):
    """A special method defined more than once is one overload set (Mat: __mul__ for a matrix, a
    Vec and a scalar, __eq__ for a matrix and a scalar, __getitem__ by (row, column) and by row).
    A second def used to replace the first without a word."""

    def setUp(self):
        self.p = m.Mat(1.0, 2.0, 3.0, 4.0)
        self.q = m.Mat(0.0, 1.0, 1.0, 0.0)

    def elements(self, x):
        return (x[0, 0], x[0, 1], x[1, 0], x[1, 1])

    def test_each_definition_is_reached(self):
        self.assertEqual(self.elements(self.p * self.q), (2.0, 1.0, 4.0, 3.0))
        self.assertEqual(self.p * m.Vec(1.0, 1.0), m.Vec(3.0, 7.0))
        self.assertEqual(self.elements(self.p * 2.0), (2.0, 4.0, 6.0, 8.0))
        self.assertEqual(self.elements(self.p * 2), (2.0, 4.0, 6.0, 8.0))   # int converts (second pass)
        self.assertEqual(self.elements(3.0 * self.p), (3.0, 6.0, 9.0, 12.0))

    def test_no_definition_takes_the_operand_gives_notimplemented(self):
        with self.assertRaisesRegex(TypeError, r"^unsupported operand type\(s\) for \*: 'pyo3cpp_test_operators.Mat' and 'NoneType'$"):
            self.p * None
        with self.assertRaisesRegex(TypeError, r"^unsupported operand type\(s\) for \*: 'NoneType' and 'pyo3cpp_test_operators.Mat'$"):
            None * self.p
        self.assertIs(self.p.__mul__("x"), NotImplemented)

    def test_in_place_overloads_keep_the_object(self):
        x = m.Mat(1.0, 2.0, 3.0, 4.0)
        before = x
        x *= 2.0
        self.assertIs(x, before)
        self.assertEqual(self.elements(x), (2.0, 4.0, 6.0, 8.0))
        x *= self.q
        self.assertIs(x, before)
        self.assertEqual(self.elements(x), (4.0, 2.0, 8.0, 6.0))
        x *= x   # aliasing through an overload set
        self.assertEqual(self.elements(x), (32.0, 20.0, 80.0, 52.0))

    def test_comparison_overloads(self):
        self.assertTrue(self.p == m.Mat(1.0, 2.0, 3.0, 4.0))
        self.assertFalse(self.p == self.q)
        self.assertTrue(m.Mat(5.0, 5.0, 5.0, 5.0) == 5.0)
        self.assertFalse(self.p == 5.0)
        self.assertFalse(self.p == "x")   # no definition takes a str: NotImplemented, then identity
        self.assertTrue(self.p != "x")
        with self.assertRaisesRegex(TypeError, "^'<' not supported between instances of"):
            self.p < 1.0   # no __lt__ at all

    def test_item_overloads_with_tuple_keys(self):
        self.assertEqual(self.p[0, 1], 2.0)
        self.assertEqual(self.p[1], (3.0, 4.0))
        self.p[1, 0] = 9.5
        self.assertEqual(self.p[1, 0], 9.5)
        with self.assertRaisesRegex(IndexError, "^Mat index out of range$"):
            self.p[2, 0]   # a body's error propagates: the next definition is not tried
        with self.assertRaises(TypeError) as caught:
            self.p["row"]
        self.assertEqual(str(caught.exception),
                         "__getitem__(): no overload accepts (str); the overloads are:\n"
                         "    __getitem__(at: tuple[int, int]) -> float\n"
                         "    __getitem__(row: int) -> tuple[float, float]")


class Stubs(unittest.TestCase):
    def test_typed_signatures(self):
        # The generated stub (tests/stubs runs stubtest on it) carries the operators' types.
        import importlib.util
        import os
        path = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, os.pardir,
                            "python", "pyo3cpp", "stubgen.py")
        spec = importlib.util.spec_from_file_location("pyo3cpp_stubgen_for_operators", path)
        stubgen = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(stubgen)
        lines = stubgen.generate("pyo3cpp_test_operators")[
            os.path.join("pyo3cpp_test_operators", "__init__.pyi")
            if os.path.join("pyo3cpp_test_operators", "__init__.pyi")
            in stubgen.generate("pyo3cpp_test_operators") else "pyo3cpp_test_operators.pyi"].splitlines()
        for line in ["def __add__(self, arg0: Vec, /) -> Vec: ...",
                     "def __rmul__(self, k: float, /) -> Vec: ...",
                     "def __pow__(self, exponent: int, mod: int | None = None, /) -> Vec: ...",
                     "def __iadd__(self, arg0: Vec, /) -> Vec: ...",
                     "def __imul__(self, arg0: float, /) -> Vec: ...",
                     "def __matmul__(self, arg0: Vec, /) -> float: ...",
                     "def __neg__(self) -> Vec: ...",
                     "def __index__(self) -> int: ...",
                     "def __divmod__(self, arg0: float, /) -> tuple[Vec, Vec]: ..."]:
            self.assertIn("    " + line, lines)


class DocsExample(unittest.TestCase):
    """examples/vector: docs/classes.md shows it byte for byte, and it behaves as shown there."""

    def test_docs_show_the_source_verbatim(self):
        import pathlib
        import re
        root = pathlib.Path(__file__).resolve().parents[2]
        docs = (root / "docs" / "classes.md").read_text(encoding="utf-8")
        source = (root / "examples" / "vector" / "pyo3cpp_vector.cpp").read_text(encoding="utf-8")
        self.assertIn(source, re.findall(r"^```cpp\n(.*?)^```$", docs, re.S | re.M))

    def test_as_shown(self):
        from pyo3cpp_vector import Vector
        v = Vector(1, 2, 3)
        self.assertEqual(repr(2.0 * v + Vector(1, 1, 1)), "Vector(3.000000, 5.000000, 7.000000)")
        w = v
        v += Vector(1, 1, 1)
        self.assertIs(w, v)
        self.assertEqual((v.x, v.y, v.z), (2, 3, 4))
        with self.assertRaises(TypeError) as cm:
            v + "x"
        self.assertEqual(str(cm.exception),
                         "unsupported operand type(s) for +: 'pyo3cpp_vector.Vector' and 'str'")
        self.assertEqual(v @ Vector(1, 0, 0), 2.0)
        self.assertEqual(abs(Vector(2, 3, 6)), 7.0)
        self.assertEqual(-Vector(1, 2, 3), Vector(-1, -2, -3))
        self.assertEqual(v - Vector(1, 1, 1), Vector(1, 2, 3))
        v += v
        self.assertEqual(v, Vector(4, 6, 8))


class Race(unittest.TestCase):
    def test_in_place_from_many_threads_is_exact(self):
        # 8 threads, `t += one` on one shared Total (a spread-out read-modify-write) and `a @ a`
        # reads in between: the total is exact only if every __iadd__ holds t exclusively.
        rounds = 10 if sys.flags.dev_mode else 3
        per_thread = 2000
        for _ in range(rounds):
            t = Total()
            one = Total(1)

            def work(i):
                nonlocal t
                local = t
                for _ in range(per_thread):
                    local += one
                    if i % 2:
                        local * local  # the same instance twice, shared, under contention
            run_threads(8, work, timeout=120)
            self.assertEqual(t.count, 8 * per_thread)


if __name__ == "__main__":
    unittest.main()
