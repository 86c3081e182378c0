// debug_checks.cpp — the library side of -Ddebug_checks: per-thread "inside a GC traversal"
// marks and the live Py<T> counter, plus the checks the library itself applies (attach during a
// traversal, releasing a dead object from the deferred-decref pool) when it is built with them.
//
// The entry points exist in every build so the ABI never depends on the option. Code compiled
// without PYO3CPP_DEBUG_CHECKS never calls them, so a normal build pays nothing.
#include <Python.h>  // first, as CPython requires: its pyconfig.h sets feature macros
                     // (3.15: _POSIX_C_SOURCE 202405L) that the C library headers read
#include <cstdio>
#include <cstdlib>

#include "runtime_state.h"

namespace pyo3cpp::detail {
namespace {

// Depth of guarded tp_traverse frames on this thread (traversals nest when one traverse calls
// another type's). A plain thread_local: only its own thread reads or writes it.
thread_local int t_traverse_depth = 0;

// Py<T> that currently own a reference, across every extension in the process.
std::atomic<long> g_live_py{0};

}  // namespace

bool debug_in_traverse() noexcept { return t_traverse_depth > 0; }

[[noreturn]] void debug_fail(const char *what, const char *where) noexcept
{
    std::fprintf(stderr, "pyo3cpp debug check: %s in %s\n", what, where);
    std::fflush(stderr);
    std::abort();
}

void debug_report_live_py_at_exit() noexcept
{
    const long live = g_live_py.load(std::memory_order_seq_cst);
    if (live != 0) {
        std::fprintf(stderr,
                     "pyo3cpp debug check: %ld Py<T> still alive at interpreter finalisation "
                     "(their references are leaked, never released)\n",
                     live);
        std::fflush(stderr);
    }
}

}  // namespace pyo3cpp::detail

using namespace pyo3cpp::detail;

extern "C" {

PYO3CPP_API int pyo3cpp_debug_thread_state(void) noexcept
{
    int state = 0;
    if (!runtime_finalized() && thread_is_attached())
        state |= PYO3CPP_DEBUG_ATTACHED;
    if (t_traverse_depth > 0) state |= PYO3CPP_DEBUG_IN_TRAVERSE;
    return state;
}

PYO3CPP_API void pyo3cpp_debug_traverse_enter(void) noexcept { ++t_traverse_depth; }

PYO3CPP_API void pyo3cpp_debug_traverse_leave(void) noexcept
{
    if (t_traverse_depth > 0) --t_traverse_depth;
}

PYO3CPP_API void pyo3cpp_debug_count_py(long delta) noexcept
{
    g_live_py.fetch_add(delta, std::memory_order_relaxed);
}

PYO3CPP_API long pyo3cpp_debug_live_py(void) noexcept { return g_live_py.load(std::memory_order_relaxed); }

}  // extern "C"
