// mutex.hpp — locks that never deadlock against the interpreter.
//
// The deadlock they avoid: thread A holds a lock and needs the interpreter (the GIL on a GIL
// build, a stop-the-world pause such as gc.collect() on a free-threaded build); thread B is
// attached and blocks on that lock. B never detaches, so A never gets the GIL / the pause never
// starts, and both wait forever. Every lock here detaches only when it must block and
// re-attaches before it returns, so the thread holding the lock can always make progress.
//
//   pyo3cpp::Mutex cache_lock;                      // zero-initialised, constexpr, no destroy
//   {
//       auto held = cache_lock.guard(py);           // RAII; blocks detached if contended
//       cache.insert(key, value);
//   }
//   std::mutex table_mutex;                         // a plain C++ mutex shared with C++ threads
//   auto lock = pyo3cpp::lock_detached(table_mutex, py);          // std::unique_lock
//   std::shared_mutex config_mutex;
//   auto read = pyo3cpp::lock_shared_detached(config_mutex, py);  // std::shared_lock
//
// Contract:
//   - Mutex: not recursive (a thread that locks it twice deadlocks itself, as with std::mutex).
//     lock(py) tries once inline; if the mutex is held it calls the library, which detaches
//     the thread while it blocks and re-attaches before returning (without draining the
//     deferred-decref pool: no Python code runs while a library lock is being taken). try_lock() never blocks.
//     unlock() by the owning thread; unlocking a mutex that is not locked throws
//     std::logic_error and leaves it intact. Any thread; it also works across threads Python
//     never created (through the C ABI's pyo3cpp_mutex_lock, which blocks without detaching
//     when the caller is not attached). Layout: a pyo3cpp_mutex (8 bytes): on CPython 3.13+
//     its first byte is a PyMutex, so CPython's own PyMutex functions and critical sections
//     interoperate with it.
//   - lock_detached(m, py) / lock_shared_detached(m, py): for any std lockable (std::mutex,
//     std::shared_mutex, std::timed_mutex, ...): try_lock first (no detach when uncontended);
//     otherwise detach, block, re-attach. The returned lock is already owned; exceptions from
//     the mutex (std::system_error) propagate after re-attaching.
//   - Holding any lock while calling code that may detach is fine for these locks; what is
//     NOT fine is calling plain m.lock() on a std::mutex while attached if the holder may need
//     the interpreter: that is exactly the deadlock above.
//   - MutexCriticalSection (CPython 3.14+ only): a critical section over a Mutex
//     (PyCriticalSection_BeginMutex) on free-threaded builds, with the critical-section rules
//     of critical_section.hpp: it is suspended whenever the thread detaches. On a 3.14 GIL build
//     it locks the mutex like guard() does (the GIL alone would not exclude a thread that
//     holds the Mutex through lock()).
//
// Cost: uncontended lock/unlock are one inline compare-and-swap each (no call into the
// library); the contended path is a library call plus a detach/re-attach.
#pragma once

#include <Python.h>  // first: its pyconfig.h sets feature macros the C library reads
#include <concepts>
#include <cstdint>
#include <mutex>
#include <shared_mutex>
#include <stdexcept>
#include <utility>

#include "pyo3cpp/attach.hpp"

namespace pyo3cpp {

class Mutex {
public:
    constexpr Mutex() noexcept = default;
    Mutex(const Mutex &) = delete;
    Mutex &operator=(const Mutex &) = delete;
    Mutex(Mutex &&) = delete;
    Mutex &operator=(Mutex &&) = delete;

