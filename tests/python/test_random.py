"""examples/random (pyo3cpp_random): a port of CPython's _random.Random on pyo3cpp's class API,
checked bit for bit against the interpreter's own _random, under random.Random, and under
threads sharing one generator (free-threaded builds run them in parallel)."""
import _random
import copy
import importlib.util
import inspect
import random as std_random
import sys
import unittest

import pyo3cpp_random
from thread_race import run_threads

Ours, Theirs = pyo3cpp_random.Random, _random.Random
BIT_COUNTS = (1, 5, 31, 32, 33, 63, 64, 65, 96, 100, 1000)


def int_seeds():
    seeds = list(range(-1000, 1000))
    for k in range(1, 300, 7):
        seeds += [2 ** k, 2 ** k - 1, -(2 ** k) + 1, 3 ** k]
    rng = std_random.Random(20261206)
    seeds += [rng.getrandbits(rng.randrange(1, 2000)) for _ in range(500)]
    return seeds


def random_module_on(module):
    """random.py's source run with `module` as its _random (so random.Random subclasses it)."""
    spec = importlib.util.spec_from_file_location("random_on_" + module.__name__, std_random.__file__)
    loaded = importlib.util.module_from_spec(spec)
    saved = sys.modules["_random"]
    sys.modules["_random"] = module
    try:
        spec.loader.exec_module(loaded)
    finally:
        sys.modules["_random"] = saved
    return loaded


def fingerprint(gen):
    out = [gen.getstate()]
    out += [gen.random() for _ in range(3)]
    out += [gen.getrandbits(k) for k in BIT_COUNTS]
    out.append(gen.getstate())
    return out


def raised(call):
    try:
        call()
    except Exception as exc:  # the type and text are what is compared
        return type(exc), str(exc)
    return None


class BitIdentical(unittest.TestCase):
    def test_int_seeds(self):
        seeds = int_seeds()
        self.assertGreater(len(seeds), 2500)
        for seed in seeds:
            self.assertEqual(fingerprint(Ours(seed)), fingerprint(Theirs(seed)), seed)

    def test_seed_method_and_other_hashables(self):
        class Abs(int):
            def __abs__(self):      # never called: int.__abs__ is, as in CPython
                return 5
        seeds = [0.5, -2.25, 1e300, "text", b"bytes", (1, "two", 3.0), frozenset({1, 2}), True,
                 Abs(-77), Abs(12345678901234567890123), 2 ** 64, -(2 ** 64)]
        for seed in seeds:
            ours, theirs = Ours(), Theirs()
            ours.seed(seed)
            theirs.seed(seed)
            self.assertEqual(fingerprint(ours), fingerprint(theirs), seed)
        self.assertEqual(raised(lambda: Ours().seed([1])), raised(lambda: Theirs().seed([1])))
        # arity errors are worded by pyo3cpp's binder, as for every bound function: same type
        self.assertEqual(raised(lambda: Ours().seed(1, 2))[0], raised(lambda: Theirs().seed(1, 2))[0])

    def test_entropy_seed(self):
        a, b = Ours(), Ours(None)
        self.assertNotEqual(a.getstate(), b.getstate())
        self.assertEqual(len(a.getstate()), 625)
        a.seed()
        a.seed(None)
        self.assertEqual(a.getstate()[0], 0x80000000)   # init_by_array's mark, as CPython's
        self.assertEqual(a.getstate()[624], 624)

    def test_state_round_trips_across_implementations(self):
        theirs = Theirs(99)
        for index in (0, 1, 311, 623, 624):
            words = list(theirs.getstate())
            words[624] = index
            ours, ref = Ours(), Theirs()
            ours.setstate(tuple(words))
            ref.setstate(tuple(words))
            self.assertEqual(fingerprint(ours), fingerprint(ref), index)
        ours = Ours(5)
        ref = Theirs()
        ref.setstate(ours.getstate())
        self.assertEqual(fingerprint(ours), fingerprint(ref))
        # words past 32 bits are truncated, as CPython's setstate does
        words = [2 ** 40 + i for i in range(624)] + [10]
        ours, ref = Ours(), Theirs()
        ours.setstate(tuple(words))
        ref.setstate(tuple(words))
        self.assertEqual(fingerprint(ours), fingerprint(ref))

    def test_state_errors_match(self):
        good = Theirs(1).getstate()
        bad_states = [list(good), good[:-1], good + (0,), good[:-1] + (625,), good[:-1] + (-1,),
                      (-1,) + good[1:], ("x",) + good[1:], good[:-1] + ("x",), good[:-1] + (2 ** 70,), 5]
        for state in bad_states:
            expected = raised(lambda: Theirs().setstate(state))
            self.assertIsNotNone(expected)
            self.assertEqual(raised(lambda: Ours().setstate(state)), expected, repr(state)[:60])
        # a failed setstate leaves the generator as it was
        ours = Ours(3)
        before = ours.getstate()
        self.assertIsNotNone(raised(lambda: ours.setstate(good[:-1] + (625,))))
        self.assertEqual(ours.getstate(), before)

    def test_getrandbits_edges(self):
        for k in (0, 1, 32, 64, 10_000):
            self.assertEqual(Ours(7).getrandbits(k), Theirs(7).getrandbits(k))
        self.assertEqual(raised(lambda: Ours().getrandbits(-1)), raised(lambda: Theirs().getrandbits(-1)))
        self.assertEqual(raised(lambda: Ours().getrandbits(1.5))[0], TypeError)

    def test_new_without_init_is_a_zeroed_generator(self):
        ours, theirs = Ours.__new__(Ours), Theirs.__new__(Theirs)
        self.assertEqual(fingerprint(ours), fingerprint(theirs))

    def test_init_rules(self):
        for call in (lambda cls: cls(1, 2), lambda cls: cls(x=1), lambda cls: cls([1])):
            self.assertEqual(raised(lambda: call(Ours)), raised(lambda: call(Theirs)))
            self.assertIsNotNone(raised(lambda: call(Ours)))

        def subclasses(base):
            class Keeps(base):
                pass

            class Own(base):
                def __init__(self, seed, *, extra=None):
                    super().__init__(seed)
                    self.extra = extra
            return Keeps, Own
        (ok, own), (tk, town) = subclasses(Ours), subclasses(Theirs)
        self.assertEqual(raised(lambda: ok(seed=1)), raised(lambda: tk(seed=1)))
        self.assertIsNotNone(raised(lambda: ok(seed=1)))
        self.assertEqual(fingerprint(own(8, extra=1)), fingerprint(town(8, extra=1)))
        self.assertEqual(fingerprint(ok(8)), fingerprint(tk(8)))

    def test_signatures_match(self):
        for name in ("seed", "getstate", "setstate", "getrandbits", "random"):
            self.assertEqual(str(inspect.signature(getattr(Ours(), name))),
                             str(inspect.signature(getattr(Theirs(), name))), name)
        self.assertTrue(Ours.__doc__.startswith("Random() -> create a random number generator"))


