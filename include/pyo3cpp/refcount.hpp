// refcount.hpp — the two refcount primitives every owner uses, with the debug checks hooked in.
//
// Contract: incref/decref require an attached thread. With -Ddebug_checks=true each call
// verifies that and aborts with a message naming the operation otherwise; with it off they are
// exactly Py_INCREF / Py_DECREF.
#pragma once

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
    std::abort();
}
inline void debug_require_attached(const char *where)
{
    if (!pyo3cpp_is_attached())
        debug_abort("refcount operation on a thread that is not attached", where);
}
#endif

inline void incref(PyObject *o, const char *where = __builtin_FUNCTION()) noexcept
{
#if PYO3CPP_DEBUG_CHECKS
    debug_require_attached(where);
#else
    (void)where;
#endif
    Py_INCREF(o);
}

inline void decref(PyObject *o, const char *where = __builtin_FUNCTION()) noexcept
{
#if PYO3CPP_DEBUG_CHECKS
    debug_require_attached(where);
#else
    (void)where;
#endif
    Py_DECREF(o);
}

}  // namespace pyo3cpp::detail
