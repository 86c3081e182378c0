"""pyo3cpp_heapq against CPython's own _heapq: same results, same errors, and no lost items when
8 threads share one heap with the GIL off."""
import gc
import heapq as heapq_py
import random
import sys
import sysconfig
import time
import unittest

from thread_race import run_threads
import weakref

import _heapq as ref
import pyo3cpp_heapq as port

REAL_REF = ref
if hasattr(REAL_REF, "heappop_max"):
    # 3.14 made the max-heap functions public and dropped _heapq's private ones; the port keeps
    # the private names too (heapq.py of 3.11/3.13 calls them). Here they are checked against the
    # public functions, with the function's name in CPython's messages read as the private one.
    class _PrivateNamesOf314:
        def __getattr__(self, name):
            if not (name.startswith("_") and name.endswith("_max")):
                return getattr(REAL_REF, name)
            public = getattr(REAL_REF, name[1:])

            def call(*args):
                try:
                    return public(*args)
                except Exception as exc:
                    if exc.args and isinstance(exc.args[0], str):
                        exc.args = (exc.args[0].replace(name[1:], name, 1),) + exc.args[1:]
                    raise
            return call

    ref = _PrivateNamesOf314()

SHARED_NAMES = ["heappush", "heappop", "heapify", "heapreplace", "heappushpop",
                "_heappop_max", "_heapreplace_max", "_heapify_max"]
PUBLIC_MAX_NAMES = ["heappush_max", "heappop_max", "heapify_max", "heapreplace_max",
                    "heappushpop_max"]


# ---- a reference for 3.14's public max-heap functions (absent from 3.11/3.13's _heapq),
# built on _heapq's private max variants and heapq.py's max sift helpers, as 3.14 defines them.
def ref_heappush_max(heap, item):
    if not isinstance(heap, list):
        raise TypeError
    heap.append(item)
    heapq_py._siftdown_max(heap, 0, len(heap) - 1)


def ref_heappushpop_max(heap, item):
    if heap and item < heap[0]:
        item, heap[0] = heap[0], item
        heapq_py._siftup_max(heap, 0)
    return item


REF_MAX = {"heappush_max": ref_heappush_max, "heappop_max": ref._heappop_max,
           "heapify_max": ref._heapify_max, "heapreplace_max": ref._heapreplace_max,
           "heappushpop_max": ref_heappushpop_max}


def reference(name):
    return getattr(ref, name) if hasattr(ref, name) else REF_MAX[name]


def outcome(function, *args):
    """What a call did: ("ok", result) or (exception type, message without module prefix)."""
    try:
        return ("ok", function(*args))
    except Exception as exc:  # noqa: BLE001 - we compare whatever is raised
        return (type(exc), str(exc).replace("pyo3cpp_heapq.", "_heapq."))


