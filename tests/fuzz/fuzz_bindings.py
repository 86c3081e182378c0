"""A deterministic, seeded fuzzer for the binding layer (argument conversion and keyword binding),
driving the pyo3cpp_fuzz_target extension (tests/ext/pyo3cpp_fuzz_target.cpp).

Each seed drives a random.Random that builds CALLS_PER_SEED calls: a function of the target
(one per supported parameter type and keyword layout), and arguments drawn from scalars at every
integer boundary, strings with surrogates, NULs and astral characters, every container, enums,
class instances (initialised, uninitialised, of the wrong class) and hostile objects whose
__index__/__float__/__iter__/__next__/__len__/__length_hint__/__eq__/__hash__/__del__ raise, lie
or mutate the containers of the same call. Keywords are passed by name, duplicated, unknown, and,
through the target's raw vectorcall entry, as non-str names.

A call passes when it returns what a model of the conversion says (for arguments made only of
plain builtins) or raises one of the exceptions a conversion may raise. It fails on anything
else: SystemError, an unexpected exception type, a wrong result, a crash (which the sanitizers
report: run it under ASan/UBSan). A failure prints the seed; `--seed S` replays it.

    python fuzz_bindings.py --seconds 60 --corpus tests/fuzz/seeds.txt   # CI: corpus, then new seeds
    python fuzz_bindings.py --seed 1234                                   # replay one seed
Output: one TAP line (`--tap`), and "fuzz: N executions ..." with the number of calls made.
"""
import argparse
import faulthandler
import gc
import math
import os
import random
import sys
import time

import pyo3cpp_fuzz_target as t

CALLS_PER_SEED = 200


class Hostile(Exception):
    """Raised by the fuzzer's hostile dunders: a conversion must pass it on unchanged."""


# What a failed conversion or binding may raise (Hostile: the object's own error, passed on).
ALLOWED = (TypeError, ValueError, OverflowError, RuntimeError, MemoryError, UnicodeError,
           KeyError, IndexError, AttributeError, RecursionError, Hostile)


def quiet_unraisable(unraisable):
    # A hostile __del__ raises while an object is freed: CPython reports and ignores it.
    pass


# ---------------------------------------------------------------- values

BOUNDARY_INTS = sorted({s * 2**b + d for b in (7, 8, 15, 16, 31, 32, 63, 64)
                        for s in (1, -1) for d in (-1, 0, 1)} | {0, 1, -1, 2**200, -(2**200)})
ALPHABET = ["a", "b", "z", "0", " ", "\x00", "\ud800", "\udfff", "\udc80", "\U0001f600", "é",
            "\uffff", "\u0100", "\n"]


class Env:
    """The objects one call's hostile values act on."""

    def __init__(self, rng):
        self.rng = rng
        self.containers = []  # lists, dicts, sets built for this call
        self.hostiles = []

    def act(self, budget_owner):
        """A mutation of some container of this call (bounded: a few per hostile object)."""
        if budget_owner.budget <= 0 or not self.containers:
            return
        budget_owner.budget -= 1
        target = self.rng.choice(self.containers)
        action = self.rng.randrange(6)
        try:
            if isinstance(target, list):
                if action == 0:
                    target.clear()
                elif action == 1:
                    target.append(fresh_text(self.rng))
                elif action == 2 and target:
                    del target[self.rng.randrange(len(target))]
                elif action == 3:
                    target[:] = [fresh_text(self.rng) for _ in range(self.rng.randrange(4))]
                else:
                    target.insert(0, self.rng.randrange(10))
            elif isinstance(target, dict):
                if action == 0:
                    target.clear()
                elif action == 1:
                    target[fresh_text(self.rng)] = self.rng.randrange(10)
                elif action == 2 and target:
                    target.pop(next(iter(target)))
                elif action == 3 and target:
                    target.pop(next(iter(target)))
                    target[fresh_text(self.rng)] = 1
                else:
                    for key in list(target)[:2]:
                        target[key] = fresh_text(self.rng)
            elif isinstance(target, set):
                if action < 3:
                    target.clear()
                else:
                    target.add(fresh_text(self.rng))
        except Exception:
            pass
        if self.rng.randrange(4) == 0:
            gc.collect()


