"""Every failure the binding-layer fuzzer (tests/fuzz/fuzz_bindings.py) has found, as a test.
Each names the seed that found it (kept in tests/fuzz/seeds.txt)."""
import unittest

import pyo3cpp_fuzz_target as t


class KeywordNames(unittest.TestCase):
    # Seed 2, call 29: vectorcall(kw_var, (-8, 6), kwnames=(('a',),)) returned (-8, 0, False, 1):
    # a non-str name went into **kwargs. CPython: "keywords must be strings".
    def test_non_str_names_are_refused_even_into_kwargs(self):
        for name in [("a",), 1, None, b"a"]:
            for fn in (t.kw_var, t.kw_fast, t.kw_defaults):
                with self.subTest(fn=fn.__name__, name=name):
                    with self.assertRaisesRegex(TypeError, "keywords must be strings"):
                        t.vectorcall(fn, (1, 2, 3), (name,))
            with self.assertRaisesRegex(TypeError, "takes no keyword arguments"):
                t.vectorcall(t.positional, (1, 2, 3), (name,))

    # Found with the same seed's neighbours: a name given twice through vectorcall was kept once
    # in **kwargs (the last value won). CPython: "got multiple values for keyword argument".
    def test_duplicate_names_into_kwargs(self):
        with self.assertRaisesRegex(TypeError, "multiple values for keyword argument 'x'"):
            t.vectorcall(t.kw_var, (1, 2, 3), ("x", "x"))
        with self.assertRaisesRegex(TypeError, "multiple values for argument 'flag'"):
            t.vectorcall(t.kw_var, (1, True, False), ("flag", "flag"))
        self.assertEqual(t.vectorcall(t.kw_var, (1, 2, 3), ("x", "y")), (1, 0, False, 2))


if __name__ == "__main__":
    unittest.main()
