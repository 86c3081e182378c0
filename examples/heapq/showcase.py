"""The ports' showcase, run by ./scripts/demo: several threads share one heap (and one sorted
list) with CPython's own _heapq/_bisect beside pyo3cpp_heapq/pyo3cpp_bisect, then a speed
comparison.

    python showcase.py race     # on a free-threaded CPython with PYTHON_GIL=0
    python showcase.py speed    # any CPython
"""
import collections
import itertools
import random
import sys
import threading
import time

import _bisect
import _heapq
import pyo3cpp_bisect
import pyo3cpp_heapq

THREADS = 8


def run_threads(worker):
    barrier = threading.Barrier(THREADS)
    errors = collections.Counter()

    def body(index):
        barrier.wait()
        try:
            worker(index)
        except Exception as exc:  # noqa: BLE001 - the point is to count them
            errors[f"{type(exc).__name__}: {exc}"] += 1

    threads = [threading.Thread(target=body, args=(i,)) for i in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


def heap_race(module, ops=15_000):
    heap = []
    popped = [[] for _ in range(THREADS)]
    raised = [collections.Counter() for _ in range(THREADS)]

    def worker(index):
        push, pop = module.heappush, module.heappop
        out, errors = popped[index], raised[index]
        for i in range(ops):
            try:  # a failed call is counted and the thread carries on
                push(heap, index * ops + i)
                if i & 1:
                    out.append(pop(heap))
            except Exception as exc:  # noqa: BLE001
                errors[f"{type(exc).__name__}: {exc}"] += 1

    errors = run_threads(worker)
    for counter in raised:
        errors.update(counter)
    pushed = THREADS * ops
    seen = collections.Counter(itertools.chain(heap, *popped))
    lost = pushed - len(seen)
    duplicated = sum(n - 1 for n in seen.values() if n > 1)
    heap_ok = all(not heap[(i - 1) // 2] > heap[i] for i in range(1, len(heap)))
    return lost, duplicated, heap_ok, errors


def insort_race(module, ops=3_000):
    shared = []

    def worker(index):
        rng = random.Random(index)
        insort = module.insort_right
        for _ in range(ops):
            insort(shared, rng.randrange(1_000_000))

    errors = run_threads(worker)
    lost = THREADS * ops - len(shared)
    sorted_ok = all(shared[i] <= shared[i + 1] for i in range(len(shared) - 1))
    return lost, sorted_ok, errors


HEAP_MODULES = {"CPython _heapq": _heapq, "pyo3cpp_heapq": pyo3cpp_heapq}
BISECT_MODULES = {"CPython _bisect": _bisect, "pyo3cpp_bisect": pyo3cpp_bisect}


def race_one(label):
    """One module's race, printed as one line (run in a child process by race())."""
    if label in HEAP_MODULES:
        lost, duplicated, heap_ok, errors = heap_race(HEAP_MODULES[label])
        failed = sum(errors.values())
        print(f"  {label:15} items lost: {lost:6}  duplicated: {duplicated:6}  "
              f"heap invariant: {'held' if heap_ok else 'BROKEN'}  "
              f"calls that raised: {failed}"
              + (f" ({next(iter(errors))})" if errors else ""))
    else:
        lost, sorted_ok, errors = insort_race(BISECT_MODULES[label])
        print(f"  {label:15} items lost: {lost:6}  list sorted: {'yes' if sorted_ok else 'NO'}"
              f"  threads that raised: {sum(errors.values())}")


def race():
    # Each module races in its own interpreter: under this race CPython 3.13's own _heapq can
    # crash or hang the whole process (it compares borrowed references that other threads free
    # and sifts a list whose size changes under it), and the showcase should say so rather than
    # die with it.
    gil = sys._is_gil_enabled() if hasattr(sys, "_is_gil_enabled") else True
    print(f"{THREADS} threads share one heap on {sys.version.split()[0]} "
          f"{'free-threaded' if not gil else 'with the GIL'} "
          f"(each thread: 15000 heappush, 7500 heappop):")
    for label in HEAP_MODULES:
        race_in_child(label)
    print(f"{THREADS} threads insort into one sorted list (each: 3000 insort_right):")
    for label in BISECT_MODULES:
        race_in_child(label)


def race_in_child(label):
    import signal
    import subprocess
    limit = 30  # seconds; the race itself takes a few
    try:
        done = subprocess.run([sys.executable, __file__, "race-one", label],
                              capture_output=True, text=True, timeout=limit)
    except subprocess.TimeoutExpired:
        print(f"  {label:15} HUNG: killed after {limit} s")
        return
    if done.returncode == 0:
        print(done.stdout, end="")
    elif done.returncode < 0:
        name = signal.Signals(-done.returncode).name
        print(f"  {label:15} CRASHED: the interpreter died with {name}")
    else:
        last = (done.stderr.strip().splitlines() or ["?"])[-1]
        print(f"  {label:15} FAILED: exit status {done.returncode} ({last})")


def best_ms(fn, repeats=5):
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best * 1e3


def speed():
    rng = random.Random(1)
    data = [rng.randrange(1 << 30) for _ in range(50_000)]
    sorted_data = sorted(data)
    drain = collections.deque(maxlen=0).extend
    print(f"speed on {sys.version.split()[0]}"
          f"{' free-threaded' if hasattr(sys, '_is_gil_enabled') and not sys._is_gil_enabled() else ''}"
          f" (best of 5, ms; 50k ints):")
    print(f"  {'workload':12} {'CPython':>9} {'pyo3cpp':>9}  ratio")
    for workload in ["heapify", "heappush", "heappop", "bisect", "insort"]:
        times = []
        for heapq, bisect in [(_heapq, _bisect), (pyo3cpp_heapq, pyo3cpp_bisect)]:
            if workload == "heapify":
                fn = lambda: heapq.heapify(list(data))  # noqa: E731
            elif workload == "heappush":
                fn = lambda: drain(map(heapq.heappush, itertools.repeat([]), data))  # noqa: E731
            elif workload == "heappop":
                def fn():
                    heap = list(sorted_data)
                    drain(map(heapq.heappop, itertools.repeat(heap, len(heap))))
            elif workload == "bisect":
                fn = lambda: drain(map(bisect.bisect_left, itertools.repeat(sorted_data), data))  # noqa: E731
            else:
                def fn():
                    target = sorted_data[:10_000]
                    drain(map(bisect.insort_right, itertools.repeat(target), data[:10_000]))
            times.append(best_ms(fn))
        print(f"  {workload:12} {times[0]:9.2f} {times[1]:9.2f}  {times[1] / times[0]:.2f}x")


if __name__ == "__main__":
    if sys.argv[1] == "race-one":
        race_one(sys.argv[2])
    else:
        {"race": race, "speed": speed}[sys.argv[1]]()
