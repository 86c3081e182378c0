// class_dealloc.hpp — deallocating a bound class's instances at any depth: the trashcan around
// tp_dealloc, so freeing a chain of a million bound objects (each T holding a Py<> to the next:
// tp_dealloc -> ~T -> ~Py -> Py_DECREF -> tp_dealloc ...) or a deep nesting of lists inside bound
// objects never overflows the C stack, on the main thread or on a thread with the default stack.
//
// Used by class.hpp's tp_dealloc as
//
//   DeallocDepth depth(self, &tp_dealloc, gc);   // false: deferred, nothing more to do now
//   if (!depth.entered()) return;
//   ... the body: ~T, __dict__, tp_free ...
//   (depth's destructor: leaves the level; at the top, frees what was deferred)
//
// Contract:
//   - Depth is CPython's own per-thread count of nested deallocations (the one list, tuple and
//     dict deallocation use: trash_delete_nesting on 3.11, trash.delete_nesting on 3.12,
//     c_recursion_remaining on 3.13), so bound objects and CPython's containers nested in each
//     other share one budget.
//   - GC types defer through CPython's trashcan itself (the object is untracked first, as the
//     trashcan requires). Types without GC support cannot go on CPython's list (it links
//     through the GC header), so they go on a per-thread list of this header's, linked through
//     the instance lock's bytes (unused once the refcount is 0, zeroed again before the object
//     is finished), and are finished when the thread is back near the top of its deallocations.
//   - tp_clear needs nothing of its own: the deallocations its drops start go through here.
//   - The non-GC list is per extension: a chain whose deep part is another extension's non-GC
//     objects is finished at that extension's next deallocation near the top (not leaked,
//     possibly later than the chain's top).
//   - Only the type's own tp_dealloc defers (not a base's called by a subclass's deallocation,
//     which has a trashcan of its own), as CPython's macros decide.
// Thread: the deallocating thread (attached). Cost: PyThreadState_Get and a counter up and down
// per deallocation (what CPython's list pays) and one process-wide counter of deferred objects
// read (0 unless some thread is unwinding a deep chain of non-GC instances); nothing for a
// trivially destructible T without __dict__ (class.hpp skips it: it cannot free another
// instance).
#pragma once

#include <Python.h>

#include <atomic>
#include <cstring>

namespace pyo3cpp::detail {

// The per-thread list of deferred instances of non-GC bound classes (one per extension; the
// link sits just after the object header, where the instance lock lives).
struct DeferredDeallocs {
    static inline thread_local PyObject *head = nullptr;
    static inline thread_local bool draining = false;
    static inline std::atomic<long> pending{0};  // all threads' lists: checked on the way out

