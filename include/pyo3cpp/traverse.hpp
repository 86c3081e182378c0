// traverse.hpp — TraverseGuard: marks a tp_traverse implementation so misuse inside it is caught.
//
// Why: CPython calls tp_traverse while it collects garbage (on free-threaded builds, with every
// other thread stopped). A traversal may only call `visit` on the objects it holds; creating or
// dropping a reference, or attaching, there corrupts the collector's counts or deadlocks the
// stop-the-world pause. Such bugs are silent until a rare collection goes wrong.
//
// Contract: construct one at the top of every tp_traverse (and nothing else). With
// -Ddebug_checks=true, while it lives on this thread any pyo3cpp refcount operation (Bound
// copy/destroy, Py<T> release, incref/decref) or attach aborts with
//     "pyo3cpp debug check: refcount operation during a GC traversal ... in <caller>".
// Guards nest (a traverse that calls another type's traverse). Thread: the traversing thread;
// destroy it on the same thread, in LIFO order. Not copyable or movable.
// Cost: nothing without debug checks (an empty object); with them, two library calls.
//
// Example:
//     static int Cache_traverse(PyObject *self, visitproc visit, void *arg)
//     {
//         pyo3cpp::TraverseGuard guard;
//         Py_VISIT(reinterpret_cast<Cache *>(self)->callback.as_ptr());
//         return 0;
//     }
#pragma once

#include <Python.h>  // first: its pyconfig.h sets feature macros the C library reads
#include "pyo3cpp/fwd.hpp"

namespace pyo3cpp {

class TraverseGuard {
public:
    TraverseGuard() noexcept
    {
#if PYO3CPP_DEBUG_CHECKS
        pyo3cpp_debug_traverse_enter();
#endif
    }
    ~TraverseGuard()
    {
#if PYO3CPP_DEBUG_CHECKS
        pyo3cpp_debug_traverse_leave();
#endif
    }
    TraverseGuard(const TraverseGuard &) = delete;
    TraverseGuard &operator=(const TraverseGuard &) = delete;
};

}  // namespace pyo3cpp