def fresh_text(rng, plain_only=True):
    alphabet = ALPHABET[:5] if plain_only else ALPHABET
    n = rng.choice((0, 1, 3, 20, 60))
    return "".join(rng.choice(alphabet) for _ in range(n)) + "%d" % rng.randrange(10**6)


class HostileBase:
    def __init__(self, env, mode):
        self.env = env
        self.mode = mode
        self.budget = 3
        env.hostiles.append(self)

    def misbehave(self, lie):
        """raise / lie (return `lie`) / mutate a container, then answer truthfully."""
        if self.mode == "raise":
            raise Hostile(type(self).__name__)
        if self.mode == "lie":
            return lie
        self.env.act(self)
        return None


class HIndex(HostileBase):
    def __index__(self):
        lied = self.misbehave(self.env.rng.choice(["x", 2**100, -(2**70), 1.5, None]))
        return lied if lied is not None else 3

    def __repr__(self):
        return "HIndex(%s)" % self.mode


class HFloat(HostileBase):
    def __float__(self):
        lied = self.misbehave(self.env.rng.choice(["x", 1, None, 10**400]))
        return lied if lied is not None else 2.5


class HIterable(HostileBase):
    def __init__(self, env, mode, items):
        super().__init__(env, mode)
        self.items = items
        self.budget = 5

    def __iter__(self):
        lied = self.misbehave(self.env.rng.choice([5, None, "no"]))
        if lied is not None:
            return lied
        return HIterator(self)

    def __len__(self):
        lied = self.misbehave(self.env.rng.choice([-1, 2**62, "x"]))
        return lied if lied is not None else len(self.items)

    def __length_hint__(self):
        lied = self.misbehave(self.env.rng.choice([-1, 2**62, 2**63 - 1, 2**64, "x", 10**9]))
        return lied if lied is not None else len(self.items)


class HIterator:
    def __init__(self, owner):
        self.owner = owner
        self.at = 0

    def __iter__(self):
        return self

    def __next__(self):
        owner = self.owner
        if owner.env.rng.randrange(4) == 0:
            lied = owner.misbehave(None)
            if lied is not None:
                return lied
        if self.at >= len(owner.items):
            raise StopIteration
        self.at += 1
        return owner.items[self.at - 1]


class HKey(HostileBase):
    """A dict key: constant hash (so lookups call __eq__), __eq__/__hash__ misbehave later."""

    def __init__(self, env, mode, text):
        super().__init__(env, mode)
        self.text = text
        self.armed = False

    def __hash__(self):
        if self.armed:
            lied = self.misbehave(None)
            if lied is not None:
                return lied
        return 7

    def __eq__(self, other):
        if self.armed:
            lied = self.misbehave(NotImplemented)
            if lied is not None:
                return lied
        return self is other


class HDel(HostileBase):
    def __del__(self):
        if self.mode == "raise":
            raise Hostile("__del__")
        if self.mode == "mutate":
            self.env.act(self)


class TextSub(str):
    def __hash__(self):
        return 1

    def __eq__(self, other):
        return str.__eq__(self, other)


class IntSub(int):
    def __index__(self):
        raise Hostile("IntSub.__index__")


class ListSub(list):
    def __len__(self):
        return 10**9

    def __iter__(self):
        raise Hostile("ListSub.__iter__")


class DictSub(dict):
    def __len__(self):
        return -1

    def __iter__(self):
        raise Hostile("DictSub.__iter__")

    def items(self):
        raise Hostile("DictSub.items")


class BoxSub(t.Box):
    def __del__(self):
        gc.collect()


