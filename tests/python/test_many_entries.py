"""No limit couples two extensions (pyo3cpp_test_many_entries): one extension with 5,000
functions, 5,000 methods, 2,000 static methods and 500 classmethods, more than the runtime's
shared C entries hold; then other extensions import and run. Each scenario runs in a fresh
process (the shared entries are process-wide)."""
import subprocess
import sys
import textwrap
import unittest

SCRIPT = """
import pyo3cpp_test_many_entries as big
nf, nm, ns, nc = big.COUNTS
assert big.f_0(1) == 1 and big.f_4999(1) == 5000, "functions"
obj = big.Many()
assert obj.m_0(1) == 1 and obj.m_4999(0) == 5000, "methods"
assert big.Many.m_4999(obj, 0) == 9999, "a method through the class"
assert big.Many.s_0(3) == 6 and big.Many.s_1999(1) == 2001 and obj.s_1999(0) == 1999, "static methods"
assert big.Many.c_0(1) == (big.Many, 1) and obj.c_499(1) == (big.Many, 500), "classmethods"
class Sub(big.Many):
    pass
assert Sub.c_499(0) == (Sub, 499) and Sub().m_4999(1) == 5000, "a Python subclass"
try:
    big.Many.m_4999(5, 1)
except TypeError as exc:
    assert "Many instance" in str(exc), exc
else:
    raise AssertionError("a method accepted an int as its instance")
try:
    big.Many.__dict__["c_499"].__func__(int, 1)
except TypeError as exc:
    assert "subclass of Many" in str(exc), exc
else:
    raise AssertionError("a classmethod accepted another class")
import inspect
for f in (big.f_4999, obj.m_4999, big.Many.c_499, big.Many.s_1999):
    assert str(inspect.signature(f)) == "(x)", (f, inspect.signature(f))
assert str(inspect.signature(big.Many.m_4999)) == "(self, x)", inspect.signature(big.Many.m_4999)
# Unrelated extensions imported after it: their functions, methods, statics, classmethods.
import pyo3cpp_test_classes as classes
c = classes.Counter(2)
c.add(3)
assert c.get() == 5
assert classes.Counter.from_text("7").get() == 7
assert classes.Counter.with_start(4).get() == 4
import pyo3cpp_test_class_lifetime as lifetime
s = lifetime.Slot()
s.put(1)
assert s.peek()
print("ok")
"""


class NoLimitCouplesExtensions(unittest.TestCase):
    def test_big_extension_then_others(self):
        result = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                                timeout=300)
        self.assertEqual(result.returncode, 0, result.stderr[-3000:])
        self.assertEqual(result.stdout.strip(), "ok")


if __name__ == "__main__":
    unittest.main()
