// list_in_section.hpp — grow, shrink and rewrite a list while *holding its critical section*.
//
// Why this exists: the ports lock the list for a whole heappush / insort so that no other
// thread sees (or changes) it half-done. But CPython 3.13's own list mutators (PyList_Append,
// PyList_Insert, PyList_SetSlice) each open a critical section on the same list, and 3.13 has
// no "already mine" shortcut: the nested begin blocks on our own lock, detaches, which
// *suspends our section* (another thread may run a whole operation in the gap) and costs a
// park/unpark. So inside the section we change the list with the calls below instead.
//
//   pyo3cpp::CriticalSection guard(py, heap);
//   list_in_section::append(py, heap.as_ptr(), item);   // no nested lock, no suspension
//
// Contract (all functions): `list` is a list (or subclass) whose critical section the caller
// holds (GIL builds: the caller holds the GIL); attached thread. Failures throw PyErr.
//   - GIL builds and free-threaded 3.14+ (where a nested section on the same object is free):
//     CPython's own PyList_Append / PyList_Insert / PyList_SetSlice.
//   - Free-threaded 3.13: in-place stores while there is spare capacity (what CPython's inline
//     append does), and CPython's exported-but-private _PyList_AppendTakeRefListResize (which
//     expects the caller to hold the lock) when the list is full.
//   - pop_last never shrinks the allocation on free-threaded 3.13 (CPython shrinks once a list
//     falls below half its capacity); the memory is reused on the next growth.
// Item stores are relaxed atomic stores on free-threaded builds, because other threads read
// list items without the lock (PyList_GetItemRef's lock-free path).
// Cost: the common case is a bounds check and one or two stores; no call.
#pragma once

#include <Python.h>

#include <pyo3cpp/pyo3cpp.hpp>

#if defined(Py_GIL_DISABLED) && PY_VERSION_HEX < 0x030E0000
// Exported by libpython3.13t (PyAPI_FUNC in Include/internal/pycore_list.h): appends when the
// list is full, stealing `newitem`, without taking the list's lock.
extern "C" int _PyList_AppendTakeRefListResize(PyListObject *self, PyObject *newitem);
#define LIST_IN_SECTION_OWN_MUTATORS 1
#else
#define LIST_IN_SECTION_OWN_MUTATORS 0
#endif

namespace list_in_section {

inline PyObject **items(PyObject *list) noexcept
{
    return reinterpret_cast<PyListObject *>(list)->ob_item;
}

// list[index] = value, where the list's old reference at `index` has been taken over by the
// caller (a swap or a move inside the list): no refcount change.
inline void store(PyObject *list, Py_ssize_t index, PyObject *value) noexcept
{
#ifdef Py_GIL_DISABLED
    __atomic_store_n(&items(list)[index], value, __ATOMIC_RELAXED);
#else
    items(list)[index] = value;
#endif
}

// list.append(item); `item` is borrowed (the list takes a new reference).
inline void append(pyo3cpp::Python py, PyObject *list, PyObject *item)
{
#if LIST_IN_SECTION_OWN_MUTATORS
    auto *self = reinterpret_cast<PyListObject *>(list);
    const Py_ssize_t size = PyList_GET_SIZE(list);
    if (self->allocated > size) {
        __atomic_store_n(&self->ob_item[size], Py_NewRef(item), __ATOMIC_RELEASE);
        Py_SET_SIZE(list, size + 1);
        return;
    }
    if (_PyList_AppendTakeRefListResize(self, Py_NewRef(item)) < 0) pyo3cpp::throw_fetched(py);
#else
    if (PyList_Append(list, item) < 0) pyo3cpp::throw_fetched(py);
#endif
}

// list.pop() of a non-empty list: returns the last item (the list's reference moves to the
// caller).
inline PyObject *pop_last(pyo3cpp::Python py, PyObject *list)
{
    auto *self = reinterpret_cast<PyListObject *>(list);
    const Py_ssize_t size = PyList_GET_SIZE(list);
    PyObject *last = self->ob_item[size - 1];
    // Shrinking within the top half of the allocation is only a size change, exactly what
    // CPython's list_resize does in that case.
    if (LIST_IN_SECTION_OWN_MUTATORS || size - 1 >= (self->allocated >> 1)) {
        Py_SET_SIZE(list, size - 1);
        return last;
    }
    Py_INCREF(last);  // the slice deletion drops the list's reference
    if (PyList_SetSlice(list, size - 1, size, nullptr) < 0) {
        Py_DECREF(last);
        pyo3cpp::throw_fetched(py);
    }
    return last;
}

// list.insert(where, item) with PyList_Insert's clamping; `item` is borrowed.
inline void insert(pyo3cpp::Python py, PyObject *list, Py_ssize_t where, PyObject *item)
{
#if LIST_IN_SECTION_OWN_MUTATORS
    const Py_ssize_t size = PyList_GET_SIZE(list);
    if (where < 0) where = where + size < 0 ? 0 : where + size;
    if (where > size) where = size;
    append(py, list, item);  // grows by one (item at the end) ...
    PyObject **slots = items(list);
    for (Py_ssize_t i = size; i > where; --i)  // ... then rotates it into place
        __atomic_store_n(&slots[i], slots[i - 1], __ATOMIC_RELAXED);
    __atomic_store_n(&slots[where], item, __ATOMIC_RELEASE);
#else
    if (PyList_Insert(list, where, item) < 0) pyo3cpp::throw_fetched(py);
#endif
}

}  // namespace list_in_section
