"""Examples and test extensions are what users copy (issue 26, bug 5): arithmetic on C++ integers
raises OverflowError instead of wrapping (UBSan: signed integer overflow), C API results are
checked, and arguments out of a function's domain give the answer CPython's own function gives
or a clear exception, never SystemError."""
import unittest

import pyo3cpp_stubs_probe as probe
import pyo3cpp_test_bindings as bindings
import pyo3cpp_test_classes as classes
import pyo3cpp_test_module as module

BIG = 2**63 - 1
SMALL = -(2**63)


class Overflow(unittest.TestCase):
    def test_counter_example(self):
        try:
            import pyo3cpp_counter
        except ImportError:  # configured without -Dexamples=true
            self.skipTest("examples not built")
        c = pyo3cpp_counter.Counter(3)
        with self.assertRaises(OverflowError):
            c.add(BIG)
        self.assertEqual(c.value, 3)  # unchanged by the failed add
        self.assertEqual(c.add(4), 7)
        c = pyo3cpp_counter.Counter(-3)
        with self.assertRaises(OverflowError):
            c.add(SMALL)
        c = pyo3cpp_counter.Counter(1, step=BIG)
        with self.assertRaises(OverflowError):
            c.add()

    def test_test_extension_functions(self):
        cases = [
            (bindings.add, (BIG, 1)), (bindings.add, (SMALL, -1)),
            (bindings.twice, (2**62,)), (bindings.twice, (-(2**62) - 1,)),
            (bindings.total, ({"a": BIG, "b": 1},)), (bindings.total, ({"a": SMALL, "b": -1},)),
            (bindings.sub.triple, (2**62,)),
            (module.add, (BIG, 1)), (module.maybe, (2**62,)), (module.sub.triple, (-(2**62),)),
        ]
        for fn, args in cases:
            with self.subTest(fn=fn.__qualname__, args=args):
                with self.assertRaises(OverflowError):
                    fn(*args)
        # In range they still answer.
        self.assertEqual(bindings.add(BIG - 1, 1), BIG)
        self.assertEqual(bindings.twice(2**61), 2**62)
        self.assertEqual(bindings.total({"a": BIG - 1, "b": 1}), BIG)
        self.assertEqual(bindings.sub.triple(3), 9)
        self.assertEqual(module.add(SMALL + 1, -1), SMALL)
        self.assertEqual(module.maybe(5), 50)
        self.assertEqual(module.maybe(None), -1)
        self.assertEqual(module.sub.triple(-3), -9)

    def test_class_methods(self):
        c = classes.Counter(3)
        with self.assertRaises(OverflowError):
            c.add(BIG)
        self.assertEqual(c.get(), 3)
        t = classes.Tally()
        t.add(BIG)
        with self.assertRaises(OverflowError):
            t.add(1)
        self.assertEqual(t.n, BIG)
        a, b = classes.Counter(BIG), classes.Counter(1)
        with self.assertRaises(OverflowError):
            classes.total(a, b)


class CheckedResults(unittest.TestCase):
    def test_seq_len_passes_len_errors_on(self):
        class Bad:
            def __len__(self):
                raise ValueError("no length")

            def __getitem__(self, i):
                raise IndexError

        with self.assertRaisesRegex(ValueError, "no length"):
            probe.seq_len(Bad())
        self.assertEqual(probe.seq_len([1, 2, 3]), 3)

    def test_bisect_left_with_a_negative_hi_is_cpythons(self):
        import bisect
        data = [1, 2, 3, 4]
        for lo, hi in ((0, -5), (0, -1), (2, -5), (0, -2), (1, 0)):
            with self.subTest(lo=lo, hi=hi):
                self.assertEqual(module.bisect_left(data, 2, lo, hi), bisect.bisect_left(data, 2, lo, hi))


if __name__ == "__main__":
    unittest.main()