    // Blocks until acquired; while blocked the thread is detached. Not noexcept: CPython may
    // end the thread (forced unwind) when it re-attaches during finalisation.
    void lock(Python)
    {
        // The free -> locked CAS that PyMutex_Lock inlines; everything else (waiters parked,
        // contention) is the library's, which blocks detached.
        auto expected = State{0};
        if (!__atomic_compare_exchange_n(state(), &expected, State{kLockedBit}, false,
                                         __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
            (void)pyo3cpp_mutex_lock(&raw_);
    }

    // True when acquired. Never blocks, never detaches.
    bool try_lock() noexcept { return fast_try_lock(); }

    // Releases; by the thread that locked it. Throws std::logic_error if it was not locked.
    void unlock()
    {
        auto expected = static_cast<State>(kLockedBit);
        if (__atomic_compare_exchange_n(state(), &expected, State{0}, false, __ATOMIC_RELEASE,
                                        __ATOMIC_RELAXED))
            return;
        if (!held(expected)) throw_not_locked();
        (void)pyo3cpp_mutex_unlock(&raw_);  // waiters parked: the library wakes one
    }

    // A snapshot, for assertions and tests: another thread may change it at once.
    bool is_locked() const noexcept
    {
        return held(__atomic_load_n(const_cast<Mutex *>(this)->state(), __ATOMIC_RELAXED));
    }

    // RAII ownership: `auto held = m.guard(py);` locks now, unlocks at scope end.
    class [[nodiscard]] Guard {
    public:
        Guard(Python py, Mutex &mutex) : mutex_(mutex) { mutex_.lock(py); }
        Guard(const Guard &) = delete;
        Guard &operator=(const Guard &) = delete;
        Guard(Guard &&) = delete;
        Guard &operator=(Guard &&) = delete;
        ~Guard() { mutex_.unlock(); }

    private:
        Mutex &mutex_;
    };
    Guard guard(Python py) { return Guard(py, *this); }

    // The C ABI object (for C code sharing this mutex).
    pyo3cpp_mutex *raw() noexcept { return &raw_; }
#if PY_VERSION_HEX >= 0x030D0000
    // CPython's view of the same lock.
    PyMutex *as_pymutex() noexcept { return reinterpret_cast<PyMutex *>(&raw_.state); }
#endif

private:
    static constexpr unsigned kLockedBit = 1;  // PyMutex's _Py_LOCKED, and our 3.11 "locked"

    // The word the inline paths work on, with the GCC/Clang __atomic builtins (std::atomic_ref
    // is missing from some standard libraries still in use, e.g. libc++ 14). 3.13+: the PyMutex
    // byte (bit 0 locked, bit 1 waiters parked). Older: the library's 32-bit futex word
    // (0 free, 1 locked, 2 locked with waiters).
#if PY_VERSION_HEX >= 0x030D0000
    static_assert(sizeof(PyMutex) == 1);
    using State = std::uint8_t;
    State *state() noexcept { return reinterpret_cast<State *>(&raw_.state); }
    static bool held(State value) noexcept { return (value & kLockedBit) != 0; }
    bool fast_try_lock() noexcept
    {
        // Only bit 0 is ours to set: the mutex may be free with waiters parked (bit 1).
        State current = __atomic_load_n(state(), __ATOMIC_RELAXED);
        while (!held(current))
            if (__atomic_compare_exchange_n(state(), &current,
                                            static_cast<State>(current | kLockedBit), true,
                                            __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
                return true;
        return false;
    }
#else
    using State = std::uint32_t;
    State *state() noexcept { return &raw_.state; }
    static bool held(State value) noexcept { return value != 0; }
    bool fast_try_lock() noexcept
    {
        State expected = 0;
        return __atomic_compare_exchange_n(state(), &expected, State{kLockedBit}, false,
                                           __ATOMIC_ACQUIRE, __ATOMIC_RELAXED);
    }
#endif
    [[noreturn]] static void throw_not_locked()
    {
        throw std::logic_error("pyo3cpp::Mutex::unlock: the mutex is not locked");
    }

    alignas(8) pyo3cpp_mutex raw_ = PYO3CPP_MUTEX_INIT;
};

static_assert(sizeof(Mutex) == sizeof(pyo3cpp_mutex));

// Runs fn() with `mutex` held; returns fn's result; unlocks on exceptions too.
template <class F> auto with_lock(Python py, Mutex &mutex, F &&fn) -> std::invoke_result_t<F &&>
{
    Mutex::Guard held(py, mutex);
    return std::forward<F>(fn)();
}

template <class M>
concept BasicLockable = requires(M &m) {
    { m.try_lock() } -> std::convertible_to<bool>;
    m.lock();
    m.unlock();
};
template <class M>
concept SharedLockable = requires(M &m) {
    { m.try_lock_shared() } -> std::convertible_to<bool>;
    m.lock_shared();
    m.unlock_shared();
};

// Exclusive ownership of a std lockable, blocking detached. See the contract above.
// Re-attaching does not drain the deferred-decref pool: the lock is held by then, and a queued
// object's __del__ that takes the same lock would deadlock against this thread.
template <BasicLockable M> [[nodiscard]] std::unique_lock<M> lock_detached(M &mutex, Python)
{
    if (!mutex.try_lock()) detail::run_detached([&] { mutex.lock(); }, detail::reattach_without_drain);
    return std::unique_lock<M>(mutex, std::adopt_lock);
}

// Shared ownership (readers) of a std::shared_mutex-like lock, blocking detached.
template <SharedLockable M>
[[nodiscard]] std::shared_lock<M> lock_shared_detached(M &mutex, Python)
{
    if (!mutex.try_lock_shared())
        detail::run_detached([&] { mutex.lock_shared(); }, detail::reattach_without_drain);
    return std::shared_lock<M>(mutex, std::adopt_lock);
}

#if PY_VERSION_HEX >= 0x030E0000
// A critical section over a Mutex (CPython 3.14+). See the contract above. LIFO, immovable.
class MutexCriticalSection {
public:
    MutexCriticalSection(Python py, Mutex &mutex)
    {
#ifdef Py_GIL_DISABLED
        (void)py;
        PyCriticalSection_BeginMutex(&section_, mutex.as_pymutex());
#else
        mutex_ = &mutex;
        mutex.lock(py);
#endif
    }
    MutexCriticalSection(const MutexCriticalSection &) = delete;
    MutexCriticalSection &operator=(const MutexCriticalSection &) = delete;
    MutexCriticalSection(MutexCriticalSection &&) = delete;
    MutexCriticalSection &operator=(MutexCriticalSection &&) = delete;
    ~MutexCriticalSection()
    {
#ifdef Py_GIL_DISABLED
        PyCriticalSection_End(&section_);
#else
        mutex_->unlock();
#endif
    }

private:
#ifdef Py_GIL_DISABLED
    PyCriticalSection section_;
#else
    Mutex *mutex_;
#endif
};

template <class F>
auto critical_section(Python py, Mutex &mutex, F &&fn) -> std::invoke_result_t<F &&>
{
    MutexCriticalSection section(py, mutex);
    return std::forward<F>(fn)();
}
#endif

}  // namespace pyo3cpp
