// override.cpp — the compiled half of Python overrides of C++ virtual methods
// (include/pyo3cpp/trampoline.hpp): finding a Python subclass's method.
//
// The lookup is the slow path: trampoline.hpp caches its answer per Python type, keyed on the
// type's version tag, and comes here on a miss. It walks the MRO as Python's class attribute
// lookup does, but stops at the bound class: the method found there is the C++ one, and
// calling it would dispatch straight back to the trampoline.
#include <Python.h>  // first, as CPython requires: its pyconfig.h sets feature macros

#include "runtime_state.h"

using namespace pyo3cpp::detail;

namespace {

unsigned int version_tag(PyTypeObject *type) noexcept
{
    // CPython writes it with relaxed atomics on free-threaded builds; 0 means "none".
    return __atomic_load_n(&type->tp_version_tag, __ATOMIC_RELAXED);
}

// Gives `type` a version tag if it can have one (CPython hands them out lazily, on lookups).
unsigned int assign_version_tag(PyTypeObject *type, PyObject *name) noexcept
{
#if PY_VERSION_HEX >= 0x030C0000
    (void)name;
    (void)PyUnstable_Type_AssignVersionTag(type);
#else
    (void)_PyType_Lookup(type, name);  // assigns one on the way (3.11 has no other entry)
    if (!PyType_HasFeature(type, Py_TPFLAGS_VALID_VERSION_TAG)) return 0;
#endif
    return version_tag(type);
}

// A new reference to the class's own namespace.
PyObject *class_dict(PyTypeObject *cls) noexcept
{
#if PY_VERSION_HEX >= 0x030C0000
    return PyType_GetDict(cls);
#else
    Py_XINCREF(cls->tp_dict);
    return cls->tp_dict;
#endif
}

}  // namespace

extern "C" {

PYO3CPP_API int pyo3cpp_override_lookup(PyObject *self, PyObject *bound, PyObject *name, PyObject **function,
                                        PyObject **owner, unsigned int *version)
{
    if (function != nullptr) *function = nullptr;
    if (owner != nullptr) *owner = nullptr;
    if (version != nullptr) *version = 0;
    if (!thread_is_attached()) return -1;
    if (self == nullptr || bound == nullptr || name == nullptr || function == nullptr || owner == nullptr ||
        version == nullptr) {
        PyErr_SetString(PyExc_ValueError, "pyo3cpp_override_lookup: an argument is NULL");
        return -1;
    }
    if (!PyType_Check(bound) || !PyUnicode_Check(name)) {
        PyErr_SetString(PyExc_TypeError, "pyo3cpp_override_lookup: bound must be a type and name a str");
        return -1;
    }
    PyTypeObject *type = Py_TYPE(self);
    const unsigned int before = assign_version_tag(type, name);
    // A new reference: another thread may assign __bases__ meanwhile (free-threaded builds).
    PyObject *mro = PyObject_GetAttrString(reinterpret_cast<PyObject *>(type), "__mro__");
    if (mro == nullptr) return -1;
    if (!PyTuple_Check(mro)) {
        Py_DECREF(mro);
        PyErr_SetString(PyExc_TypeError, "pyo3cpp_override_lookup: the type's __mro__ is not a tuple");
        return -1;
    }
    int found = 0;
    PyObject *holder = nullptr;
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(mro); ++i) {
        PyObject *cls = PyTuple_GET_ITEM(mro, i);
        if (cls == bound) break;  // the C++ method: no override
        if (!PyType_Check(cls)) continue;
        PyObject *dict = class_dict(reinterpret_cast<PyTypeObject *>(cls));
        if (dict == nullptr) continue;
        found = pyo3cpp_dict_get_item_ref(dict, name, function);  // container_refs.cpp
        Py_DECREF(dict);
        if (found != 0) {
            holder = cls;
            break;
        }
    }
    if (found < 0) {
        Py_DECREF(mro);
        return -1;
    }
    // The fast path reads the holder's tp_dict itself: cache only heap types' answers. The MRO
    // keeps the holder alive as long as the type keeps its MRO (the version tag says so).
    const bool cacheable = holder == nullptr || PyType_HasFeature(reinterpret_cast<PyTypeObject *>(holder),
                                                                  Py_TPFLAGS_HEAPTYPE);
    if (cacheable && before != 0 && version_tag(type) == before) *version = before;
    *owner = holder;
    Py_DECREF(mro);
    return found;
}

}  // extern "C"