def is_min_heap(h):
    return all(not h[(i - 1) // 2] > h[i] for i in range(1, len(h)))


def is_max_heap(h):
    return all(not h[(i - 1) // 2] < h[i] for i in range(1, len(h)))


class ApiTest(unittest.TestCase):
    def test_functions_present(self):
        for name in SHARED_NAMES + PUBLIC_MAX_NAMES:
            self.assertTrue(callable(getattr(port, name)), name)

    def test_docstrings_and_signatures_match(self):
        self.assertEqual(port.__doc__, REAL_REF.__doc__)
        # Every name this interpreter's _heapq has matches it exactly (3.14+: the public max-heap
        # functions; 3.11/3.13: the private ones).
        for name in [n for n in SHARED_NAMES + PUBLIC_MAX_NAMES if n in vars(REAL_REF)]:
            self.assertEqual(getattr(port, name).__doc__, getattr(ref, name).__doc__, name)
            self.assertEqual(getattr(port, name).__text_signature__,
                             getattr(ref, name).__text_signature__, name)
        for name in PUBLIC_MAX_NAMES:
            self.assertTrue(getattr(port, name).__doc__, name)
            self.assertTrue(getattr(port, name).__text_signature__.endswith("/)"), name)

    def test_module_is_gil_free(self):
        if hasattr(sys, "_is_gil_enabled") and not sys.flags.ignore_environment:
            import sysconfig
            if sysconfig.get_config_var("Py_GIL_DISABLED"):
                self.assertFalse(sys._is_gil_enabled())


class RandomEquivalenceTest(unittest.TestCase):
    """Random operation sequences give the same results and the same lists as _heapq."""

    def values(self, rng, kind, n):
        if kind == "int":
            return [rng.randrange(-50, 50) for _ in range(n)]
        if kind == "float":
            return [rng.choice([rng.random(), float(rng.randrange(5))]) for _ in range(n)]
        if kind == "str":
            return ["".join(rng.choice("abc") for _ in range(rng.randrange(4))) for _ in range(n)]
        return [(rng.randrange(5), rng.randrange(3)) for _ in range(n)]  # tuples

    def test_min_operations(self):
        self.run_sequences(["heappush", "heappop", "heapreplace", "heappushpop", "heapify"])

    def test_max_operations(self):
        self.run_sequences(["_heappop_max", "_heapreplace_max", "_heapify_max", "heappush_max",
                            "heappop_max", "heapify_max", "heapreplace_max", "heappushpop_max"])

    def run_sequences(self, names):
        for seed in range(120):
            rng = random.Random(seed)
            kind = rng.choice(["int", "float", "str", "tuple"])
            start = self.values(rng, kind, rng.choice([0, 1, 2, 7, 40, 3000]))
            a, b = list(start), list(start)
            for step in range(60):
                name = rng.choice(names)
                if name.endswith("heapify") or name.endswith("heapify_max"):
                    args = ()
                elif "pop" in name and "pushpop" not in name:
                    args = ()
                else:
                    args = (self.values(rng, kind, 1)[0],)
                expected = outcome(reference(name), a, *args)
                got = outcome(getattr(port, name), b, *args)
                self.assertEqual(got, expected, f"seed {seed} step {step} {name}")
                self.assertEqual(b, a, f"seed {seed} step {step} {name}")

    def test_heapify_large_and_small_orders(self):
        # > 2500 items uses the cache-friendly traversal in both implementations.
        for n in [0, 1, 2, 3, 10, 2500, 2501, 4096, 5000]:
            rng = random.Random(n)
            data = [rng.random() for _ in range(n)]
            for name in ["heapify", "_heapify_max"]:
                a, b = list(data), list(data)
                getattr(ref, name)(a)
                getattr(port, name)(b)
                self.assertEqual(a, b, (n, name))
            c = list(data)
            port.heapify_max(c)
            self.assertTrue(is_max_heap(c))

    def test_heapsort(self):
        rng = random.Random(7)
        data = [rng.randrange(1000) for _ in range(500)]
        h = []
        for x in data:
            port.heappush(h, x)
        self.assertEqual([port.heappop(h) for _ in range(len(data))], sorted(data))
        h = []
        for x in data:
            port.heappush_max(h, x)
        self.assertEqual([port.heappop_max(h) for _ in range(len(data))],
                         sorted(data, reverse=True))

    def test_list_subclass_accepted(self):
        class MyList(list):
            pass
        h = MyList([5, 3, 1])
        port.heapify(h)
        self.assertEqual(port.heappop(h), 1)
        port.heappush(h, 0)
        self.assertEqual(h[0], 0)


class ErrorTest(unittest.TestCase):
    def test_non_list_heap(self):
        for name in SHARED_NAMES:
            for bad in [None, (1,), 5, "abc", {1: 2}]:
                takes_item = name in ("heappush", "heapreplace", "heappushpop", "_heapreplace_max")
                args = (bad, 1) if takes_item else (bad,)
                self.assertEqual(outcome(getattr(port, name), *args),
                                 outcome(getattr(ref, name), *args), (name, bad))
        for name in PUBLIC_MAX_NAMES:
            args = (None,) if name in ("heappop_max", "heapify_max") else (None, 1)
            with self.assertRaisesRegex(TypeError, "must be list, not None"):
                getattr(port, name)(*args)

    def test_argument_counts_and_keywords(self):
        for name in ["heappush", "heapreplace", "heappushpop", "_heapreplace_max"]:
            for args in [(), ([],), ([], 1, 2)]:
                self.assertEqual(outcome(getattr(port, name), *args),
                                 outcome(getattr(ref, name), *args), (name, args))
            with self.assertRaises(TypeError):
                getattr(port, name)(heap=[], item=1)
        for name in ["heappop", "heapify", "_heappop_max", "_heapify_max"]:
            self.assertEqual(outcome(getattr(port, name)), outcome(getattr(ref, name)))

    def test_empty_heap(self):
        for name in ["heappop", "_heappop_max", "heappop_max"]:
            self.assertEqual(outcome(getattr(port, name), []), (IndexError, "index out of range"))
        for name in ["heapreplace", "_heapreplace_max", "heapreplace_max"]:
            self.assertEqual(outcome(getattr(port, name), [], 1),
                             (IndexError, "index out of range"))
        self.assertEqual(port.heappushpop([], 4), 4)
        self.assertEqual(port.heappushpop_max([], 4), 4)

    def test_comparison_raises(self):
        class Boom:
            def __init__(self, value, fuse):
                self.value, self.fuse = value, fuse

            def __lt__(self, other):
                self.fuse[0] -= 1
                if self.fuse[0] == 0:
                    raise ZeroDivisionError("boom")
                return self.value < other.value

            def __repr__(self):
                return f"B{self.value}"

        for name in SHARED_NAMES:
            for fuse_at in range(1, 12):
                runs = []
                for impl in (ref, port):
                    fuse = [10 ** 9]  # no explosion while the heap is prepared
                    heap = [Boom(v, fuse) for v in [1, 4, 2, 8, 5, 7, 3, 9, 6, 0, 11]]
                    if not name.endswith("heapify") and not name.endswith("heapify_max"):
                        heapq_py.heapify(heap) if "max" not in name else heapq_py._heapify_max(heap)
                    fuse[0] = fuse_at
                    args = (heap,) if "pop" in name and "pushpop" not in name or "heapify" in name \
                        else (heap, Boom(5, fuse))
                    result = outcome(getattr(impl, name), *args)
                    if result[0] == "ok":
                        result = ("ok", getattr(result[1], "value", result[1]))
                    runs.append((result, [b.value for b in heap]))
                self.assertEqual(runs[1], runs[0], (name, fuse_at))

    def test_comparison_mutates_heap(self):
        actions = {
            "clear": lambda h: h.clear(),
            "append": lambda h: h.append(Mutating(100, None)),
            "pop": lambda h: h.pop(),
            "replace_items": lambda h: h.__setitem__(slice(None), [Mutating(-i, None)
                                                                   for i in range(len(h))]),
        }
        for name in SHARED_NAMES:
            for action_name, action in actions.items():
                for when in range(1, 8):
                    runs = []
                    for impl in (ref, port):
                        state = {"count": 0, "when": 0, "action": action}  # inert while prepared
                        heap = [Mutating(v, state) for v in [3, 1, 4, 1, 5, 9, 2, 6, 5, 3]]
                        if "heapify" not in name:
                            (heapq_py._heapify_max if "max" in name else heapq_py.heapify)(heap)
                        state.update(heap=heap, count=0, when=when)
                        args = (heap,) if "pop" in name and "pushpop" not in name or \
                            "heapify" in name else (heap, Mutating(4, state))
                        result = outcome(getattr(impl, name), *args)
                        if result[0] == "ok":
                            result = ("ok", getattr(result[1], "value", result[1]))
                        runs.append((result, [m.value for m in heap]))
                    self.assertEqual(runs[1], runs[0], (name, action_name, when))
        # The size check is what CPython reports:
        state = {"count": 0, "when": 1, "action": actions["clear"]}
        heap = [Mutating(v, state) for v in [1, 2, 3]]
        state["heap"] = heap
        with self.assertRaisesRegex(RuntimeError, "list changed size during iteration"):
            port.heappush(heap, Mutating(0, state))

    def test_comparison_protocol(self):
        """NotImplemented, reflected __gt__, non-bool results, unorderable types: every step of
        Python's `<` happens as in _heapq, with the same calls in the same order."""
        log = []

        class Item:
            def __init__(self, v, lt="value", gt="value"):
                self.v, self.lt, self.gt = v, lt, gt

            def __lt__(self, other):
                log.append(("lt", self.v, other.v))
                return {"value": self.v < other.v, "ni": NotImplemented,
                        "int": int(self.v < other.v), "bad": BadBool()}[self.lt]

            def __gt__(self, other):
                log.append(("gt", self.v, other.v))
                return NotImplemented if self.gt == "ni" else self.v > other.v

        class BadBool:
            def __bool__(self):
                raise ArithmeticError("no truth")

        class SubItem(Item):
            pass

        cases = [dict(lt="ni"), dict(lt="int"), dict(lt="bad"), dict(lt="ni", gt="ni")]
        for case in cases:
            for name in ["heappush", "heappop", "heapify", "heappushpop", "_heapreplace_max"]:
                runs = []
                for impl in (ref, port):
                    log.clear()
                    heap = [Item(v, **case) for v in [5, 1, 4, 2, 3]]
                    extra = (Item(0, **case),) if name in ("heappush", "heappushpop",
                                                            "_heapreplace_max") else ()
                    result = outcome(getattr(impl, name), heap, *extra)
                    if result[0] == "ok":
                        result = ("ok", getattr(result[1], "v", result[1]))
                    runs.append((result, [i.v for i in heap], list(log)))
                self.assertEqual(runs[1], runs[0], (case, name))
        for mixed in ([1, 2.5, True, 0.5, 3], [SubItem(3), Item(1), SubItem(2), Item(0)],
                      [1, "a"], [None, None], [(1, "a"), (1, 2)]):
            runs = []
            for impl in (ref, port):
                log.clear()
                heap = list(mixed)
                runs.append((outcome(impl.heapify, heap), heap if not log else
                             [getattr(i, "v", i) for i in heap], list(log)))
            self.assertEqual(runs[1], runs[0], mixed)

    def test_no_reference_leaks_on_errors(self):
        class Token:
            def __lt__(self, other):
                raise ValueError("no order")
        tokens = [Token() for _ in range(8)]
        refs = [weakref.ref(t) for t in tokens]
        heap = list(tokens)
        for _ in range(50):
            for call in (lambda: port.heapify(heap), lambda: port.heappush(heap, Token()),
                         lambda: port.heappop(heap), lambda: port.heapreplace(heap, Token())):
                with self.assertRaises((ValueError, IndexError)):
                    call()
        del tokens, heap, call
        gc.collect()
        self.assertTrue(all(r() is None for r in refs))

    def test_refcounts_balanced(self):
        item = object.__new__(type("Item", (), {"__lt__": lambda s, o: id(s) < id(o)}))
        before = sys.getrefcount(item)
        heap = []
        for _ in range(100):
            port.heappush(heap, item)
        for _ in range(50):
            port.heappop(heap)
        port.heapreplace(heap, item)
        port.heappushpop(heap, item)
        port.heapify(heap)
        self.assertEqual(sys.getrefcount(item), before + len(heap))
        heap.clear()
        self.assertEqual(sys.getrefcount(item), before)


class Mutating:
    """Compares by value; on the state's `when`-th comparison runs the state's action."""

    def __init__(self, value, state):
        self.value, self.state = value, state

    def __lt__(self, other):
        state = self.state or other.state
        if state is not None:
            state["count"] += 1
            if state["count"] == state["when"]:
                state["action"](state["heap"])
        return self.value < other.value


class RaceTest(unittest.TestCase):
    """8 threads push and pop on one heap at once: nothing lost, nothing duplicated, heap holds.
    With the GIL off this fails for CPython 3.13.5's own _heapq (no critical section)."""

    THREADS = 8
    ROUNDS = 10
    PER_THREAD = 1500

    def test_push_pop_race_min_heap(self):
        self.race(port.heappush, port.heappop, port.heappushpop, port.heapreplace, is_min_heap)

    def test_push_pop_race_max_heap(self):
        self.race(port.heappush_max, port.heappop_max, port.heappushpop_max,
                  port.heapreplace_max, is_max_heap)

    def race(self, push, pop, pushpop, replace, invariant):
        for round_number in range(self.ROUNDS):
            heap = list(range(-200, 0))
            (port.heapify if invariant is is_min_heap else port.heapify_max)(heap)
            popped = [[] for _ in range(self.THREADS)]

            def worker(index):
                base = (index + 1) * 1_000_000
                for i in range(self.PER_THREAD):
                    value = base + i
                    r = i % 4
                    if r == 0:
                        push(heap, value)
                    elif r == 1:
                        popped[index].append(pushpop(heap, value))
                    elif r == 2:
                        push(heap, value)
                        popped[index].append(pop(heap))
                    else:
                        popped[index].append(replace(heap, value))

            run_threads(self.THREADS, worker)  # re-raises any worker's exception
            pushed = set(range(-200, 0))
            for index in range(self.THREADS):
                pushed.update(range((index + 1) * 1_000_000,
                                    (index + 1) * 1_000_000 + self.PER_THREAD))
            out = [x for chunk in popped for x in chunk] + heap
            self.assertEqual(len(out), len(pushed), f"round {round_number}: items lost/duplicated")
            self.assertEqual(set(out), pushed, f"round {round_number}")
            self.assertTrue(invariant(heap), f"round {round_number}: heap invariant broken")

    @unittest.skipUnless(sysconfig.get_config_var("Py_GIL_DISABLED"),
                         "GIL builds: a blocking __lt__ releases the GIL, as with CPython's _heapq")
    def test_race_with_comparisons_that_block(self):
        # An __lt__ that blocks detaches its thread, which suspends a plain critical section: a
        # second heappush/heappop could then run in the middle of the first one's sift (lost or
        # duplicated items, "list changed size" errors). The ports' exclusive section keeps two
        # operations on one heap apart even then (free-threaded builds).
        class Blocking:
            __slots__ = ("value",)

            def __init__(self, value):
                self.value = value

            def __lt__(self, other):
                if self.value % 4 == 0:
                    time.sleep(0)  # releases the GIL / detaches
                return self.value < other.value

        for round_number in range(3):
            heap = [Blocking(v) for v in range(-100, 0)]
            port.heapify(heap)
            popped = [[] for _ in range(self.THREADS)]

            def worker(index):
                base = (index + 1) * 1_000_000
                for i in range(150):
                    port.heappush(heap, Blocking(base + i))
                    if i % 2:
                        popped[index].append(port.heappop(heap).value)

            run_threads(self.THREADS, worker)  # re-raises any worker's exception
            pushed = set(range(-100, 0))
            for index in range(self.THREADS):
                pushed.update(range((index + 1) * 1_000_000, (index + 1) * 1_000_000 + 150))
            out = [x for chunk in popped for x in chunk] + [item.value for item in heap]
            self.assertEqual(len(out), len(pushed), f"round {round_number}: items lost/duplicated")
            self.assertEqual(set(out), pushed, f"round {round_number}")
            values = [item.value for item in heap]
            self.assertTrue(is_min_heap(values), f"round {round_number}: heap invariant broken")


if __name__ == "__main__":
    unittest.main()