class Plain:
    """A value made of builtins only, and its Python value for the model."""

    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value


class Gen:
    def __init__(self, rng, env):
        self.rng = rng
        self.env = env
        self.plain = True  # every value drawn so far for this call is a plain builtin

    def scalar(self):
        r = self.rng.randrange(12)
        if r < 4:
            return self.rng.choice(BOUNDARY_INTS)
        if r == 4:
            return self.rng.choice([True, False, None])
        if r == 5:
            return self.rng.choice([0.0, -0.0, 1.5, 1e308, -1e308, math.inf, -math.inf, math.nan, 3.4e38, 1e39])
        if r < 9:
            return fresh_text(self.rng, plain_only=self.rng.randrange(3) > 0)
        if r == 9:
            return self.rng.choice([b"bytes", bytearray(b"x"), 1j, object(), t.Color.RED, t.Level.HIGH])
        return self.rng.randrange(-1000, 1000)

    def hostile(self, depth):
        self.plain = False
        env, rng = self.env, self.rng
        mode = rng.choice(["raise", "lie", "mutate", "mutate"])
        r = rng.randrange(14)
        if r < 3:
            return HIndex(env, mode)
        if r == 3:
            return HFloat(env, mode)
        if r < 6:
            return HIterable(env, mode, [self.value(depth + 1) for _ in range(rng.randrange(5))])
        if r == 6:
            return HDel(env, mode)
        if r == 7:
            return TextSub(fresh_text(rng, plain_only=False))
        if r == 8:
            return IntSub(rng.choice(BOUNDARY_INTS))
        if r == 9:
            return ListSub([self.value(depth + 1) for _ in range(rng.randrange(4))])
        if r == 10:
            return DictSub({fresh_text(rng): rng.randrange(5)})
        if r == 11:
            return rng.choice([t.Box(rng.randrange(-5, 5)), t.Box.__new__(t.Box), t.Other(),
                               BoxSub(rng.randrange(3)), t.Box.__new__(BoxSub)])
        if r == 12:
            return (self.value(depth + 1) for _ in range(rng.randrange(5)))
        return rng.choice([t.Color.RED, t.Color.BLUE, t.Level.LOW, 10, 3, t.Color])

    def value(self, depth=0):
        rng = self.rng
        r = rng.randrange(16)
        if depth > 3 or r < 6:
            return self.scalar()
        if r < 9:
            return self.hostile(depth)
        n = rng.choice((0, 1, 2, 3, 5, 12))
        if r < 12:
            items = [self.value(depth + 1) for _ in range(n)]
            self.env.containers.append(items)
            return items
        if r == 12:
            return tuple(self.value(depth + 1) for _ in range(rng.choice((0, 1, 2, 3))))
        if r < 15:
            d = {}
            for _ in range(n):
                if rng.randrange(5) == 0:
                    self.plain = False
                    key = HKey(self.env, rng.choice(["raise", "lie", "mutate"]), fresh_text(rng))
                else:
                    key = rng.choice([fresh_text(rng), rng.randrange(-50, 50)])
                try:
                    d[key] = self.value(depth + 1)
                except Hostile:  # an armed key of an earlier dict compared with this one
                    pass
            for h in self.env.hostiles:
                if isinstance(h, HKey):
                    h.armed = True
            self.env.containers.append(d)
            return d
        s = {fresh_text(rng) for _ in range(n)}
        self.env.containers.append(s)
        return s


# ---------------------------------------------------------------- functions and the model

INT_RANGES = {"i8": (-(2**7), 2**7), "u8": (0, 2**8), "i16": (-(2**15), 2**15), "u16": (0, 2**16),
              "i32": (-(2**31), 2**31), "u32": (0, 2**32), "i64": (-(2**63), 2**63),
              "u64": (0, 2**64)}
NO_MODEL = object()


