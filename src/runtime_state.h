// runtime_state.h — private: what the library's translation units share about the interpreter's
// life cycle (is this thread attached, has the interpreter finalised) and the finalisation hook.
// Not installed; nothing here is exported.
#pragma once

#include <Python.h>

#include <pthread.h>

#include <atomic>
#include <cstdint>

#include "pyo3cpp.h"

// Everything declared here is the library's own: hidden, so that other translation units reach
// these variables directly instead of through the GOT (a load saved on every attach).
#pragma GCC visibility push(hidden)

namespace pyo3cpp::detail {

// The interpreter's life cycle as one word: even while an interpreter runs (or before the first
// one), odd once it has finalised. The Py_AtExit hook makes it odd; the first use of the runtime
// in a re-initialised interpreter makes it even again. Two readings of the same even value
// therefore mean "the same interpreter": a reference queued, or a thread state created, under
// one generation is never touched under another (pool.cpp, attach.cpp).
extern std::atomic<std::uint64_t> g_lifecycle;
inline std::uint64_t lifecycle_now() noexcept { return g_lifecycle.load(std::memory_order_acquire); }
inline bool runtime_finalized() noexcept { return (lifecycle_now() & 1) != 0; }

// A mutex whose lock and unlock never throw (std::mutex::lock may throw std::system_error, and
// nothing may escape an exported function) and that the at-fork handlers can hold across fork().
class PlainMutex {
public:
    void lock() noexcept { (void)pthread_mutex_lock(&mutex_); }
    void unlock() noexcept { (void)pthread_mutex_unlock(&mutex_); }
    pthread_mutex_t *native() noexcept { return &mutex_; }

private:
    pthread_mutex_t mutex_ = PTHREAD_MUTEX_INITIALIZER;
};
class PlainLock {
public:
    explicit PlainLock(PlainMutex &m) noexcept : m_(m) { m_.lock(); }
    ~PlainLock() { m_.unlock(); }
    PlainLock(const PlainLock &) = delete;
    PlainLock &operator=(const PlainLock &) = delete;

private:
    PlainMutex &m_;
};

// This thread's attachment, without side effects, valid before initialisation and after
// finalisation. 3.12+ keep the current thread state in a thread-local; 3.11 keeps the GIL
// holder's state in a global, so compare it with this thread's own state.
inline bool thread_is_attached() noexcept
{
#if PY_VERSION_HEX >= 0x030D0000
    return PyThreadState_GetUnchecked() != nullptr;
#elif PY_VERSION_HEX >= 0x030C0000
    return _PyThreadState_UncheckedGet() != nullptr;
#else
    // Only compared, never dereferenced: it may be another thread's state, freed meanwhile. (A
    // thread of a 3.11 subinterpreter is not "attached" here: runtime.cpp's import check
    // recognises that case itself.)
    PyThreadState *current = _PyThreadState_UncheckedGet();
    return current != nullptr && current == PyGILState_GetThisThreadState();
#endif
}

inline bool interpreter_finalizing() noexcept
{
#if PY_VERSION_HEX >= 0x030D0000
    return Py_IsFinalizing() != 0;
#else
    return _Py_IsFinalizing() != 0;
#endif
}

// A value unique to each live thread, cheap to read: the address of a thread-local.
inline std::uint64_t this_thread_key() noexcept
{
    static thread_local char marker;
    return static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(&marker));
}

// Registers the finalisation hook for the current interpreter if not yet registered, and notes
// a re-initialised interpreter. Call attached.
void ensure_finalize_hook() noexcept;
// True once the finalisation hook is registered for the running interpreter.
bool finalize_hook_registered() noexcept;

