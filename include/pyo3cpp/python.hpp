// python.hpp — `Python`, the proof that the calling thread is attached to the interpreter.
//
// Contract: holding a `Python` value means "this thread is attached right now". It has no data
// (pass it by value; [[no_unique_address]] makes it take no room in a struct). You get one from
// `attach()` / `try_attach()` (attach.hpp), from a module function's parameter list
// (module.hpp), or — when you know better than the type system, e.g. in a CPython callback —
// from `Python::assume_attached()`. Functions that touch Python objects take one, so forgetting
// to attach is a compile error rather than a crash.
//
// Thread: a token is only meaningful on the thread it was made on; do not store it.
// Cost: nothing (with -Ddebug_checks=true, assume_attached() verifies the claim and aborts with
// a message naming the caller if it is false).
#pragma once

#include <Python.h>  // first: its pyconfig.h sets feature macros the C library reads
#include "pyo3cpp/fwd.hpp"

#if PYO3CPP_DEBUG_CHECKS
#include <cstdio>
#include <cstdlib>
#endif

namespace pyo3cpp {

class Python {
public:
    // Example: static PyObject *tp_repr(PyObject *self) { auto py = Python::assume_attached(); }
    static Python assume_attached(const char *caller = __builtin_FUNCTION()) noexcept
    {
#if PYO3CPP_DEBUG_CHECKS
        if (!pyo3cpp_is_attached()) {
            std::fprintf(stderr,
                         "pyo3cpp debug check: a Python token was used by %s on a thread that "
                         "is not attached to the interpreter\n",
                         caller);
            std::abort();
        }
#else
        (void)caller;
#endif
        return Python();
    }

    // Whether the calling thread is attached, without side effects (any thread, any time).
    static bool is_attached() noexcept { return pyo3cpp_is_attached() != 0; }

    // None, as an owned reference.
    Bound<PyNone> none() const noexcept;

    // Applies deferred decrefs queued by threads that dropped Py<T> while detached.
    void drain_pool() const noexcept { (void)pyo3cpp_pool_drain(); }

private:
    constexpr Python() noexcept = default;
    friend class Attached;
};

}  // namespace pyo3cpp