def has_surrogate(text):
    return any(0xD800 <= ord(c) <= 0xDFFF for c in text)


def model_int(name, x):
    lo, hi = INT_RANGES[name]
    if isinstance(x, int):  # bool and IntEnum members too: they are ints
        return int(x) if lo <= x < hi else OverflowError
    return TypeError


def model_text(x):
    if type(x) is not str:
        return TypeError
    return UnicodeEncodeError if has_surrogate(x) else x


def model_long(x):
    return model_int("i64", x)


def model_vec(x, item_model):
    if type(x) is str:
        return TypeError
    if type(x) in (bytes, bytearray):
        x = list(x)  # iterables of ints
    if type(x) not in (list, tuple, set):
        return NO_MODEL if type(x) is dict else TypeError
    if type(x) is set:
        return NO_MODEL  # set order
    out = []
    for item in x:
        converted = item_model(item)
        if isinstance(converted, type) and issubclass(converted, BaseException):
            return converted
        if converted is NO_MODEL:
            return NO_MODEL
        out.append(converted)
    return out


def model_map(x, key_model, value_model):
    if type(x) is not dict:
        return TypeError
    out = {}
    for key, value in x.items():
        k = key_model(key)
        if isinstance(k, type):
            return k
        v = value_model(value)
        if isinstance(v, type):
            return v
        out[k] = v
    return out


def model_f64(x):
    if type(x) is float:
        return x
    if isinstance(x, int):
        return float(x) if abs(x) < 2**1000 else OverflowError
    return TypeError if type(x) in (str, bytes, bytearray, type(None), list, tuple, dict, set, complex, object) else NO_MODEL


MODELS = {name: (lambda x, name=name: model_int(name, x)) for name in INT_RANGES}
MODELS.update({
    "text": model_text, "view": model_text, "f64": model_f64,
    "boolean": lambda x: x if type(x) is bool else TypeError,
    "vec_long": lambda x: model_vec(x, model_long),
    "vec_u8": lambda x: model_vec(x, lambda i: model_int("u8", i)),
    "vec_text": lambda x: model_vec(x, model_text),
    "vec_view": lambda x: model_vec(x, model_text),
    "map_text_long": lambda x: model_map(x, model_text, model_long),
    "map_view_long": lambda x: model_map(x, model_text, model_long),
    "opt_long": lambda x: None if x is None else model_long(x),
})
ONE_ARG = sorted(set(MODELS) | {"f32", "color", "level", "opt_view", "pair_long_view", "triple",
                                "empty_tuple", "vec_vec", "vec_opt_view", "vec_pair_view",
                                "vec_object", "vec_color", "vec_box", "umap_long_view",
                                "map_text_vec", "map_long_object", "opt_vec_view", "box_value",
                                "box_copy", "box_borrowed"})
TAKES_THEN = {"vec_view", "vec_opt_view", "vec_pair_view", "vec_object", "map_view_long",
              "umap_long_view", "map_long_object", "opt_vec_view"}
def twin_kw_fast(a, b, c):
    return [(model_long, a), (model_long, b), (model_long, c)]


def twin_kw_mixed(a, /, b, *, c=3):
    return [(model_long, a), (model_long, b), (model_long, c)]


def twin_kw_defaults(a="x", b=None, c=1.5):
    return [(model_text, a), (MODELS["opt_long"], b), (model_f64, c)]


def twin_kw_var(a, *args, flag=False, **kwargs):
    return [(model_long, a), (lambda n: n, len(args)), (MODELS["boolean"], flag),
            (lambda n: n, len(kwargs))]


def twin_positional(a, b, /):
    return [(model_long, a), (model_long, b)]


# Python functions with the same signatures: how CPython binds the same call, and then the
# model of each parameter's conversion, in order.
TWINS = {"kw_fast": twin_kw_fast, "kw_mixed": twin_kw_mixed, "kw_defaults": twin_kw_defaults,
         "kw_var": twin_kw_var, "positional": twin_positional}


