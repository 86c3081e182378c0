// compat.hpp — strong-reference C API calls on every supported CPython.
//
// What it does: CPython 3.13 added lookups that return a *strong* reference instead of a
// borrowed one (PyDict_GetItemRef, PyList_GetItemRef, PyWeakref_GetRef, ...). On a
// free-threaded build a borrowed reference taken out of a container another thread may mutate
// can be freed under your feet, so every pyo3cpp header uses only these forms. On 3.13+ the
// functions below are CPython's own (inline forwarding, zero cost); on 3.11/3.12 they are shims
// built from the borrowed-reference calls plus an incref, which is safe there because those
// Pythons always have a GIL.
//
// Names live in pyo3cpp::compat and never reuse CPython's names, so they do not collide with
// pythoncapi_compat.h or a future CPython.
//
// When safe: attached callers only (like the C API). Any thread.
// Cost: 3.13+: exactly the CPython call. 3.11/3.12: the borrowed call plus one Py_INCREF.
//
// Example:
//     PyObject *value;
//     switch (pyo3cpp::compat::dict_get_item_ref(dict, key, &value)) {
//         case 1: use(value); Py_DECREF(value); break;   // found: strong reference
//         case 0: break;                                 // missing, no exception
//         default: return nullptr;                       // -1: exception set
//     }
#pragma once

#include <Python.h>

