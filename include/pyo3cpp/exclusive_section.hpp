// exclusive_section.hpp — a critical section that stays exclusive while CPython re-locks the same
// object: what a read-modify-write of a list or dict needs on free-threaded CPython 3.13.
//
//   pyo3cpp::exclusive_section(py, list, [&] {
//       Py_ssize_t i = find_slot(list);        // decide ...
//       list.insert(i, item);                  // ... and act, with no other pyo3cpp user between
//   });
//
// Why: CriticalSection (critical_section.hpp) is suspended whenever the thread detaches. On
// CPython 3.13 that also happens inside CPython's own PyList_Append / PyList_Insert /
// PyDict_SetItem: they lock the object's critical section again, 3.13 has no same-object fast
// path, so the nested lock parks, detaches and suspends yours — measured: 8 threads doing
// "if x not in list: append" under a plain section added 753 items where 300 were distinct.
// ExclusiveSection adds pyo3cpp's per-object lock (abi/pyo3cpp.h, "object locks"), which is
// never suspended, to the critical section:
//   - exclusive against every other ExclusiveSection on the same object, across detaches and
//     nested CPython calls;
//   - against code that uses only critical sections (CPython's own list/dict methods, other
//     extensions), exactly as exclusive as a CriticalSection.
// Rules: recursive on the same thread; two objects are locked in address order by the
// two-object form; never wait inside one for another thread that needs the same object's
// section (that is a deadlock with any lock). GIL builds: compiles to nothing.
// Cost (free-threaded): the critical section plus one sharded table lookup on entry and exit.
//
// CPython calls that lock the object again: wrap them in relocking() (RAII form). On 3.13 that
// includes dict READS: PyDict_GetItemRef (get_item, contains, ...) falls back to locking the
// dict whenever its lock-free path cannot take a reference, which is always the case for a
// value another thread made and nobody else has shared yet (measured: a shared dict counter
// whose get ran inside the plain section cost 9 us per increment on 8 threads, 0.2 us through
// relocking):
//
//   pyo3cpp::ExclusiveSection section(py, list);
//   Py_ssize_t i = find_slot(list);
//   section.relocking(py, [&] { list.insert(i, item); });    // PyList_Insert
//   auto n = section.relocking(py, [&] { return counts.get_item(key); });   // PyDict_GetItemRef
//
// Inside a plain exclusive section they work, but on 3.13 the nested lock is not recognised:
// the thread parks on its own mutex, detaches (suspending the section) and wakes itself up —
// measured about 7 us per PyList_Append (20,000 heappush: 143 ms instead of 1.2 ms). relocking
// runs them with the critical section ended and begun again after (the object lock stays held,
// so other exclusive sections still stay out; code using only critical sections may run in that
// gap, exactly as it may during the 3.13 suspension). 3.14+ (nested lock free, no gap) and GIL
// builds: relocking just calls fn. Only on the innermost section of this thread.
#pragma once

#include <Python.h>  // first: its pyconfig.h sets feature macros the C library reads
#include <functional>
#include <optional>
#include <type_traits>
#include <utility>

#include "pyo3cpp/critical_section.hpp"