def model_binding(name, args, kwnames, kwvalues):
    twin = TWINS.get(name)
    if twin is None:
        return NO_MODEL
    if any(not isinstance(k, str) for k in kwnames):
        return TypeError
    if any(type(k) is not str for k in kwnames):
        return NO_MODEL  # a str subclass as a name: CPython itself treats them differently
    if len(set(kwnames)) != len(kwnames):
        return TypeError
    try:
        params = twin(*args, **dict(zip(kwnames, kwvalues)))
    except TypeError:
        return TypeError
    out = []
    for model, value in params:
        converted = model(value)
        if converted is NO_MODEL:
            return NO_MODEL
        if isinstance(converted, type):
            return converted
        out.append(converted)
    return tuple(out)


KEYWORD_FUNCTIONS = {"kw_fast": ["a", "b", "c"], "kw_mixed": ["a", "b", "c"],
                     "kw_defaults": ["a", "b", "c"], "kw_var": ["a", "flag"], "positional": [],
                     "box_set": ["b", "v"], "box_pair": ["a", "b"]}
EXTRA_NAMES = ["x", "then", "kwargs", "args", "", "a\x00", "\ud800", "é"]


class Failure(Exception):
    pass


def describe(obj):
    try:
        return repr(obj)[:300]
    except BaseException as exc:  # a hostile repr
        return "<%s, repr raised %s>" % (type(obj).__name__, type(exc).__name__)