    static PyObject *&link(PyObject *op) noexcept
    {
        return *reinterpret_cast<PyObject **>(reinterpret_cast<char *>(op) + sizeof(PyObject));
    }
    [[gnu::noinline]] static void deposit(PyObject *op) noexcept
    {
        link(op) = head;
        head = op;
        pending.fetch_add(1, std::memory_order_relaxed);
    }
    // Finishes this thread's deferred objects (their own chains deposit again; the loop takes
    // them too). Not re-entered from the deallocations it runs.
    [[gnu::noinline]] static void drain() noexcept
    {
        if (draining || head == nullptr) return;
        draining = true;
        while (PyObject *op = head) {
            head = link(op);
            link(op) = nullptr;  // the lock's bytes as tp_alloc left them
            pending.fetch_sub(1, std::memory_order_relaxed);
            Py_TYPE(op)->tp_dealloc(op);
        }
        draining = false;
    }
};

// One level of deallocation on this thread (CPython's count), and what CPython deferred.
#if PY_VERSION_HEX >= 0x030D0000 && PY_VERSION_HEX < 0x030E0000
inline bool dealloc_too_deep(PyThreadState *t) noexcept { return t->c_recursion_remaining <= Py_TRASHCAN_HEADROOM; }
inline void cpython_defer(PyThreadState *t, PyObject *op) noexcept { _PyTrash_thread_deposit_object(t, op); }
inline void dealloc_enter(PyThreadState *t) noexcept { --t->c_recursion_remaining; }
inline bool dealloc_near_top(PyThreadState *t) noexcept { return t->c_recursion_remaining > 2 * Py_TRASHCAN_HEADROOM; }
inline void dealloc_leave(PyThreadState *t) noexcept
{
    ++t->c_recursion_remaining;
    if (t->delete_later != nullptr && dealloc_near_top(t)) _PyTrash_thread_destroy_chain(t);
}
#elif PY_VERSION_HEX < 0x030D0000
#if PY_VERSION_HEX >= 0x030C0000
inline int &dealloc_nesting(PyThreadState *t) noexcept { return t->trash.delete_nesting; }
inline bool cpython_deferred_some(PyThreadState *t) noexcept { return t->trash.delete_later != nullptr; }
#else
inline int &dealloc_nesting(PyThreadState *t) noexcept { return t->trash_delete_nesting; }
inline bool cpython_deferred_some(PyThreadState *t) noexcept { return t->trash_delete_later != nullptr; }
#endif
inline bool dealloc_too_deep(PyThreadState *t) noexcept { return dealloc_nesting(t) >= 50; }  // its unwind level
inline void cpython_defer(PyThreadState *t, PyObject *op) noexcept { (void)_PyTrash_begin(t, op); }  // deep: deposits
inline void dealloc_enter(PyThreadState *t) noexcept { ++dealloc_nesting(t); }
inline bool dealloc_near_top(PyThreadState *t) noexcept { return dealloc_nesting(t) <= 0; }
inline void dealloc_leave(PyThreadState *t) noexcept
{
    if (cpython_deferred_some(t))
        _PyTrash_end(t);  // down a level; frees CPython's list at the top
    else
        --dealloc_nesting(t);
}
#else
// A later CPython: a count of this header's own (bound objects only).
inline thread_local int t_dealloc_depth = 0;
inline bool dealloc_too_deep(PyThreadState *) noexcept { return t_dealloc_depth >= 50; }
inline void cpython_defer(PyThreadState *, PyObject *op) noexcept { DeferredDeallocs::deposit(op); }
inline void dealloc_enter(PyThreadState *) noexcept { ++t_dealloc_depth; }
inline bool dealloc_near_top(PyThreadState *) noexcept { return t_dealloc_depth <= 0; }
inline void dealloc_leave(PyThreadState *) noexcept { --t_dealloc_depth; }
#endif

// The trashcan around one tp_dealloc: entered() false when the object was deferred (the body
// must not run now). `gc`: the type supports GC (and the object is untracked already).
class DeallocDepth {
public:
    DeallocDepth(PyObject *op, destructor own_dealloc, bool gc) noexcept : tstate_(PyThreadState_Get())
    {
        if (dealloc_too_deep(tstate_) && Py_TYPE(op)->tp_dealloc == own_dealloc) [[unlikely]] {
            if (gc)
                cpython_defer(tstate_, op);
            else
                DeferredDeallocs::deposit(op);
            tstate_ = nullptr;
            return;
        }
        dealloc_enter(tstate_);
    }
    ~DeallocDepth()
    {
        if (tstate_ == nullptr) return;
        dealloc_leave(tstate_);
        if (DeferredDeallocs::pending.load(std::memory_order_relaxed) != 0 && dealloc_near_top(tstate_))
            [[unlikely]] DeferredDeallocs::drain();
    }
    DeallocDepth(const DeallocDepth &) = delete;
    DeallocDepth &operator=(const DeallocDepth &) = delete;
    bool entered() const noexcept { return tstate_ != nullptr; }

private:
    PyThreadState *tstate_;
};

}  // namespace pyo3cpp::detail