namespace pyo3cpp {

namespace detail {
// Holds pyo3cpp's object lock for a scope (free-threaded builds only).
class ObjectLock {
public:
    ObjectLock(Python py, PyObject *object) : object_(object)
    {
#ifdef Py_GIL_DISABLED
        if (pyo3cpp_object_lock(object_) != 0) throw_fetched(py);
#else
        (void)py;
#endif
    }
    ObjectLock(const ObjectLock &) = delete;
    ObjectLock &operator=(const ObjectLock &) = delete;
    ~ObjectLock()
    {
#ifdef Py_GIL_DISABLED
        (void)pyo3cpp_object_unlock(object_);
#endif
    }

private:
    [[maybe_unused]] PyObject *object_;
};
}  // namespace detail

// Tag: take the object lock now, begin the critical section later (see ExclusiveSection).
struct DeferSection {
    explicit DeferSection() = default;
};
inline constexpr DeferSection defer_section{};

class ExclusiveSection {
public:
    template <class View>
    ExclusiveSection(Python py, const View &object)
        : lock_(py, object.as_ptr()), object_{object.as_ptr()}
    {
        section_.emplace(py, object_);
    }
    // Only the object lock now; the critical section begins at the end of the first
    // relocking() (or with begin_section()). For an operation that starts with a re-locking call
    // (heappush: append, then sift): on 3.13t it saves ending and beginning the section once.
    //   pyo3cpp::ExclusiveSection section(py, list, pyo3cpp::defer_section);
    //   section.relocking(py, [&] { list.append(item); });   // the section begins after it
    template <class View>
    ExclusiveSection(Python py, const View &object, DeferSection)
        : lock_(py, object.as_ptr()), object_{object.as_ptr()}
    {
    }
    // Begins the critical section if it is not active (after defer_section).
    void begin_section(Python py)
    {
        if (!section_) section_.emplace(py, object_);
    }
    ExclusiveSection(const ExclusiveSection &) = delete;
    ExclusiveSection &operator=(const ExclusiveSection &) = delete;

    // Runs fn(), a CPython call that locks this object's critical section itself (PyList_Append,
    // PyList_Insert, PyList_SetSlice, PyDict_SetItem, ...), without 3.13's self-park (see the
    // header comment). fn may throw; the section is begun again either way.
    template <class F> decltype(auto) relocking(Python py, F &&fn)
    {
#if defined(Py_GIL_DISABLED) && PY_VERSION_HEX < 0x030E0000
        struct Resume {
            ExclusiveSection &self;
            Python py;
            ~Resume() { self.section_.emplace(py, self.object_); }
        };
        section_.reset();
        Resume resume{*this, py};
        return std::forward<F>(fn)();
#else
        struct BeginIfDeferred {  // nothing to end here: the nested lock is free (or a no-op)
            ExclusiveSection &self;
            Python py;
            ~BeginIfDeferred() { self.begin_section(py); }
        };
        BeginIfDeferred begin{*this, py};
        return std::forward<F>(fn)();
#endif
    }

private:
    // The smallest view CriticalSection accepts.
    struct ObjectPointer {
        PyObject *ptr;
        PyObject *as_ptr() const noexcept { return ptr; }
    };

    detail::ObjectLock lock_;  // taken first, released last
    ObjectPointer object_;
    std::optional<CriticalSection> section_;  // empty inside relocking() on 3.13t, or deferred
};

class ExclusiveSection2 {
public:
    template <class ViewA, class ViewB>
    ExclusiveSection2(Python py, const ViewA &a, const ViewB &b)
        : first_(py, std::less<PyObject *>()(a.as_ptr(), b.as_ptr()) ? a.as_ptr() : b.as_ptr()),
          second_(py, std::less<PyObject *>()(a.as_ptr(), b.as_ptr()) ? b.as_ptr() : a.as_ptr()),
          section_(py, a, b)
    {
    }
    ExclusiveSection2(const ExclusiveSection2 &) = delete;
    ExclusiveSection2 &operator=(const ExclusiveSection2 &) = delete;

private:
    detail::ObjectLock first_, second_;  // a == b: the lock is recursive
    CriticalSection2 section_;
};

template <class View, class F>
auto exclusive_section(Python py, const View &object, F &&fn) -> std::invoke_result_t<F &&>
{
    ExclusiveSection guard(py, object);
    return std::forward<F>(fn)();
}

template <class ViewA, class ViewB, class F>
auto exclusive_section(Python py, const ViewA &a, const ViewB &b, F &&fn)
    -> std::invoke_result_t<F &&>
{
    ExclusiveSection2 guard(py, a, b);
    return std::forward<F>(fn)();
}

}  // namespace pyo3cpp
