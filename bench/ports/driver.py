"""One benchmark workload on one implementation: CPython's own _heapq/_bisect/_random ("cpython")
or the pyo3cpp ports ("pyo3cpp"). Run by ./scripts/bench-ports, under callgrind and on the wall clock.

    python driver.py IMPL WORKLOAD [--setup-only] [--time REPEATS]

Every workload is a C-level loop (map over the function, drained by a zero-length deque), so
almost all the work is inside the module; the Python-side overhead is identical for both
implementations. --setup-only builds the same data and stops: callgrind's count for the
workload is (full run) - (setup-only run).
"""
import collections
import itertools
import random
import sys
import time

SIZE = 20_000          # heap / probe count
SORTED_SIZE = 100_000  # the sorted list bisect searches


RANDOM_WORKLOADS = ("random", "getrandbits", "getrandbits_wide", "seed", "state")


def load(impl, workload):
    if workload in RANDOM_WORKLOADS:
        if impl == "cpython":
            import _random
            return _random, None
        import pyo3cpp_random
        return pyo3cpp_random, None
    if impl == "cpython":
        import _bisect
        import _heapq
        return _heapq, _bisect
    import pyo3cpp_bisect
    import pyo3cpp_heapq
    return pyo3cpp_heapq, pyo3cpp_bisect


def prepare_random(workload, module, drain):
    """_random.Random and its port: the same C-level loops over bound methods."""
    gen = module.Random(12345)
    if workload == "random":            # random() x SIZE
        return lambda: drain(itertools.starmap(gen.random, itertools.repeat((), SIZE)))
    if workload == "getrandbits":       # getrandbits(32) x SIZE
        return lambda: drain(map(gen.getrandbits, itertools.repeat(32, SIZE)))
    if workload == "getrandbits_wide":  # getrandbits(1000) x SIZE/10
        return lambda: drain(map(gen.getrandbits, itertools.repeat(1000, SIZE // 10)))
    if workload == "seed":              # seed(int) x SIZE/10, ints of 1 to 4 words
        seeds = [(i * 0x9E3779B97F4A7C15) >> (i % 4 * 32) for i in range(SIZE // 10)]
        return lambda: drain(map(gen.seed, seeds))
    state = gen.getstate()              # "state": getstate() + setstate() x SIZE/100
    def run():
        drain(itertools.starmap(gen.getstate, itertools.repeat((), SIZE // 100)))
        drain(map(gen.setstate, itertools.repeat(state, SIZE // 100)))
    return run


def prepare(workload, heapq, bisect, setup_only=False):
    """Returns a zero-argument callable running the workload once on fresh data. With
    setup_only the callable makes the same fresh copies but calls nothing in the module."""
    rng = random.Random(12345)
    data = [rng.randrange(1 << 30) for _ in range(SIZE)]
    drain = collections.deque(maxlen=0).extend
    if setup_only:
        drain = lambda iterable: None  # noqa: E731 - the map objects are built, never iterated
    if workload in RANDOM_WORKLOADS:
        return prepare_random(workload, heapq, drain)
    if workload == "heapify":
        def run():
            heap = list(data)
            if not setup_only:
                heapq.heapify(heap)
        return run
    if workload == "heappop":
        base = sorted(data)  # a valid heap
        def run():
            heap = list(base)
            drain(map(heapq.heappop, itertools.repeat(heap, SIZE)))
        return run
    if workload == "heappush":
        def run():
            heap = []
            drain(map(heapq.heappush, itertools.repeat(heap, SIZE), data))
        return run
    if workload == "bisect":
        sorted_list = sorted(rng.randrange(1 << 30) for _ in range(SORTED_SIZE))
        def run():
            drain(map(bisect.bisect_right, itertools.repeat(sorted_list, SIZE), data))
            drain(map(bisect.bisect_left, itertools.repeat(sorted_list, SIZE), data))
        return run
    if workload == "insort":
        def run():
            target = []
            drain(map(bisect.insort_right, itertools.repeat(target, SIZE), data))
        return run
    raise SystemExit(f"unknown workload {workload}")


def main(argv):
    impl, workload = argv[1], argv[2]
    heapq, bisect = load(impl, workload)
    run = prepare(workload, heapq, bisect, setup_only="--setup-only" in argv)
    if "--time" in argv:
        repeats = int(argv[argv.index("--time") + 1])
        best = float("inf")
        for _ in range(repeats):
            start = time.perf_counter()
            run()
            best = min(best, time.perf_counter() - start)
        print(f"{best * 1e3:.3f}")
        return
    run()


if __name__ == "__main__":
    main(sys.argv)