def same_value(a, b):
    """==, with NaN equal to NaN at any depth (a converted NaN is a new float object)."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(map(same_value, a, b))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_value(a[k], b[k]) for k in a)
    return a == b


def check(seed, index, label, call, expected=NO_MODEL):
    try:
        result = call()
    except ALLOWED as exc:
        if isinstance(expected, type) and isinstance(exc, expected):
            return
        if expected is not NO_MODEL and not isinstance(expected, type):
            raise Failure("seed %d call %d: %s raised %s: %s, the model expects %s"
                          % (seed, index, label, type(exc).__name__, exc, describe(expected)))
        return
    except BaseException as exc:
        raise Failure("seed %d call %d: %s raised %s: %s" % (seed, index, label, type(exc).__name__, exc))
    if expected is NO_MODEL:
        return
    if isinstance(expected, type):
        raise Failure("seed %d call %d: %s returned %s, the model expects %s"
                      % (seed, index, label, describe(result), expected.__name__))
    if not same_value(result, expected):
        raise Failure("seed %d call %d: %s returned %s, the model expects %s"
                      % (seed, index, label, describe(result), describe(expected)))


def one_call(seed, index, rng):
    env = Env(rng)
    gen = Gen(rng, env)
    kind = rng.randrange(10)
    if kind < 6:
        name = rng.choice(ONE_ARG)
        fn = getattr(t, name)
        x = gen.value()
        expected = NO_MODEL
        if gen.plain and name in MODELS:
            try:
                expected = MODELS[name](x)
            except Exception:
                expected = NO_MODEL
        label = "%s(%s)" % (name, describe(x))
        if name in TAKES_THEN and rng.randrange(2):
            def then():
                for container in env.containers:
                    try:
                        container.clear()
                    except Exception:
                        pass
                if rng.randrange(3) == 0:
                    gc.collect()
            if rng.randrange(2):
                check(seed, index, label + " with then", lambda: fn(x, then), expected)
            else:
                check(seed, index, label + " with then=", lambda: fn(x, then=then), expected)
        else:
            check(seed, index, label, lambda: fn(x), expected)
        return
    # Keyword binding: positional, by name, duplicated, unknown, non-str (vectorcall).
    name = rng.choice(sorted(KEYWORD_FUNCTIONS))
    fn = getattr(t, name)
    names = KEYWORD_FUNCTIONS[name]
    args = [gen.value() if rng.randrange(3) == 0 else rng.randrange(-9, 9) for _ in range(rng.randrange(5))]
    kwnames = []
    for _ in range(rng.randrange(4)):
        r = rng.randrange(6)
        if r < 3 and names:
            kwnames.append(rng.choice(names))
        elif r == 3:
            kwnames.append(rng.choice(EXTRA_NAMES))
        elif r == 4:
            kwnames.append(rng.choice([1, None, b"a", ("a",), TextSub("a"), "".join(["a"])]))
        else:
            kwnames.append(fresh_text(rng))
    kwvalues = [gen.value() if rng.randrange(3) == 0 else rng.randrange(-9, 9) for _ in kwnames]
    label = "%s(*%s, %s)" % (name, describe(args), describe(list(zip(kwnames, kwvalues))))
    expected = model_binding(name, args, kwnames, kwvalues) if gen.plain else NO_MODEL
    if rng.randrange(2) and all(type(k) is str for k in kwnames) and len(set(kwnames)) == len(kwnames):
        kwargs = dict(zip(kwnames, kwvalues))
        check(seed, index, label, lambda: fn(*args, **kwargs), expected)
    else:
        packed = tuple(args) + tuple(kwvalues)
        names = tuple(kwnames) if kwnames or rng.randrange(2) else None
        check(seed, index, "vectorcall " + label, lambda: t.vectorcall(fn, packed, names), expected)


def run_seed(seed, calls):
    rng = random.Random(seed)
    for index in range(calls):
        one_call(seed, index, rng)
    return calls


def read_corpus(path):
    seeds = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if line:
                seeds.append(int(line))
    return seeds


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="run new seeds for this long")
    parser.add_argument("--corpus", help="a file of seeds (one a line) run first, in full")
    parser.add_argument("--seed", type=int, help="replay this seed only")
    parser.add_argument("--start-seed", type=int, default=1_000_000,
                        help="the first new seed (default 1000000: a CI run is reproducible)")
    parser.add_argument("--calls", type=int, default=CALLS_PER_SEED, help="calls per seed")
    parser.add_argument("--tap", action="store_true", help="report as one TAP test case")
    parser.add_argument("--watchdog", type=float, default=300.0,
                        help="abort with a traceback if one seed takes longer than this")
    options = parser.parse_args(argv)
    sys.unraisablehook = quiet_unraisable
    sys.setrecursionlimit(2000)
    if options.tap:
        print("1..1", flush=True)
    executions = 0
    start = time.monotonic()
    seeds_run = 0
    last_seed = None

    def run(seed):
        nonlocal executions, seeds_run, last_seed
        last_seed = seed
        # Written before the seed runs: if the process dies (a sanitizer report), this names it.
        print("seed %d" % seed, file=sys.stderr, flush=True)
        faulthandler.dump_traceback_later(options.watchdog, exit=True)
        executions += run_seed(seed, options.calls)
        faulthandler.cancel_dump_traceback_later()
        seeds_run += 1

    try:
        if options.seed is not None:
            run(options.seed)
        else:
            if options.corpus:
                for seed in read_corpus(options.corpus):
                    run(seed)
            seed = options.start_seed
            while time.monotonic() - start < options.seconds:
                run(seed)
                seed += 1
    except Failure as failure:
        print("%sfuzz: FAILED after %d executions: %s" % ("# " if options.tap else "", executions, failure),
              flush=True)
        if options.tap:
            print("not ok 1 - fuzz_bindings: seed %d" % last_seed, flush=True)
        return 1
    elapsed = time.monotonic() - start
    summary = ("fuzz: %d executions in %.0f s (%d seeds, last %s), 0 failures"
               % (executions, elapsed, seeds_run, last_seed))
    if options.tap:
        print("ok 1 - fuzz_bindings (%d executions)" % executions, flush=True)
        summary = "# " + summary
    print(summary, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
