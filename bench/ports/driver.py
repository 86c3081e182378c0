"""One benchmark workload on one implementation: CPython's own _heapq/_bisect ("cpython") or the
pyo3cpp ports ("pyo3cpp"). Run by ./scripts/bench-ports, under callgrind and on the wall clock.

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


def load(impl):
    if impl == "cpython":
        import _bisect
        import _heapq
        return _heapq, _bisect
    import pyo3cpp_bisect
    import pyo3cpp_heapq
    return pyo3cpp_heapq, pyo3cpp_bisect


def prepare(workload, heapq, bisect, setup_only=False):
    """Returns a zero-argument callable running the workload once on fresh data. With
    setup_only the callable makes the same fresh copies but calls nothing in the module."""
    rng = random.Random(12345)
    data = [rng.randrange(1 << 30) for _ in range(SIZE)]
    drain = collections.deque(maxlen=0).extend
    if setup_only:
        drain = lambda iterable: None  # noqa: E731 - the map objects are built, never iterated
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
    heapq, bisect = load(impl)
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
