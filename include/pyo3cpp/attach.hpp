// attach.hpp — attaching the calling thread to the interpreter, and detaching around blocking
// work. The same code is correct with the GIL (attach = take the GIL) and without it (attach =
// take a thread state, so the thread takes part in stop-the-world pauses).
//
//   auto guard = pyo3cpp::attach();       // RAII: attached until `guard` is destroyed
//   pyo3cpp::Python py = guard.py();
//   auto n = pyo3cpp::detach(py, [] { return slow_io(); });   // detached while slow_io runs
//
// Contract:
//   - attach(): any thread, including threads Python never created (such a thread keeps the
//     thread state its first attach made until it exits: later attaches only re-attach it). Nested attach (or attach on
//     a thread that is already attached, e.g. inside a module function) costs one thread-local
//     read. Every (re-)attach drains the deferred-decref pool (one relaxed load when empty).
//     Throws std::runtime_error if the interpreter is not initialised or is finalising.
//   - try_attach(): the same, but returns an empty guard (false in a boolean test) instead of
//     throwing; it never hangs and never aborts (use it from destructors, atexit hooks, foreign
//     threads). Empty before Py_Initialize, after Py_FinalizeEx, and during finalisation: from
//     the moment libpyo3cpp's own atexit callback runs (registered by the runtime's first use of
//     any kind, so it runs after atexit callbacks registered later) a thread that is not
//     attached is refused, and attaches already under way finish first. The finalising thread
//     itself (and any nested guard) is attached, so it gets a non-empty guard.
//   - Guards end in LIFO order on the thread that made them; they cannot be copied or moved.
//   - detach(py, fn): runs fn() detached, re-attaches, drains the pool, returns fn's result,
//     and rethrows any exception fn threw after re-attaching. fn must not touch Python objects.
//     On free-threaded builds every blocking wait should be inside one: a thread that blocks
//     while attached stalls garbage collection for every thread. A detached thread that comes
//     back after finalisation has begun meets CPython's rule for daemon threads (it never
//     returns): finish detached work before the interpreter exits.
//   - Python::is_attached() / pyo3cpp_is_attached(): no side effects (no thread state is
//     created, the pool is not drained); any thread, any time.
#pragma once

#include <Python.h>  // first: its pyconfig.h sets feature macros the C library reads
#include <memory>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <utility>

#include "pyo3cpp/forced_unwind.hpp"
#include "pyo3cpp/python.hpp"

namespace pyo3cpp {

class Attached {
public:
    Attached(const Attached &) = delete;
    Attached &operator=(const Attached &) = delete;
    Attached(Attached &&) = delete;
    Attached &operator=(Attached &&) = delete;
    ~Attached() { pyo3cpp_release_attach(&state_); }

    // False only for a guard from try_attach() that could not attach.
    explicit operator bool() const noexcept { return state_.kind != 0; }
    bool has_value() const noexcept { return state_.kind != 0; }

    // The token. Only meaningful when has_value().
    Python py() const noexcept { return Python(); }
    // True when this guard attached the thread (false: it was attached already).
    bool attached_here() const noexcept { return state_.kind == 2; }

private:
    // The guard is attached in place (no copy of the state): pyo3cpp_attach fills every field.
    struct Attach {};     // throw when the interpreter cannot be attached
    struct TryAttach {};  // give an empty guard instead
    explicit Attached(Attach)
    {
        if (pyo3cpp_attach(&state_) != 0)
            throw std::runtime_error(
                "pyo3cpp::attach: the Python interpreter is not initialised or is finalising");
    }
    explicit Attached(TryAttach) noexcept
    {
        (void)pyo3cpp_try_attach(&state_);  // on failure state_.kind is 0: an empty guard
    }
    friend Attached attach();
    friend Attached try_attach() noexcept;

    pyo3cpp_attach_state state_;
};

namespace detail {
// Debug checks: attaching inside tp_traverse is forbidden (see traverse.hpp).
inline void debug_check_attach_allowed(const char *where) noexcept
{
#if PYO3CPP_DEBUG_CHECKS
    if (pyo3cpp_debug_thread_state() & PYO3CPP_DEBUG_IN_TRAVERSE) {
        std::fprintf(stderr,
                     "pyo3cpp debug check: attach during a GC traversal (tp_traverse) in %s\n",
                     where);
        std::fflush(stderr);
        std::abort();
    }
#else
    (void)where;
#endif
}
}  // namespace detail

// Guaranteed copy elision lets these return the immovable guard.
inline Attached attach()
{
    detail::debug_check_attach_allowed("pyo3cpp::attach");
    return Attached(Attached::Attach{});
}

// Example: if (auto guard = pyo3cpp::try_attach()) { use(guard.py()); }
inline Attached try_attach() noexcept
{
    detail::debug_check_attach_allowed("pyo3cpp::try_attach");
    return Attached(Attached::TryAttach{});
}

namespace detail {
// Runs fn() with the thread detached and re-attaches with `reattach(token)`, on the normal path
// and (then rethrowing) when fn throws. Never re-attaches from a destructor: destructors are
// noexcept, and CPython may end the thread inside the re-attach with a forced unwind
// (forced_unwind.hpp) that must reach the thread's base.
template <class F, class Reattach>
auto run_detached(F &&fn, Reattach reattach) -> std::invoke_result_t<F &&>
{
    using R = std::invoke_result_t<F &&>;
    void *token = pyo3cpp_detach_begin();
    if constexpr (std::is_void_v<R>) {
        try {
            std::forward<F>(fn)();
        } PYO3CPP_CATCH_ALL {
            reattach(token);
            throw;
        }
        reattach(token);
    } else if constexpr (std::is_reference_v<R>) {
        auto *result = [&]() -> std::remove_reference_t<R> * {
            try {
                return std::addressof(std::forward<F>(fn)());
            } PYO3CPP_CATCH_ALL {
                reattach(token);
                throw;
            }
        }();
        reattach(token);
        return static_cast<R>(*result);
    } else {
        std::optional<R> result;
        try {
            result.emplace(std::forward<F>(fn)());
        } PYO3CPP_CATCH_ALL {
            reattach(token);
            throw;
        }
        reattach(token);
        return std::move(*result);
    }
}

// Re-attaches without draining the deferred-decref pool: for library waits that return
// holding a lock (a queued __del__ could want that lock).
inline void reattach_without_drain(void *token)
{
    if (token != nullptr) PyEval_RestoreThread(static_cast<PyThreadState *>(token));
}
}  // namespace detail

// Runs fn() detached; see the contract above.
template <class F> auto detach(Python, F &&fn) -> std::invoke_result_t<F &&>
{
    return detail::run_detached(std::forward<F>(fn), [](void *token) { pyo3cpp_detach_end(token); });
}

}  // namespace pyo3cpp