namespace pyo3cpp::compat {

// Returns 1 and a new reference in *result when `key` is in `dict`; 0 and NULL when it is not;
// -1 and NULL with an exception set (unhashable key, not a dict).
inline int dict_get_item_ref(PyObject *dict, PyObject *key, PyObject **result) noexcept
{
#if PY_VERSION_HEX >= 0x030D0000
    return PyDict_GetItemRef(dict, key, result);
#else
    if (!PyDict_Check(dict)) {
        *result = nullptr;
        PyErr_Format(PyExc_SystemError, "dict_get_item_ref: expected dict, got %.200s",
                     Py_TYPE(dict)->tp_name);
        return -1;
    }
    PyObject *item = PyDict_GetItemWithError(dict, key);  // borrowed; the GIL keeps it alive
    if (item == nullptr) {
        *result = nullptr;
        return PyErr_Occurred() ? -1 : 0;
    }
    Py_INCREF(item);
    *result = item;
    return 1;
#endif
}

// The same with a UTF-8 C string key.
inline int dict_get_item_string_ref(PyObject *dict, const char *key, PyObject **result) noexcept
{
#if PY_VERSION_HEX >= 0x030D0000
    return PyDict_GetItemStringRef(dict, key, result);
#else
    PyObject *key_object = PyUnicode_FromString(key);
    if (key_object == nullptr) {
        *result = nullptr;
        return -1;
    }
    const int found = dict_get_item_ref(dict, key_object, result);
    Py_DECREF(key_object);
    return found;
#endif
}

// A new reference to list[index], or NULL with IndexError (out of range) or TypeError (not a
// list). Negative indexes are out of range, as in PyList_GetItem.
inline PyObject *list_get_item_ref(PyObject *list, Py_ssize_t index) noexcept
{
#if PY_VERSION_HEX >= 0x030D0000
    return PyList_GetItemRef(list, index);
#else
    // PyList_GetItem checks the type itself; the TypeError is made only on failure, so the
    // hot path is the call and an incref, like the hand-written code.
    PyObject *item = PyList_GetItem(list, index);  // borrowed; sets IndexError when out of range
    if (item == nullptr) {
        if (!PyList_Check(list)) {
            PyErr_Clear();  // SystemError "bad argument to internal function"
            PyErr_Format(PyExc_TypeError, "expected list, got %.200s", Py_TYPE(list)->tp_name);
        }
        return nullptr;
    }
    Py_INCREF(item);
    return item;
#endif
}

// Returns 1 and a new reference to the referent of weak reference `ref` in *result; 0 and NULL
// when the referent is dead; -1 and NULL with TypeError when `ref` is not a weak reference.
inline int weakref_get_ref(PyObject *ref, PyObject **result) noexcept
{
#if PY_VERSION_HEX >= 0x030D0000
    return PyWeakref_GetRef(ref, result);
#else
    if (ref == nullptr || !PyWeakref_Check(ref)) {
        *result = nullptr;
        PyErr_SetString(PyExc_TypeError, "expected a weakref");
        return -1;
    }
    PyObject *target = PyWeakref_GetObject(ref);  // borrowed, Py_None when dead
    if (target == nullptr) {
        *result = nullptr;
        return -1;
    }
    if (target == Py_None) {
        *result = nullptr;
        return 0;
    }
    Py_INCREF(target);
    *result = target;
    return 1;
#endif
}

// A new reference to sys.modules[name], created empty if absent; NULL with an exception set.
inline PyObject *import_add_module_ref(const char *name) noexcept
{
#if PY_VERSION_HEX >= 0x030D0000
    return PyImport_AddModuleRef(name);
#else
    PyObject *module = PyImport_AddModule(name);  // borrowed from sys.modules
    Py_XINCREF(module);
    return module;
#endif
}

// getattr(obj, name) where a missing attribute is not an error: returns 1 and a new reference
// in *result when present; 0 and NULL when AttributeError was raised (it is cleared); -1 and
// NULL with any other exception set.
inline int object_get_optional_attr(PyObject *obj, PyObject *name, PyObject **result) noexcept
{
#if PY_VERSION_HEX >= 0x030D0000
    return PyObject_GetOptionalAttr(obj, name, result);
#else
    *result = PyObject_GetAttr(obj, name);
    if (*result != nullptr) return 1;
    if (!PyErr_ExceptionMatches(PyExc_AttributeError)) return -1;
    PyErr_Clear();
    return 0;
#endif
}

inline int object_get_optional_attr_string(PyObject *obj, const char *name,
                                           PyObject **result) noexcept
{
#if PY_VERSION_HEX >= 0x030D0000
    return PyObject_GetOptionalAttrString(obj, name, result);
#else
    PyObject *name_object = PyUnicode_FromString(name);
    if (name_object == nullptr) {
        *result = nullptr;
        return -1;
    }
    const int found = object_get_optional_attr(obj, name_object, result);
    Py_DECREF(name_object);
    return found;
#endif
}

// dict.setdefault(key, default) with a strong result, in one atomic step: returns 1 when key was
// present (its value in *result, if result is not NULL), 0 when `default_value` was inserted (a
// new reference to it in *result), -1 with an exception set (*result NULL). Every caller racing
// on one key gets the same value back.
inline int dict_set_default_ref(PyObject *dict, PyObject *key, PyObject *default_value,
                                PyObject **result) noexcept
{
#if PY_VERSION_HEX >= 0x030D0000
    return PyDict_SetDefaultRef(dict, key, default_value, result);
#else
    // One PyDict_SetDefault, not a lookup then PyDict_SetItem: between those two calls a key's
    // Python __hash__/__eq__ can let another thread insert, and the later insertion would
    // overwrite the value the earlier caller was told had won.
    if (!PyDict_Check(dict)) {
        if (result) *result = nullptr;
        PyErr_BadInternalCall();  // SystemError, as PyDict_SetDefaultRef raises
        return -1;
    }
    // PyDict_SetDefault does not say whether it inserted; the size does (only a key whose own
    // Python code let another thread change the dict can blur 1 and 0, never the value).
    const Py_ssize_t size_before = PyDict_GET_SIZE(dict);
    PyObject *value = PyDict_SetDefault(dict, key, default_value);  // borrowed
    if (value == nullptr) {
        if (result) *result = nullptr;
        return -1;
    }
    const bool inserted = value == default_value && PyDict_GET_SIZE(dict) > size_before;
    if (result) {
        Py_INCREF(value);  // no Python code ran since the call: still alive
        *result = value;
    }
    return inserted ? 0 : 1;
#endif
}

// Removes `key` from `dict`: returns 1 (removed; its value in *result if result is not NULL),
// 0 (absent, no exception), -1 with an exception set. Never raises KeyError.
inline int dict_pop(PyObject *dict, PyObject *key, PyObject **result) noexcept
{
#if PY_VERSION_HEX >= 0x030D0000
    return PyDict_Pop(dict, key, result);
#else
    PyObject *present = nullptr;
    const int found = dict_get_item_ref(dict, key, &present);
    if (found <= 0) {
        if (result) *result = nullptr;
        return found;
    }
    if (PyDict_DelItem(dict, key) < 0) {
        Py_DECREF(present);
        if (result) *result = nullptr;
        return -1;
    }
    if (result) *result = present; else Py_DECREF(present);
    return 1;
#endif
}

// A new reference to `value`, as Py_NewRef (3.10+) — kept here so callers need one header.
inline PyObject *new_ref(PyObject *value) noexcept
{
    Py_INCREF(value);
    return value;
}

// The exception currently set on this thread — one normalised instance (a new reference) with its
// traceback attached — and the indicator cleared; NULL when none is set. 3.12's
// PyErr_GetRaisedException, written out for 3.11.
inline PyObject *take_raised_exception() noexcept
{
#if PY_VERSION_HEX >= 0x030C0000
    return PyErr_GetRaisedException();
#else
    PyObject *type = nullptr, *value = nullptr, *traceback = nullptr;
    PyErr_Fetch(&type, &value, &traceback);
    if (type == nullptr) return nullptr;
    PyErr_NormalizeException(&type, &value, &traceback);
    if (traceback != nullptr && value != nullptr) PyException_SetTraceback(value, traceback);
    Py_XDECREF(type);
    Py_XDECREF(traceback);
    return value;
#endif
}

// Sets `value` (stolen; NULL clears) as this thread's exception: PyErr_SetRaisedException.
inline void set_raised_exception(PyObject *value) noexcept
{
#if PY_VERSION_HEX >= 0x030C0000
    PyErr_SetRaisedException(value);
#else
    if (value == nullptr) {
        PyErr_Clear();
        return;
    }
    PyObject *type = reinterpret_cast<PyObject *>(Py_TYPE(value));
    Py_INCREF(type);
    PyErr_Restore(type, value, PyException_GetTraceback(value));
#endif
}

}  // namespace pyo3cpp::compat
