// container_refs.cpp — strong references out of dicts, lists and weak references, for C.
//
// What it is for: CPython 3.13 added PyDict_GetItemRef, PyDict_GetItemStringRef,
// PyList_GetItemRef, PyDict_SetDefaultRef and PyWeakref_GetRef, which hand out new references
// instead of borrowed ones (a borrowed reference out of a container that another thread
// mutates can die before it is used on a free-threaded build). C extensions that also support
// 3.11/3.12 get them here as pyo3cpp_* functions with the 3.13 contract; C++ code has the inline
// equivalents in include/pyo3cpp/compat.hpp. On 3.13+ every function forwards to CPython after
// the checks the header's conventions add (attachment, NULL arguments); on 3.11/3.12 it is the
// borrowed-reference call plus an incref, safe there because the GIL is always held.
//
// Why the exported definitions are not `noexcept`: nothing here throws (only C calls), but a
// key's __hash__/__eq__ is Python code that may release and re-take the GIL, and re-taking it
// during finalisation ends a daemon thread with a forced unwind on 3.11/3.12; that unwind must
// pass through these frames (a noexcept frame would turn it into std::terminate). The same rule
// as every other re-attach path of the library.
#include <Python.h>  // first, as CPython requires: its pyconfig.h sets feature macros
                     // (3.15: _POSIX_C_SOURCE 202405L) that the C library headers read
#include <cstddef>
#include <type_traits>

#include "runtime_state.h"

using namespace pyo3cpp::detail;

// The header spells Py_ssize_t as ptrdiff_t so that it needs no <Python.h>.
static_assert(std::is_same_v<Py_ssize_t, std::ptrdiff_t>,
              "pyo3cpp_list_get_item_ref declares its index as ptrdiff_t: it must be Py_ssize_t");

namespace {

// Every failure leaves NULL in the caller's out-pointer (when there is one), as CPython's
// functions do, so a caller that ignores the return value still never reads garbage.
void clear(PyObject **out)
{
    if (out != nullptr) *out = nullptr;
}

// ValueError for a NULL argument, naming the function and the argument. Returns -1.
int null_argument(const char *function, const char *argument)
{
    PyErr_Format(PyExc_ValueError, "%s: %s is NULL", function, argument);
    return -1;
}

#if PY_VERSION_HEX < 0x030D0000
// PyDict_GetItemRef for 3.11/3.12; the arguments are checked non-NULL.
int get_item_ref(PyObject *dict, PyObject *key, PyObject **result)
{
    if (!PyDict_Check(dict)) {
        // 3.13 calls PyErr_BadInternalCall here too: SystemError, not TypeError.
        *result = nullptr;
        PyErr_BadInternalCall();
        return -1;
    }
    // Borrowed; the GIL keeps it alive until the incref, since no Python code runs in between.
    PyObject *item = PyDict_GetItemWithError(dict, key);
    if (item == nullptr) {
        *result = nullptr;
        return PyErr_Occurred() ? -1 : 0;
    }
    Py_INCREF(item);
    *result = item;
    return 1;
}
#endif

}  // namespace

