// refcount.hpp — the two refcount primitives every owner uses, with the debug checks hooked in.
//
// Contract: incref/decref require an attached thread that is not inside a GC traversal. With
// -Ddebug_checks=true each call verifies that, and that the object is alive (refcount > 0: a
// release of a dead object is a double release or a stolen borrowed reference), and aborts with
// a message naming the operation otherwise; with it off they are exactly Py_INCREF / Py_DECREF.
//
// Debug-check messages all start with "pyo3cpp debug check: " and end with "in <caller>".
// A freed object's memory is only reliably recognisable as dead when CPython's debug allocator
// poisons it (PYTHONMALLOC=debug, available in release builds): run debug-checked tests with it.
#pragma once

#include <Python.h>  // first: its pyconfig.h sets feature macros the C library reads
#include "pyo3cpp/fwd.hpp"

#if PYO3CPP_DEBUG_CHECKS
#include <cstdio>
#include <cstdlib>
#endif

namespace pyo3cpp::detail {

#if PYO3CPP_DEBUG_CHECKS
[[noreturn]] inline void debug_abort(const char *what, const char *where)
{
    std::fprintf(stderr, "pyo3cpp debug check: %s in %s\n", what, where);
    std::fflush(stderr);
    std::abort();
}
// One call into the library answers both "attached?" and "inside tp_traverse?".
inline void debug_require_refcount_allowed(const char *where)
{
    const int state = pyo3cpp_debug_thread_state();
    if (state & PYO3CPP_DEBUG_IN_TRAVERSE)
        debug_abort("refcount operation during a GC traversal (tp_traverse may only visit)", where);
    if (!(state & PYO3CPP_DEBUG_ATTACHED))
        debug_abort("refcount operation on a thread that is not attached", where);
}
inline void debug_require_attached(const char *where) { debug_require_refcount_allowed(where); }
// Whether an object's header says it is dead (refcount <= 0, or the debug allocator's poison).
// From 3.14 a 64-bit GIL build's Py_REFCNT reads only the low 32 bits, so poisoned memory (0xDD…)
// passes as a live, immortal-looking object; the whole 64-bit word (as CPython's own debug build
// checks it) is negative there.
inline bool debug_looks_dead(PyObject *o)
{
#if PY_VERSION_HEX >= 0x030E0000 && !defined(Py_GIL_DISABLED) && SIZEOF_VOID_P > 4
    return o->ob_refcnt_full <= 0;
#else
    return Py_REFCNT(o) <= 0;
#endif
}
// Attached callers only (reading a refcount is racy otherwise).
inline void debug_require_alive(PyObject *o, const char *where)
{
    if (debug_looks_dead(o))
        debug_abort("double release: the object is already dead (refcount <= 0; released twice, "
                    "or a borrowed reference was stolen)",
                    where);
}
#endif

inline void incref(PyObject *o, const char *where = __builtin_FUNCTION()) noexcept
{
#if PYO3CPP_DEBUG_CHECKS
    debug_require_refcount_allowed(where);
    debug_require_alive(o, where);
#else
    (void)where;
#endif
    Py_INCREF(o);
}

inline void decref(PyObject *o, const char *where = __builtin_FUNCTION()) noexcept
{
#if PYO3CPP_DEBUG_CHECKS
    debug_require_refcount_allowed(where);
    debug_require_alive(o, where);
#else
    (void)where;
#endif
    Py_DECREF(o);
}

// Bookkeeping for Py<T> (py.hpp): `owned` is the pointer a Py takes (+1) or gives up (-1).
inline void debug_count_py(PyObject *owned, long delta) noexcept
{
#if PYO3CPP_DEBUG_CHECKS
    if (owned != nullptr) pyo3cpp_debug_count_py(delta);
#else
    (void)owned;
    (void)delta;
#endif
}

// Checks made when a Py<T> gives its reference to the library (attached or not).
inline void debug_check_py_release(PyObject *o, const char *where) noexcept
{
#if PYO3CPP_DEBUG_CHECKS
    if (o == nullptr) return;
    const int state = pyo3cpp_debug_thread_state();
    if (state & PYO3CPP_DEBUG_IN_TRAVERSE)
        debug_abort("Py<T> released during a GC traversal (tp_traverse may only visit)", where);
    if (state & PYO3CPP_DEBUG_ATTACHED) debug_require_alive(o, where);
    pyo3cpp_debug_count_py(-1);
#else
    (void)o;
    (void)where;
#endif
}

}  // namespace pyo3cpp::detail
