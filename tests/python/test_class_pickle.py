"""def_pickle never loses state (pyo3cpp_test_class_pickle): any state value, None and falsy
ones included, round-trips pickle protocols 0-5, copy.copy and copy.deepcopy; a Python
subclass's __dict__ and __slots__ survive as they do for CPython's own types."""
import copy
import pickle
import unittest

import pyo3cpp_test_class_pickle as m

STATES = [None, 0, "", b"", [], {}, (), set(), frozenset(), 0.0, False, 7, "x", [1, [2]], {"k": (1,)}]
PROTOCOLS = range(0, pickle.HIGHEST_PROTOCOL + 1)


class WithDict(m.Keeper):
    pass


class WithSlots(m.Keeper):
    __slots__ = ("a", "b")


class WithBoth(m.Keeper):
    __slots__ = ("a", "__dict__")


def round_trips(obj):
    """(how, copy) for every way a copy can be made."""
    for proto in PROTOCOLS:
        yield f"pickle protocol {proto}", pickle.loads(pickle.dumps(obj, proto))
    yield "copy.copy", copy.copy(obj)
    yield "copy.deepcopy", copy.deepcopy(obj)


class AnyState(unittest.TestCase):
    def test_optional_state(self):
        for value in (None, 0, 5, -(2 ** 62)):
            for how, made in round_trips(m.Maybe(value)):
                with self.subTest(value=value, how=how):
                    self.assertIs(type(made), m.Maybe)
                    self.assertEqual(made.get(), value)

    def test_any_state_value(self):
        for state in STATES:
            for how, made in round_trips(m.Keeper(state)):
                with self.subTest(state=state, how=how):
                    self.assertEqual(made.get(), state)
                    self.assertIs(type(made.get()), type(state))

    def test_deepcopy_copies_the_state(self):
        original = m.Keeper([1, [2]])
        self.assertIsNot(copy.deepcopy(original).get(), original.get())
        self.assertIs(copy.copy(original).get(), original.get())

    def test_python_subclass_dict(self):
        obj = WithDict(None)
        obj.note = ["kept"]
        for how, made in round_trips(obj):
            with self.subTest(how=how):
                self.assertIs(type(made), WithDict)
                self.assertIsNone(made.get())
                self.assertEqual(made.note, ["kept"])

    def test_python_subclass_slots(self):
        obj = WithSlots("")
        obj.a = 0              # b stays unset, as CPython's own reconstruction leaves it
        for how, made in round_trips(obj):
            with self.subTest(how=how):
                self.assertIs(type(made), WithSlots)
                self.assertEqual(made.get(), "")
                self.assertEqual(made.a, 0)
                self.assertFalse(hasattr(made, "b"))

    def test_python_subclass_slots_and_dict(self):
        obj = WithBoth({})
        obj.a, obj.extra = None, {"x": 1}
        for how, made in round_trips(obj):
            with self.subTest(how=how):
                self.assertEqual((made.get(), made.a, made.extra), ({}, None, {"x": 1}))

    def test_subclass_overrides_are_used(self):
        made = pickle.loads(pickle.dumps(Doubling(3)))
        self.assertEqual(made.get(), 6)


class Doubling(m.Keeper):
    def __getstate__(self):
        return self.get() * 2


if __name__ == "__main__":
    unittest.main()
