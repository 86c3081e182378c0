// critical_section.hpp — per-object critical sections: the free-threaded replacement for "the
// GIL protects this object".
//
//   pyo3cpp::critical_section(py, list, [&] { /* list cannot change under us */ });
//   pyo3cpp::critical_section(py, a, b, [&] { /* both locked, in a global order */ });
//   { pyo3cpp::CriticalSection guard(py, obj); ... }        // RAII form; LIFO; not copyable
//
// Contract:
//   - Free-threaded builds: locks the object's per-object mutex (CPython's PyCriticalSection),
//     waiting detached. GIL builds: compiles to nothing; the GIL already excludes.
//   - The two-object form locks in a global order, so threads locking (a, b) and (b, a) never
//     deadlock; a == b locks once.
//   - HONEST LIMIT: a critical section is suspended whenever the thread detaches — any call that
//     may block or release the GIL (I/O, detach(), waiting on a Mutex, a nested critical section
//     on another object that must wait, and, under CPython's rules, calling arbitrary Python
//     code that does these). Another thread may then run inside the section; it resumes when
//     this thread re-attaches. Use it to make a sequence of container operations atomic, not as
//     a lock around callbacks into unknown code.
//   - CPYTHON 3.13 RE-ENTRY LIMIT (free-threaded 3.13 only): CPython's own container functions
//     open a critical section on their object (PyDict_SetItem, PyList_SetItem, PyList_Append,
//     dict.update, ...). On 3.13 a nested section on a mutex this thread already holds is not
//     recognised: it blocks, which detaches, which suspends YOUR section — so "read, then
//     PyDict_SetItem on the same dict" inside a section is NOT atomic on 3.13 (measured: 8
//     threads x 12,500 increments kept ~25% of them) and is slow (each such call parks).
//     CPython 3.14 skips re-locking the mutex of the top-most one-object section (gh-114203).
//     On 3.13, inside a section on `obj`, touch `obj` through accessors that do not lock it
//     again (PyList_GET_ITEM / PyList_SET_ITEM, PyDict_GetItemRef and other lookups), or use
//     ExclusiveSection (exclusive_section.hpp), which stays exclusive through the re-entry.
//   - Guards must be destroyed in reverse order of creation, on the thread that made them.
// Cost: free-threaded, uncontended: CPython's begin/end (a few atomic operations); GIL: zero.
#pragma once

#include <Python.h>  // first: its pyconfig.h sets feature macros the C library reads
#include <type_traits>
#include <utility>

#include "pyo3cpp/python.hpp"

namespace pyo3cpp {

class CriticalSection {
public:
    template <class View>
    CriticalSection(Python, const View &object)
    {
#ifdef Py_GIL_DISABLED
        PyCriticalSection_Begin(&section_, object.as_ptr());
#else
        (void)object;
#endif
    }
    CriticalSection(const CriticalSection &) = delete;
    CriticalSection &operator=(const CriticalSection &) = delete;
    CriticalSection(CriticalSection &&) = delete;
    CriticalSection &operator=(CriticalSection &&) = delete;
    ~CriticalSection()
    {
#ifdef Py_GIL_DISABLED
        PyCriticalSection_End(&section_);
#endif
    }

private:
#ifdef Py_GIL_DISABLED
    PyCriticalSection section_;
#endif
};

class CriticalSection2 {
public:
    template <class ViewA, class ViewB>
    CriticalSection2(Python, const ViewA &a, const ViewB &b)
    {
#ifdef Py_GIL_DISABLED
        PyCriticalSection2_Begin(&section_, a.as_ptr(), b.as_ptr());
#else
        (void)a;
        (void)b;
#endif
    }
    CriticalSection2(const CriticalSection2 &) = delete;
    CriticalSection2 &operator=(const CriticalSection2 &) = delete;
    CriticalSection2(CriticalSection2 &&) = delete;
    CriticalSection2 &operator=(CriticalSection2 &&) = delete;
    ~CriticalSection2()
    {
#ifdef Py_GIL_DISABLED
        PyCriticalSection2_End(&section_);
#endif
    }

private:
#ifdef Py_GIL_DISABLED
    PyCriticalSection2 section_;
#endif
};

// Runs fn() inside a critical section on `object`; returns fn's result; exceptions propagate
// after the section ends.
template <class View, class F>
auto critical_section(Python py, const View &object, F &&fn) -> std::invoke_result_t<F &&>
{
    CriticalSection guard(py, object);
    return std::forward<F>(fn)();
}

template <class ViewA, class ViewB, class F>
auto critical_section(Python py, const ViewA &a, const ViewB &b, F &&fn)
    -> std::invoke_result_t<F &&>
{
    CriticalSection2 guard(py, a, b);
    return std::forward<F>(fn)();
}

}  // namespace pyo3cpp