class UnderRandomRandom(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.ours = random_module_on(pyo3cpp_random)

    def test_random_random_sits_on_the_port(self):
        self.assertIn(pyo3cpp_random.Random, self.ours.Random.__mro__)

    def test_same_draws_as_the_standard_module(self):
        def draws(mod, seed):
            r = mod.Random(seed)
            items = list(range(50))
            r.shuffle(items)
            return [r.random(), r.randrange(10 ** 30), r.randint(-5, 5), r.choice("abcdef"),
                    r.gauss(0, 1), r.uniform(1, 2), r.sample(range(1000), 5), r.getrandbits(200),
                    r.randbytes(9), r.expovariate(2.0), r.choices("xyz", k=4), items, r.getstate()]
        for seed in [0, 1, -5, 2 ** 100, "a string", b"bytes", 3.5, 123456789]:
            self.assertEqual(draws(self.ours, seed), draws(std_random, seed), seed)

    def test_state_and_copy(self):
        r = self.ours.Random(11)
        s = std_random.Random(11)
        r.setstate(s.getstate())
        self.assertEqual(r.random(), s.random())
        twin = copy.deepcopy(r)
        self.assertEqual([twin.random() for _ in range(5)], [r.random() for _ in range(5)])
        with self.assertRaisesRegex(ValueError, "state with version"):
            r.setstate((99, (), None))


class Threads(unittest.TestCase):
    """8 threads share one generator: each call owns it, so the draws are exactly the pieces of
    one single-threaded sequence (a torn state would repeat or invent values)."""

    def check_shared(self, draw, per_thread, rounds=3):
        for round_ in range(rounds):
            seed = 1000 + round_
            shared = Ours(seed)
            got = [None] * 8

            def work(i):
                got[i] = [draw(shared) for _ in range(per_thread)]
            run_threads(8, work)
            reference = Ours(seed)
            expected = sorted(draw(reference) for _ in range(8 * per_thread))
            self.assertEqual(sorted(v for part in got for v in part), expected)
            self.assertEqual(shared.getstate(), reference.getstate())

    def test_random_from_8_threads(self):
        self.check_shared(lambda g: g.random(), 5_000)

    def test_multiword_getrandbits_from_8_threads(self):
        self.check_shared(lambda g: g.getrandbits(1000), 400)


if __name__ == "__main__":
    unittest.main()
