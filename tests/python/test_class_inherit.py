"""Special methods through extends<> (pyo3cpp_test_class_inherit): every special method a bound
class can define x {defined on the base only, a sibling of its slot group overridden in the
subclass, the same one overridden} x {one level, two levels} x {the bound class, a Python
subclass of it, a Python subclass overriding the sibling}. The expectation follows Python's own
lookup: the nearest class defining the method wins; a class defining __eq__ without __hash__
is unhashable."""
import os
import unittest

# Built only where -Dclass_inherit_tests is on (scripts/test: 3.11, 3.13t, ASan on 3.11); where
# it is on, a missing module is an error, not a skip.
if os.environ.get("PYO3CPP_CLASS_INHERIT_TESTS") == "0":
    raise unittest.SkipTest("built with -Dclass_inherit_tests=false")
import pyo3cpp_test_class_inherit as m  # noqa: E402

DUNDERS = m.DUNDERS
SIBLING = {d: DUNDERS[i] for d, i in zip(DUNDERS, m.SIBLING)}
CASES = ("base", "sibling", "same")
UNHASHABLE = object()


def chain_for(dunder, case, levels):
    """What each class of the line defines, most derived first: {name: tag}."""
    own = {"base": {}, "sibling": {SIBLING[dunder]: "S"}, "same": {dunder: "S"}}[case]
    line = [own]
    if levels == 2:
        line.append({})           # Mid defines nothing
    line.append({dunder: "B"})    # Base
    return line


def expected(dunder, line):
    for defs in line:
        if dunder == "__hash__":
            if "__hash__" in defs:
                return defs["__hash__"]
            if "__eq__" in defs:
                return UNHASHABLE
        elif dunder in defs:
            return defs[dunder]
    raise AssertionError("no class defines " + dunder)


def observe(dunder, obj, other):
    """What `dunder` does on obj, as the tag of the implementation that ran."""
    def num(n):
        return {1: "B", 2: "S"}.get(n, n)
    if dunder == "__repr__":
        return repr(obj)
    if dunder == "__str__":
        return str(obj)
    if dunder == "__len__":
        return num(len(obj))
    if dunder == "__bool__":
        return "B" if bool(obj) else "S"
    if dunder == "__iter__":
        return list(iter(obj))[0]
    if dunder == "__next__":
        return next(obj)
    if dunder == "__getitem__":
        return obj[0]
    if dunder == "__contains__":
        return "B" if "B" in obj else ("S" if "S" in obj else None)
    if dunder == "__setitem__":
        obj[0] = 1
        return obj.last().split(":")[1]
    if dunder == "__delitem__":
        del obj[0]
        return obj.last().split(":")[1]
    if dunder == "__eq__":
        return obj == other
    if dunder == "__ne__":
        return obj != other
    if dunder == "__lt__":
        return obj < other
    if dunder == "__le__":
        return obj <= other
    if dunder == "__gt__":
        return obj > other
    if dunder == "__ge__":
        return obj >= other
    if dunder == "__hash__":
        try:
            return num(hash(obj))
        except TypeError:
            return UNHASHABLE
    if dunder == "__call__":
        return obj()
    raise AssertionError(dunder)


def python_subclass(cls, sibling=None):
    body = {}
    if sibling is not None:
        body[sibling] = lambda self, *args: "P"
    return type("Py" + cls.__name__, (cls,), body)


class SpecialMethodInheritance(unittest.TestCase):
    def check(self, dunder, case, levels, python):
        cls = getattr(m, ("Sub" if levels == 1 else "Leaf") + dunder + "_" + case)
        line = chain_for(dunder, case, levels)
        if python == "subclass":
            cls, line = python_subclass(cls), [{}] + line
        elif python == "sibling":
            sib = SIBLING[dunder]
            cls, line = python_subclass(cls, sib), [{sib: "P"}] + line
        want = expected(dunder, line)
        got = observe(dunder, cls(), cls())
        self.assertEqual(got, want, f"{dunder} on {cls.__name__} ({case}, {levels} level(s), "
                                    f"python={python}): got {got!r}, want {want!r}")

    def test_bases_themselves(self):
        for dunder in DUNDERS:
            with self.subTest(dunder=dunder):
                base = getattr(m, "Base" + dunder)
                self.assertEqual(observe(dunder, base(), base()), expected(dunder, [{dunder: "B"}]))

    def test_issue_examples(self):
        # Sub defines __hash__ only: the base's __eq__ still compares.
        a, b = m.Sub__eq___sibling(), m.Sub__eq___sibling()
        self.assertEqual(a == b, "B")
        self.assertEqual(hash(a), 2)
        # Sub defines __eq__, the base __lt__: '<' still works.
        self.assertEqual(m.Sub__lt___sibling() < m.Sub__lt___sibling(), "B")
        # Sub defines __delitem__, the base __setitem__: item assignment still works.
        s = m.Sub__setitem___sibling()
        s[1] = 5
        self.assertEqual(s.last(), "set:B")
        del s[1]
        self.assertEqual(s.last(), "del:S")


def _add(dunder, case, levels, python):
    name = f"test{dunder}{case}_{levels}_level_python_{python}"
    setattr(SpecialMethodInheritance, name,
            lambda self: self.check(dunder, case, levels, python))


for _d in DUNDERS:
    for _c in CASES:
        for _l in (1, 2):
            for _p in ("none", "subclass", "sibling"):
                _add(_d, _c, _l, _p)


if __name__ == "__main__":
    unittest.main()
