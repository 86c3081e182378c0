"""How bound objects end (pyo3cpp_test_class_lifetime): chains of a million bound objects and
deep nestings of lists inside them free without overflowing the C stack, on the main thread and
on a thread with the default stack; values replaced or dropped while an instance lock is held
never run Python code (__del__, weakref callbacks) under that lock."""
import gc
import os
import subprocess
import sys
import textwrap
import unittest
import weakref

import pyo3cpp_test_class_lifetime as m

UNDER_ASAN = "libasan" in os.environ.get("LD_PRELOAD", "")


def run_script(source, timeout=300):
    """A stack overflow kills the process: each scenario runs in a child of its own."""
    return subprocess.run([sys.executable, "-c", textwrap.dedent(source)], capture_output=True,
                          text=True, timeout=timeout)


DEEP = """
import gc, sys, threading
import pyo3cpp_test_class_lifetime as m

def chain(cls, n):
    head = None
    for _ in range(n):
        head = cls(head)
    return head

def mixed(n):  # GcLink -> Link -> GcLink ...: GC and non-GC levels alternate
    head = None
    for i in range(n):
        head = (m.GcLink if i % 2 else m.Link)(head)
    return head

def nested_lists(n):  # Holder([Holder([... ])]): lists and bound objects alternate
    x = None
    for _ in range(n):
        x = m.Holder([x])
    return x

def lists_inside(n):  # one bound object holding a nesting of n lists
    x = []
    for _ in range(n):
        x = [x]
    return m.Holder(x)

def cycle(n):  # a GC-only chain: its tail links back to its head (freed by tp_clear)
    tail = m.GcLink(None)
    head = tail
    for _ in range(n - 1):
        head = m.GcLink(head)
    tail.next = head
    return None

def scenario():
    {body}
    gc.collect()
    assert m.live() == 0, m.live()

if "{where}" == "thread":
    errors = []
    def run():
        try:
            scenario()
        except BaseException as exc:
            errors.append(exc)
    t = threading.Thread(target=run)
    t.start()
    t.join()
    if errors:
        raise errors[0]
else:
    scenario()
print("ok")
"""

SCENARIOS = {
    "chain_without_gc": "x = chain(m.Link, N); del x",
    "chain_with_gc": "x = chain(m.GcLink, N); del x",
    "chain_of_bound_subclass": "x = chain(m.SubLink, N); del x",
    "chain_mixing_gc_and_not": "x = mixed(N); del x",
    "lists_and_bound_objects_alternating": "x = nested_lists(N // 10); del x",
    "lists_inside_one_bound_object": "x = lists_inside(N // 10); del x",
    "cycle_cleared_by_gc": "gc.disable(); cycle(N); gc.enable()",
}


class DeepStructures(unittest.TestCase):
    N = 100_000 if UNDER_ASAN else 1_000_000

    def run_scenario(self, name, where):
        body = SCENARIOS[name].replace("N", str(self.N))
        result = run_script(DEEP.replace("{body}", body).replace("{where}", where))
        self.assertEqual(result.returncode, 0,
                         f"{name} (on the {where}): exit {result.returncode}\n{result.stderr[-2000:]}")
        self.assertEqual(result.stdout.strip(), "ok")


def _add(name, where):
    setattr(DeepStructures, f"test_{name}_{where}", lambda self: self.run_scenario(name, where))


for _name in SCENARIOS:
    for _where in ("main", "thread"):
        _add(_name, _where)


class Victim:
    """Dropped by the library while it changes `slot`: its __del__ and a weakref callback on it
    both use `slot`, which only works if the lock is no longer held."""

    def __init__(self, slot, log):
        self.slot = slot
        self.log = log

    def __del__(self):
        try:
            self.log.append(("del", self.slot.peek()))
        except Exception as exc:  # reported by the test, not as unraisable noise
            self.log.append(("del", exc))


def watch(victim, slot, log):
    slot_ref = weakref.ref(slot)  # the callback must not keep the slot alive (the GC test)

    def callback(_ref):
        try:
            alive = slot_ref()
            log.append(("weakref", alive.peek() if alive is not None else None))
        except Exception as exc:
            log.append(("weakref", exc))
    return weakref.ref(victim, callback)


class NoPythonCodeUnderTheLock(unittest.TestCase):
    def setUp(self):
        self.slot = m.Slot()
        self.log = []

    def plant(self, store):
        victim = Victim(self.slot, self.log)
        self.ref = watch(victim, self.slot, self.log)
        store(victim)
        del victim

    def check(self, expect_item):
        self.assertEqual(sorted(self.log, key=lambda e: e[0]),
                         [("del", expect_item), ("weakref", expect_item)])

    def test_def_readwrite_of_py(self):
        self.plant(lambda v: setattr(self.slot, "item", v))
        self.slot.item = None
        self.check(True)        # None is the new item: set before the old one goes

    def test_def_property_setter(self):
        self.plant(lambda v: setattr(self.slot, "via_setter", v))
        self.slot.via_setter = 5
        self.check(True)

    def test_init_run_again(self):
        self.plant(lambda v: self.slot.__init__(v))
        self.slot.__init__(None)
        self.check(False)

    def test_result_moved_out(self):
        self.plant(lambda v: self.slot.put(v))
        self.slot.take()        # the result is the victim; dropped by the caller, unlocked
        self.check(False)

    def test_cleared_by_gc(self):
        self.plant(lambda v: setattr(self.slot, "item", v))
        slot = self.slot
        self.slot = None
        del slot
        gc.collect()            # slot -> victim -> slot: a cycle
        self.assertEqual([e[0] for e in sorted(self.log, key=lambda e: e[0])], ["del", "weakref"])
        for _, seen in self.log:
            self.assertNotIsInstance(seen, Exception)

    def test_failed_setter_keeps_the_old_value(self):
        self.plant(lambda v: setattr(self.slot, "item", v))
        with self.assertRaises(AttributeError):
            del self.slot.item
        self.assertEqual(self.log, [])
        self.slot.item = None
        self.check(True)


class KeywordValuesHeldForTheCall(unittest.TestCase):
    """A C caller's kwargs dict, changed by a conversion during the call (CPython's own
    vectorcall path holds the values it unpacks from a dict, so does the library's)."""

    def test_dict_cleared_by_a_conversion(self):
        import ctypes
        events = []
        kept = []
        kwargs = {}

        class Clears:
            def __index__(self):
                kwargs.clear()          # drops the dict's reference to `second`'s value
                events.append("first converted")
                return 7

        class Second(str):
            def __del__(self):
                events.append("second freed")
                kept.append(self)       # resurrected: its memory stays valid either way

        kwargs["first"] = Clears()
        kwargs["second"] = Second("two")
        call = ctypes.pythonapi.PyObject_Call
        call.restype = ctypes.py_object
        call.argtypes = [ctypes.py_object, ctypes.py_object, ctypes.py_object]
        pair = call(m.Pair, (), kwargs)
        self.assertEqual((pair.first, pair.second), (7, "two"))
        self.assertEqual(events, ["first converted", "second freed"])


class NestedRethrow(unittest.TestCase):
    def test_rethrown_pyerr_is_not_its_own_cause(self):
        def fail():
            raise ValueError("inner")
        with self.assertRaises(ValueError) as caught:
            m.rethrow_nested(fail)
        self.assertIsNot(caught.exception.__cause__, caught.exception)
        self.assertIsNone(caught.exception.__cause__)
        self.assertEqual(str(caught.exception), "inner")


if __name__ == "__main__":
    unittest.main()
