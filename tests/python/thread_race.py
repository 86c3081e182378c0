"""The thread harness the Python-level race tests share (not a test module itself)."""
import threading


def run_threads(count, target, timeout=120):
    """Run target(index) on `count` threads released together by a barrier.

    Re-raises the first exception a worker raised, and fails instead of hanging when a worker
    has not finished within `timeout` seconds (a deadlock would otherwise stall the suite)."""
    barrier = threading.Barrier(count)
    errors = []

    def body(index):
        try:
            barrier.wait(timeout=30)
            target(index)
        except BaseException as exc:  # reported in the test thread
            errors.append(exc)

    threads = [threading.Thread(target=body, args=(i,), daemon=True) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=timeout)
        if t.is_alive():
            raise AssertionError("a worker thread hung (deadlock?)")
    if errors:
        raise errors[0]


def watched(fn, *args, timeout=60):
    """fn(*args) on a daemon thread: a deadlock fails the test instead of hanging the suite."""
    result = []
    run_threads(1, lambda _: result.append(fn(*args)), timeout=timeout)
    return result[0]
