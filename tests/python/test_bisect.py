"""pyo3cpp_bisect against CPython's own _bisect: same results, same errors, same calls made on
the sequence, and atomic insorts when 8 threads share one list with the GIL off."""
import random
import sys
import sysconfig
import time
import unittest

from thread_race import run_threads
import weakref

import _bisect as ref
import pyo3cpp_bisect as port

NAMES = ["bisect_left", "bisect_right", "insort_left", "insort_right"]


def outcome(function, *args, **kwargs):
    try:
        return ("ok", function(*args, **kwargs))
    except Exception as exc:  # noqa: BLE001 - we compare whatever is raised
        return (type(exc), str(exc))


class ApiTest(unittest.TestCase):
    def test_names_docstrings_signatures(self):
        self.assertEqual(port.__doc__, ref.__doc__)
        for name in NAMES:
            if sys.version_info >= (3, 13):  # the ports carry 3.13's text (3.11's lacks `key`)
                # ... as CPython wraps it since 3.14 (and late 3.13 releases); earlier 3.13
                # releases wrap one line differently, so the words are compared, not the breaks.
                self.assertEqual(" ".join(getattr(port, name).__doc__.split()),
                                 " ".join(getattr(ref, name).__doc__.split()), name)
                if sys.version_info >= (3, 14):
                    self.assertEqual(getattr(port, name).__doc__, getattr(ref, name).__doc__, name)
            self.assertEqual(getattr(port, name).__text_signature__,
                             getattr(ref, name).__text_signature__, name)
        self.assertIs(port.bisect, port.bisect_right)
        self.assertIs(port.insort, port.insort_right)


class RandomEquivalenceTest(unittest.TestCase):
    def test_random_searches_and_insorts(self):
        for seed in range(200):
            rng = random.Random(seed)
            n = rng.choice([0, 1, 2, 5, 30, 200])
            kind = rng.choice(["int", "float", "str", "tuple", "mixed_num"])
            make = {
                "int": lambda: rng.randrange(-20, 20),
                "float": lambda: rng.choice([rng.random(), float(rng.randrange(4))]),
                "str": lambda: "".join(rng.choice("ab") for _ in range(rng.randrange(3))),
                "tuple": lambda: (rng.randrange(3), rng.randrange(3)),
                "mixed_num": lambda: rng.choice([rng.randrange(5), rng.random() * 5, True]),
            }[kind]
            a = sorted(make() for _ in range(n))
            b = list(a)
            for step in range(40):
                name = rng.choice(NAMES)
                x = make()
                kwargs = {}
                if rng.random() < 0.4:
                    kwargs["lo"] = rng.randrange(0, n + 3)
                if rng.random() < 0.4:
                    kwargs["hi"] = rng.choice([None, rng.randrange(0, n + 3), -1])
                if rng.random() < 0.2:
                    kwargs["key"] = (lambda v: v) if "insort" in name else None
                positional = rng.random() < 0.5
                args = (x,)
                if positional and "lo" in kwargs:
                    args = (x, kwargs.pop("lo"))
                    if "hi" in kwargs:
                        args = args + (kwargs.pop("hi"),)
                expected = outcome(getattr(ref, name), a, *args, **kwargs)
                got = outcome(getattr(port, name), b, *args, **kwargs)
                self.assertEqual(got, expected, f"seed {seed} step {step} {name} {args} {kwargs}")
                self.assertEqual(b, a, f"seed {seed} step {step}")

    def test_key_function(self):
        rng = random.Random(3)
        records = sorted(((rng.randrange(50), i) for i in range(100)), key=lambda r: r[0])
        first = lambda r: r[0]  # noqa: E731
        for probe in range(-1, 52):
            for name in ["bisect_left", "bisect_right"]:
                self.assertEqual(getattr(port, name)(records, probe, key=first),
                                 getattr(ref, name)(records, probe, key=first))
        a, b = list(records), list(records)
        for i in range(60):
            item = (rng.randrange(50), 1000 + i)
            ref.insort_left(a, item, key=first)
            port.insort_left(b, item, key=first)
            ref.insort_right(a, item, key=first)
            port.insort_right(b, item, key=first)
        self.assertEqual(a, b)

    def test_key_called_on_items_and_on_x_for_insort_only(self):
        calls = {}
        for impl in (ref, port):
            seen = []
            key = lambda v: seen.append(v) or v  # noqa: E731
            impl.bisect_right([1, 2, 3, 4, 5], 2, key=key)
            impl.insort_right([1, 2, 3, 4, 5], 2.5, key=key)
            calls[impl] = seen
        self.assertEqual(calls[port], calls[ref])
        self.assertNotIn(2, calls[port][:1])   # bisect: x itself is never keyed
        self.assertIn(2.5, calls[port])        # insort: it is

    def test_non_list_sequences(self):
        class Recorder:
            def __init__(self, data):
                self.data, self.log = list(data), []

            def __len__(self):
                self.log.append("len")
                return len(self.data)

            def __getitem__(self, i):
                self.log.append(("get", i))
                return self.data[i]

            def insert(self, i, x):
                self.log.append(("insert", i, x))
                self.data.insert(i, x)

        for name in NAMES:
            for x in [-1, 3, 4, 100]:
                r1, r2 = Recorder(range(0, 20, 2)), Recorder(range(0, 20, 2))
                self.assertEqual(outcome(getattr(port, name), r2, x),
                                 outcome(getattr(ref, name), r1, x))
                self.assertEqual(r2.log, r1.log, name)
                self.assertEqual(r2.data, r1.data)
        for seq in [(1, 2, 3), range(10), "abcdef"]:
            for x in [seq[1], seq[-1]]:
                for name in ["bisect_left", "bisect_right"]:
                    self.assertEqual(getattr(port, name)(seq, x), getattr(ref, name)(seq, x))

    def test_list_subclass_insert_is_called(self):
        class Logged(list):
            def insert(self, i, x):
                self.calls = getattr(self, "calls", 0) + 1
                super().insert(i, x)
        a = Logged([1, 3])
        port.insort(a, 2)
        self.assertEqual((a, a.calls), ([1, 2, 3], 1))