// The gate word (attach.cpp). kGateChecking: the runtime has not yet armed itself for the
// running interpreter (atexit gate callback and finalisation hook not registered); kGateOpen:
// armed; kGateClosed: finalisation has begun. arm_runtime() is what every attached entry point
// calls first, so the runtime is armed by its first use of any kind (one relaxed load after).
enum : int { kGateChecking = 0, kGateOpen = 1, kGateClosed = 2 };
extern std::atomic<int> g_gate;
void arm_runtime_slow() noexcept;
inline void arm_runtime() noexcept
{
    if (__builtin_expect(g_gate.load(std::memory_order_relaxed) == kGateChecking, 0))
        arm_runtime_slow();
}

// The attach gate (attach.cpp): fresh attaches are refused from the moment a Python-level
// atexit callback closes it until the interpreter has finalised. ensure_attach_gate registers
// that callback once per interpreter (call attached; keeps any pending exception);
// reset_attach_gate re-opens the gate for a re-initialised interpreter.
void ensure_attach_gate() noexcept;
void reset_attach_gate() noexcept;

// Pool internals used by attach/detach and the finalisation hook.
// Applies what was queued when it started (bounded: a __del__ that queues more leaves that for
// the next drain). Never call it with a library lock held: decrefs run arbitrary Python code.
long pool_drain_attached();  // not noexcept: a __del__ may end the thread (forced unwind)
// The pool's stack head (pool.cpp): attach tests it inline, so an empty pool costs one relaxed
// load and no call.
// Bit i set: pool stack i may hold queued decrefs (pool.cpp). Zero means an attach has nothing
// to drain, which costs it this one relaxed load.
extern std::atomic<std::uint32_t> g_pool_nonempty;
inline void pool_drain_if_pending()
{
    if (__builtin_expect(g_pool_nonempty.load(std::memory_order_relaxed) != 0, 0))
        pool_drain_attached();
}
void pool_forget_all() noexcept;  // drops queued decrefs without applying them (leaks)

// fork() (fork.cpp runs these from pthread_atfork handlers). prepare takes the module's locks so
// that no other thread holds them at the fork; parent releases them; child releases them and
// resets whatever threads that do not exist in the child held (gate counts, pool bits, object
// locks, running once-cells).
void attach_fork_prepare() noexcept;
void attach_fork_parent() noexcept;
void attach_fork_child() noexcept;
void pool_fork_child() noexcept;
void object_locks_fork_prepare() noexcept;
void object_locks_fork_parent() noexcept;
void object_locks_fork_child() noexcept;
void once_fork_prepare() noexcept;
void once_fork_parent() noexcept;
void once_fork_child() noexcept;
void registry_fork_prepare() noexcept;
void registry_fork_parent() noexcept;
void registry_fork_child() noexcept;
void wait_graph_fork_prepare() noexcept;  // the wait-for graph's mutex: taken last, a leaf
void wait_graph_fork_parent() noexcept;
void wait_graph_fork_child() noexcept;
void holders_fork_prepare() noexcept;  // the holder identity map's mutex (holders.cpp): a leaf
void holders_fork_parent() noexcept;
void holders_fork_child() noexcept;
void install_fork_handlers() noexcept;  // once per process; idempotent

// Adds forget(ctx) to what the finalisation hook runs; idempotent. The hook runs each entry
// once and empties the list (an entry registers again when its cell fills again).
int register_forget(void (*forget)(void *), void *ctx) noexcept;
// Removes forget(ctx); a no-op when absent. For cells destroyed before finalisation.
void unregister_forget(void (*forget)(void *), void *ctx) noexcept;

// Debug checks (debug_checks.cpp). The inline C++ layer decides when to check; these serve the
// library's own checks, which are compiled only with PYO3CPP_DEBUG_CHECKS=1.
bool debug_in_traverse() noexcept;                                   // this thread, any time
[[noreturn]] void debug_fail(const char *what, const char *where) noexcept;  // message + abort
void debug_report_live_py_at_exit() noexcept;  // stderr line if Py<T> are still alive

// Parks a Python exception when attached; a no-op otherwise (the C contract then says "no
// exception").
void set_error_if_attached(PyObject *type, const char *message) noexcept;

}  // namespace pyo3cpp::detail

#pragma GCC visibility pop
