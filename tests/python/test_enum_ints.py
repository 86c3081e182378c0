"""Enums of every underlying integer type (pyo3cpp_test_enum_ints): member values exact at the
extremes of int8_t ... uint64_t and bool, ints outside the type's range refused with
ValueError, and the Flag/IntFlag kinds combining bits both ways."""
import enum
import unittest

import pyo3cpp_test_enum_ints as m

TYPES = {"I8": (8, True), "U8": (8, False), "I16": (16, True), "U16": (16, False),
         "I32": (32, True), "U32": (32, False), "I64": (64, True), "U64": (64, False)}


def extremes(bits, signed):
    return (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if signed else (0, 2 ** bits - 1)


class EveryIntegerType(unittest.TestCase):
    def test_member_values_exact(self):
        for name, (bits, signed) in TYPES.items():
            with self.subTest(name):
                cls = getattr(m, name)
                lo, hi = extremes(bits, signed)
                self.assertEqual(cls.MIN.value, lo)
                self.assertEqual(cls.MAX.value, hi)
                self.assertEqual(cls.ONE.value, 1)
                echo = getattr(m, "echo_" + name)
                for member in cls:
                    self.assertIs(echo(member), member)

    def test_ints_in_and_out_of_range(self):
        for name, (bits, signed) in TYPES.items():
            cls = getattr(m, name)
            if not issubclass(cls, int):
                continue
            echo = getattr(m, "echo_" + name)
            lo, hi = extremes(bits, signed)
            with self.subTest(name):
                self.assertIs(echo(lo), cls.MIN)
                self.assertIs(echo(hi), cls.MAX)
                for bad in (lo - 1, hi + 1, 2 ** 64, -(2 ** 64), 2 ** 200, 5 if hi > 5 else -5):
                    with self.assertRaisesRegex(ValueError, rf"is not a valid {name}$"):
                        echo(bad)

    def test_plain_enum_refuses_ints(self):
        with self.assertRaisesRegex(TypeError, r"must be U32, not int"):
            m.echo_U32(0)

    def test_bool_underlying(self):
        self.assertEqual((m.Truth.NO.value, m.Truth.YES.value), (0, 1))
        self.assertIs(m.echo_Truth(m.Truth.YES), m.Truth.YES)
        self.assertIs(m.echo_Truth(1), m.Truth.YES)
        self.assertIs(m.echo_Truth(True), m.Truth.YES)
        for bad in (2, -1):
            with self.assertRaises(ValueError):
                m.echo_Truth(bad)


class Flags(unittest.TestCase):
    def test_uint64_top_bit(self):
        self.assertTrue(issubclass(m.Flag64, enum.IntFlag))
        self.assertEqual(m.Flag64.HIGH.value, 2 ** 63)
        self.assertEqual(m.raw_Flag64(m.Flag64.HIGH), 2 ** 63)
        self.assertEqual(m.raw_Flag64(2 ** 63), 2 ** 63)
        with self.assertRaises(ValueError):
            m.raw_Flag64(-(2 ** 63))
        with self.assertRaises(ValueError):
            m.raw_Flag64(2 ** 64)
        with self.assertRaises(ValueError):
            m.raw_Flag64(2)             # not a declared bit

    def test_combinations_both_ways(self):
        both = m.Flag64.HIGH | m.Flag64.LOW
        self.assertEqual(m.raw_Flag64(both), 2 ** 63 + 1)
        self.assertEqual(m.echo_Flag64(both), both)
        self.assertEqual(m.make_Flag64(2 ** 63 + 2 ** 32 + 1), m.Flag64.HIGH | m.Flag64.MID | m.Flag64.LOW)
        self.assertEqual(m.make_Flag64(0), m.Flag64(0))
        rw = m.Perm.R | m.Perm.W
        self.assertTrue(issubclass(m.Perm, enum.Flag) and not issubclass(m.Perm, int))
        self.assertEqual(m.raw_Perm(rw), 6)
        self.assertEqual(m.raw_Perm(~m.Perm.X), 6)
        self.assertEqual(m.raw_Perm(rw & m.Perm.W), 2)
        self.assertEqual(m.raw_Perm(rw ^ m.Perm.R), 2)
        self.assertEqual(m.make_Perm(7), m.Perm.R | m.Perm.W | m.Perm.X)
        with self.assertRaisesRegex(TypeError, r"must be Perm, not int"):
            m.raw_Perm(6)               # a Flag (not IntFlag) takes members only
        with self.assertRaises(ValueError):
            m.make_Perm(8)              # no such bit
        self.assertEqual(m.raw_SignedBits(m.SignedBits.C | m.SignedBits.A), 2 ** 30 + 1)
        self.assertEqual(m.raw_SignedBits(3), 3)
        with self.assertRaises(ValueError):
            m.raw_SignedBits(-1)


if __name__ == "__main__":
    unittest.main()
