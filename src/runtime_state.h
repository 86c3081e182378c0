// runtime_state.h — private: what the library's translation units share about the interpreter's
// life cycle (is this thread attached, has the interpreter finalised) and the finalisation hook.
// Not installed; nothing here is exported.
#pragma once

#include <Python.h>

#include <atomic>
#include <cstdint>

#include "pyo3cpp.h"

namespace pyo3cpp::detail {

// Set by the Py_AtExit hook once the interpreter has finalised; cleared when an attach finds a
// (re-)initialised interpreter. Read relaxed: it only decides between "queue" and "leak" for
// threads that are not attached, which cannot race with finalisation in a way a stronger order
// would fix.
extern std::atomic<bool> g_finalized;

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

// The attach gate (attach.cpp): fresh attaches are refused from the moment a Python-level
// atexit callback closes it until the interpreter has finalised. ensure_attach_gate registers
// that callback once per interpreter (call attached; keeps any pending exception);
// reset_attach_gate re-opens the gate for a re-initialised interpreter.
void ensure_attach_gate() noexcept;
void reset_attach_gate() noexcept;

// Pool internals used by attach/detach and the finalisation hook.
long pool_drain_attached() noexcept;
// The pool's stack head (pool.cpp): attach tests it inline, so an empty pool costs one relaxed
// load and no call.
// Bit i set: pool stack i may hold queued decrefs (pool.cpp). Zero means an attach has nothing
// to drain, which costs it this one relaxed load.
extern std::atomic<std::uint32_t> g_pool_nonempty;
inline void pool_drain_if_pending() noexcept
{
    if (__builtin_expect(g_pool_nonempty.load(std::memory_order_relaxed) != 0, 0))
        pool_drain_attached();
}
void pool_forget_all() noexcept;  // drops queued decrefs without applying them (leaks)

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
