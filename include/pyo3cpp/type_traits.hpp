// type_traits.hpp — what each type tag means: how `cast<T>()` checks an object and what to call
// the type in a TypeError. Specialise pyo3cpp::type_traits<YourTag> to add your own tags.
#pragma once

#include <Python.h>  // first: its pyconfig.h sets feature macros the C library reads
#include "pyo3cpp/fwd.hpp"

namespace pyo3cpp {

template <class T> struct type_traits;

#define PYO3CPP_DEFINE_TAG(TAG, NAME, CHECK)                                    \
    template <> struct type_traits<TAG> {                                      \
        static constexpr const char *name = NAME;                             \
        static bool check(PyObject *o) noexcept { return CHECK; }             \
    }

PYO3CPP_DEFINE_TAG(PyAny, "object", (static_cast<void>(o), true));
PYO3CPP_DEFINE_TAG(PyDict, "dict", PyDict_Check(o));
PYO3CPP_DEFINE_TAG(PyList, "list", PyList_Check(o));
PYO3CPP_DEFINE_TAG(PyTuple, "tuple", PyTuple_Check(o));
PYO3CPP_DEFINE_TAG(PyString, "str", PyUnicode_Check(o));
PYO3CPP_DEFINE_TAG(PyBytes, "bytes", PyBytes_Check(o));
PYO3CPP_DEFINE_TAG(PyInt, "int", PyLong_Check(o));
PYO3CPP_DEFINE_TAG(PyFloat, "float", PyFloat_Check(o));
PYO3CPP_DEFINE_TAG(PyBool, "bool", PyBool_Check(o));
PYO3CPP_DEFINE_TAG(PyNone, "None", o == Py_None);
PYO3CPP_DEFINE_TAG(PyType, "type", PyType_Check(o));
PYO3CPP_DEFINE_TAG(PyModule, "module", PyModule_Check(o));
PYO3CPP_DEFINE_TAG(PyIterator, "iterator", PyIter_Check(o));
PYO3CPP_DEFINE_TAG(PySequence, "sequence", PySequence_Check(o));
PYO3CPP_DEFINE_TAG(PyMapping, "mapping", PyMapping_Check(o));

#undef PYO3CPP_DEFINE_TAG

// A tag U is viewable as T without a check when T is PyAny or the same tag.
template <class From, class To>
inline constexpr bool is_upcast_v = std::is_same_v<To, PyAny> || std::is_same_v<From, To>;

}  // namespace pyo3cpp