extern "C" {

PYO3CPP_API int pyo3cpp_dict_get_item_ref(PyObject *dict, PyObject *key, PyObject **result)
{
    if (!thread_is_attached()) {
        clear(result);
        return -1;
    }
    if (result == nullptr) return null_argument("pyo3cpp_dict_get_item_ref", "result");
    if (dict == nullptr || key == nullptr) {
        *result = nullptr;
        return null_argument("pyo3cpp_dict_get_item_ref", dict == nullptr ? "dict" : "key");
    }
#if PY_VERSION_HEX >= 0x030D0000
    return PyDict_GetItemRef(dict, key, result);
#else
    return get_item_ref(dict, key, result);
#endif
}

PYO3CPP_API int pyo3cpp_dict_get_item_string_ref(PyObject *dict, const char *key,
                                                 PyObject **result)
{
    if (!thread_is_attached()) {
        clear(result);
        return -1;
    }
    if (result == nullptr) return null_argument("pyo3cpp_dict_get_item_string_ref", "result");
    if (dict == nullptr || key == nullptr) {
        *result = nullptr;
        return null_argument("pyo3cpp_dict_get_item_string_ref", dict == nullptr ? "dict" : "key");
    }
#if PY_VERSION_HEX >= 0x030D0000
    return PyDict_GetItemStringRef(dict, key, result);
#else
    // 3.13 decodes the key first, then looks up: the same order, so the same exception wins.
    PyObject *key_object = PyUnicode_FromString(key);
    if (key_object == nullptr) {
        *result = nullptr;
        return -1;
    }
    const int found = get_item_ref(dict, key_object, result);
    Py_DECREF(key_object);
    return found;
#endif
}

PYO3CPP_API PyObject *pyo3cpp_list_get_item_ref(PyObject *list, std::ptrdiff_t index)
{
    if (!thread_is_attached()) return nullptr;
    if (list == nullptr) {
        null_argument("pyo3cpp_list_get_item_ref", "list");
        return nullptr;
    }
#if PY_VERSION_HEX >= 0x030D0000
    return PyList_GetItemRef(list, index);
#else
    // PyList_GetItem would raise SystemError for a non-list; 3.13's function raises TypeError.
    if (!PyList_Check(list)) {
        PyErr_SetString(PyExc_TypeError, "expected a list");
        return nullptr;
    }
    PyObject *item = PyList_GetItem(list, index);  // borrowed; IndexError when out of range
    if (item == nullptr) return nullptr;
    Py_INCREF(item);
    return item;
#endif
}

PYO3CPP_API int pyo3cpp_dict_set_default_ref(PyObject *dict, PyObject *key,
                                             PyObject *default_value, PyObject **result)
{
    if (!thread_is_attached()) {
        clear(result);
        return -1;
    }
    if (dict == nullptr || key == nullptr || default_value == nullptr) {
        clear(result);
        return null_argument("pyo3cpp_dict_set_default_ref",
                             dict == nullptr ? "dict" : key == nullptr ? "key" : "default_value");
    }
#if PY_VERSION_HEX >= 0x030D0000
    return PyDict_SetDefaultRef(dict, key, default_value, result);
#else
    if (!PyDict_Check(dict)) {
        clear(result);
        PyErr_BadInternalCall();  // what 3.13 raises for a non-dict
        return -1;
    }
    // One PyDict_SetDefault, never a lookup then a PyDict_SetItem: between those two calls a
    // key's Python __hash__/__eq__ can let another thread insert, and both callers would then
    // believe their own default won (the second insertion overwrites the first).
    // PyDict_SetDefault does not say whether it inserted. The size tells, unless the key's own
    // Python code let another thread change the dict meanwhile (then only 1 vs 0 can blur;
    // the value returned is always the one the dict holds).
    const Py_ssize_t size_before = PyDict_GET_SIZE(dict);
    PyObject *value = PyDict_SetDefault(dict, key, default_value);  // borrowed
    if (value == nullptr) {
        clear(result);
        return -1;
    }
    const bool inserted = value == default_value && PyDict_GET_SIZE(dict) > size_before;
    if (result != nullptr) {
        Py_INCREF(value);  // no Python code ran since the call: `value` is still alive
        *result = value;
    }
    return inserted ? 0 : 1;
#endif
}

PYO3CPP_API int pyo3cpp_weakref_get_ref(PyObject *ref, PyObject **pobj)
{
    if (!thread_is_attached()) {
        clear(pobj);
        return -1;
    }
    if (pobj == nullptr) return null_argument("pyo3cpp_weakref_get_ref", "pobj");
    if (ref == nullptr) {
        // 3.13 raises TypeError for NULL; the header's convention for NULL is ValueError.
        *pobj = nullptr;
        return null_argument("pyo3cpp_weakref_get_ref", "ref");
    }
#if PY_VERSION_HEX >= 0x030D0000
    return PyWeakref_GetRef(ref, pobj);
#else
    if (!PyWeakref_Check(ref)) {
        *pobj = nullptr;
        PyErr_SetString(PyExc_TypeError, "expected a weakref");
        return -1;
    }
    // Borrowed; Py_None once the referent is dead (or being deallocated: refcount zero).
    PyObject *target = PyWeakref_GetObject(ref);
    if (target == nullptr) {
        *pobj = nullptr;
        return -1;
    }
    if (target == Py_None) {
        *pobj = nullptr;
        return 0;
    }
    Py_INCREF(target);
    *pobj = target;
    return 1;
#endif
}

}  // extern "C"