class ErrorTest(unittest.TestCase):
    def compare(self, *args, **kwargs):
        for name in NAMES:
            got = outcome(getattr(port, name), *args, **kwargs)
            expected = outcome(getattr(ref, name), *args, **kwargs)
            self.assertEqual(got, expected, (name, args, kwargs))
            self.assertNotEqual(got[0], "ok", (name, args, kwargs))

    def test_argument_errors(self):
        self.compare()
        self.compare([1])
        self.compare([1], 1, 0, 1, 3)
        self.compare([1], 1, 0, 1, key=None, x=3)
        self.compare([1], 1, foo=1)
        self.compare([1], foo=1)             # missing x is reported before the unknown keyword
        self.compare([1], 2, foo=1, a=[2])   # name-and-position before the unknown keyword
        self.compare([1], 2, key=None, foo=1, bar=2)
        self.compare(x=1, a=[1], lo=0, hi=1, key=None, foo=3)
        self.compare([1], 2, 0, hi=1, lo=0)
        self.compare([1], 2, a=[1])
        self.compare(x=1)
        self.compare([1], 2, -1)
        self.compare([1], 2, lo=-5)
        self.compare([1], 2, "x")
        self.compare([1], 2, 0.5)
        self.compare([1], 2, 0, "x")
        self.compare([1], 2, 0, 1.5)
        self.compare([1], 2, 2 ** 70)
        self.compare([1], 2, 0, 2 ** 70)
        self.compare(5, 1)
        self.compare({1: 2}, 1)
        self.compare({1}, 1)
        self.compare(5, 1, 0, 1)
        self.compare([1], 1, 0, 5)
        self.compare([1], 1, key=1)
        self.compare([1, 2], "a")
        for name in ["insort_left", "insort_right"]:   # tuples have no insert()
            self.assertEqual(outcome(getattr(port, name), (1,), 2, key=lambda v: v),
                             outcome(getattr(ref, name), (1,), 2, key=lambda v: v))

    def test_keywords_accepted(self):
        for name in ["bisect_left", "bisect_right"]:
            self.assertEqual(
                getattr(port, name)(a=[1, 2, 3], x=2, lo=0, hi=None, key=None),
                getattr(ref, name)(a=[1, 2, 3], x=2, lo=0, hi=None, key=None))
            self.assertEqual(getattr(port, name)([1, 2, 3], 2, hi=-1),
                             getattr(ref, name)([1, 2, 3], 2, hi=-1))
            self.assertEqual(getattr(port, name)([1, 2, 3], 2, 0, -2), 0)
            self.assertEqual(getattr(port, name)([1, 2, 3], 2, True), getattr(ref, name)([1, 2, 3], 2, True))

    def test_comparison_and_key_errors_propagate(self):
        class Bad:
            def __lt__(self, other):
                raise ZeroDivisionError("bad lt")
        for name in NAMES:
            self.assertEqual(outcome(getattr(port, name), [1, 2, 3], Bad()),
                             outcome(getattr(ref, name), [1, 2, 3], Bad()))
            boom = lambda v: 1 / 0  # noqa: E731
            self.assertEqual(outcome(getattr(port, name), [1, 2, 3], 1, key=boom),
                             outcome(getattr(ref, name), [1, 2, 3], 1, key=boom))

    @unittest.skipIf(sys.version_info < (3, 13), "3.11's _bisect has no same-type fast path")
    def test_not_implemented_falls_back_like_cpython(self):
        class Half:
            calls = 0

            def __init__(self, v):
                self.v = v

            def __lt__(self, other):
                Half.calls += 1
                return NotImplemented if Half.calls % 2 else self.v < other.v

            def __gt__(self, other):
                return self.v > other.v
        results = []
        for impl in (ref, port):
            Half.calls = 0
            data = [Half(i) for i in range(10)]
            results.append((outcome(impl.bisect_left, data, Half(4)), Half.calls))
        self.assertEqual(results[0], results[1])

    def test_mutation_during_comparison(self):
        # __lt__ (or key) shrinks the list: CPython reads a[mid] through sq_item, which raises
        # IndexError; we must do the same and never crash.
        for name in NAMES:
            for shrink_to in [0, 1, 3]:
                runs = []
                for impl in (ref, port):
                    data = list(range(20))

                    def key(v, data=data):
                        del data[shrink_to:]
                        return v
                    runs.append((outcome(getattr(impl, name), data, 7, key=key), list(data)))
                self.assertEqual(runs[1], runs[0], (name, shrink_to))

    def test_items_compared_survive_removal(self):
        class Dropper:
            def __init__(self, v, data):
                self.v, self.data = v, data

            def __lt__(self, other):
                self.data.clear()  # drops the list's references to both operands
                return self.v < getattr(other, "v", other)
        data = []
        data.extend(Dropper(i, data) for i in range(10))
        ref_alive = weakref.ref(data[5])
        with self.assertRaises(IndexError):
            port.bisect_left(data, Dropper(3, data))
        self.assertIsNone(ref_alive())


