// mutex.cpp — pyo3cpp_mutex: a lock whose blocked waiters are detached, so it can never deadlock
// against the GIL or a stop-the-world pause.
//
// CPython 3.13+ has PyMutex, which detaches while it blocks; the first byte of the state word is
// used as one. Older Pythons get a three-state futex lock (0 free, 1 locked, 2 locked with
// waiters) that detaches before it blocks.
#include "runtime_state.h"

using namespace pyo3cpp::detail;

namespace {

#if PY_VERSION_HEX >= 0x030D0000
static_assert(sizeof(PyMutex) == 1, "PyMutex is one byte");
PyMutex *as_pymutex(pyo3cpp_mutex *m) { return reinterpret_cast<PyMutex *>(&m->state); }
// The two low bits of PyMutex are documented in cpython/lock.h: _Py_LOCKED = 1.
std::atomic_ref<std::uint8_t> bits(pyo3cpp_mutex *m)
{
    return std::atomic_ref<std::uint8_t>(*reinterpret_cast<std::uint8_t *>(&m->state));
}
#else
enum : std::uint32_t { kFree = 0, kLocked = 1, kContended = 2 };
static_assert(alignof(pyo3cpp_mutex) >= std::atomic_ref<std::uint32_t>::required_alignment,
              "pyo3cpp_mutex.state must be aligned for 32-bit atomics");
std::atomic_ref<std::uint32_t> word(pyo3cpp_mutex *m)
{
    return std::atomic_ref<std::uint32_t>(m->state);
}
#endif

}  // namespace

extern "C" {

PYO3CPP_API int pyo3cpp_mutex_try_lock(pyo3cpp_mutex *m) noexcept
{
    if (m == nullptr) {
        set_error_if_attached(PyExc_ValueError, "pyo3cpp_mutex_try_lock: mutex is NULL");
        return -1;
    }
#if PY_VERSION_HEX >= 0x030D0000
    // PyMutex may be unlocked with parked waiters (bit 1 set, bit 0 clear): keep bit 1.
    auto state = bits(m);
    std::uint8_t current = state.load(std::memory_order_relaxed);
    while ((current & 1) == 0) {
        if (state.compare_exchange_weak(current, static_cast<std::uint8_t>(current | 1),
                                        std::memory_order_acquire, std::memory_order_relaxed))
            return 1;
    }
    return 0;
#else
    std::uint32_t expected = kFree;
    return word(m).compare_exchange_strong(expected, kLocked, std::memory_order_acquire) ? 1 : 0;
#endif
}

PYO3CPP_API int pyo3cpp_mutex_lock(pyo3cpp_mutex *m)
{
    if (m == nullptr) {
        set_error_if_attached(PyExc_ValueError, "pyo3cpp_mutex_lock: mutex is NULL");
        return -1;
    }
#if PY_VERSION_HEX >= 0x030D0000
    PyMutex_Lock(as_pymutex(m));  // detaches while blocked when the thread is attached
#else
    std::uint32_t expected = kFree;
    auto state = word(m);
    if (state.compare_exchange_strong(expected, kLocked, std::memory_order_acquire)) return 0;
    // Not attached: simply block. Attached: block detached, and re-attach WITHOUT draining the
    // deferred-decref pool: the mutex is held by then, and a queued object's __del__ that takes
    // this mutex would deadlock against its own thread.
    PyThreadState *detached = thread_is_attached() ? PyEval_SaveThread() : nullptr;
    while (state.exchange(kContended, std::memory_order_acquire) != kFree)
        state.wait(kContended, std::memory_order_relaxed);
    if (detached != nullptr) {
        // CPython may end this thread while it re-attaches (a daemon thread at finalisation):
        // then release the mutex rather than leave it held by a thread that no longer exists.
        struct UnlockOnUnwind {
            pyo3cpp_mutex *m;
            bool armed = true;
            ~UnlockOnUnwind()
            {
                if (!armed) return;
                word(m).store(kFree, std::memory_order_release);
                word(m).notify_all();
            }
        } unlock_on_unwind{m};
        PyEval_RestoreThread(detached);
        unlock_on_unwind.armed = false;
    }
#endif
    return 0;
}

PYO3CPP_API int pyo3cpp_mutex_unlock(pyo3cpp_mutex *m) noexcept
{
    if (m == nullptr) {
        set_error_if_attached(PyExc_ValueError, "pyo3cpp_mutex_unlock: mutex is NULL");
        return -1;
    }
#if PY_VERSION_HEX >= 0x030D0000
    if ((bits(m).load(std::memory_order_relaxed) & 1) == 0) {
        set_error_if_attached(PyExc_RuntimeError, "pyo3cpp_mutex_unlock: mutex is not locked");
        return -1;
    }
    PyMutex_Unlock(as_pymutex(m));
#else
    auto state = word(m);
    std::uint32_t expected = kLocked;
    if (state.compare_exchange_strong(expected, kFree, std::memory_order_release)) return 0;
    if (expected == kFree) {
        set_error_if_attached(PyExc_RuntimeError, "pyo3cpp_mutex_unlock: mutex is not locked");
        return -1;
    }
    state.store(kFree, std::memory_order_release);
    state.notify_one();
#endif
    return 0;
}

}  // extern "C"