class ReferenceTest(unittest.TestCase):
    def test_refcounts_balanced(self):
        class Item:
            def __init__(self, v):
                self.v = v

            def __lt__(self, other):
                return self.v < other.v
        x = Item(5)
        key = lambda item: item  # noqa: E731
        before = sys.getrefcount(x)
        data = [Item(i) for i in range(10)]
        for _ in range(20):
            port.bisect_left(data, x)
            port.bisect_right(data, x, 2, 8, key=key)
        self.assertEqual(sys.getrefcount(x), before)
        port.insort_left(data, x)
        port.insort_right(data, x, key=key)
        self.assertEqual(sys.getrefcount(x), before + 2)
        for bad in [lambda: port.insort(data, x, key=lambda i: 1 / 0),
                    lambda: port.insort(data, x, -1), lambda: port.bisect(5, x)]:
            self.assertRaises(Exception, bad)
        self.assertEqual(sys.getrefcount(x), before + 2)
        data.clear()
        self.assertEqual(sys.getrefcount(x), before)


class RaceTest(unittest.TestCase):
    """8 threads insort into one shared list at once: the list stays sorted, every item is there
    once. Without a critical section around search + insert the list can end up unsorted."""

    THREADS = 8
    ROUNDS = 10
    PER_THREAD = 600

    def test_insort_race(self):
        for round_number in range(self.ROUNDS):
            shared = list(range(0, 4000, 4))

            def worker(index):
                rng = random.Random(round_number * 100 + index)
                for i in range(self.PER_THREAD):
                    value = rng.randrange(4000) * 10 + index  # unique per thread via set check
                    (port.insort_left if i % 2 else port.insort_right)(shared, value)
                    if i % 5 == 0:
                        port.bisect_left(shared, value)

            run_threads(self.THREADS, worker)  # re-raises any worker's exception
            self.assertEqual(len(shared), 1000 + self.THREADS * self.PER_THREAD,
                             f"round {round_number}: items lost")
            self.assertTrue(all(shared[i] <= shared[i + 1] for i in range(len(shared) - 1)),
                            f"round {round_number}: list unsorted")

    def test_insort_with_key_race(self):
        # A Python key runs inside the list's exclusive section; a stop-the-world GC starting
        # inside it suspends the critical section, but not pyo3cpp's object lock, so other
        # insorts still stay out (the GC is left on on purpose).
        self.key_race(lambda t: t[0])

    @unittest.skipUnless(sysconfig.get_config_var("Py_GIL_DISABLED"),
                         "GIL builds: a blocking key releases the GIL, as with CPython's _bisect")
    def test_insort_with_blocking_key_race(self):
        # A key that blocks detaches its thread, which suspends a plain critical section: another
        # insort could then insert between this one's search and its insert (unsorted list).
        def key(t):
            if t[0] % 3 == 0:
                time.sleep(0)  # detaches
            return t[0]
        self.key_race(key, per_thread=150)

    def key_race(self, key, per_thread=300):
        shared = []

        def worker(index):
            for i in range(per_thread):
                port.insort(shared, (i * 7919 % 1000, index), key=key)

        run_threads(self.THREADS, worker)
        self.assertEqual(len(shared), per_thread * self.THREADS)
        keys = [t[0] for t in shared]
        self.assertEqual(keys, sorted(keys))


if __name__ == "__main__":
    unittest.main()
