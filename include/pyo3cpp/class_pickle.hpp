// class_pickle.hpp — how def_pickle's instances travel through pickle, copy and deepcopy
// whatever their state: a __reduce_ex__ that names a restoring classmethod and its arguments,
// so the state is handed to __setstate__ even when it is None (which pickle and
// object.__reduce_ex__ would otherwise take as "no state" and skip: an empty instance).
//
//   x.__reduce_ex__(protocol) -> (type(x)._pyo3cpp_unpickle, (x.__getstate__(), extra))
//   Class._pyo3cpp_unpickle(state, extra) -> new = Class.__new__(Class);
//                                               new.__setstate__(state); extra restored
//
// `extra` is object.__getstate__(x): what a Python subclass keeps outside the C++ state, its
// __dict__ and __slots__ values (None, a dict, or (dict, slots)), restored as CPython's own
// reconstruction does (the dict updated, the slots set by setattr). The classmethod pickles by
// reference (getattr(Class, name)), so every protocol, 0 to 5, works; a Python subclass's
// overrides of __getstate__/__setstate__ are the ones called.
// Thread: any attached thread. Cost: a pickle's, not on any call path.
#pragma once

#include <Python.h>

#include "pyo3cpp/bound.hpp"
#include "pyo3cpp/error.hpp"

namespace pyo3cpp::detail {

[[gnu::noinline]] inline Bound<PyAny> pickle_reduce(Python py, PyObject *self)
{
    PyObject *cls = reinterpret_cast<PyObject *>(Py_TYPE(self));
    auto restore = Bound<PyAny>::from_owned_ptr(py, PyObject_GetAttrString(cls, "_pyo3cpp_unpickle"));
    auto state = Bound<PyAny>::from_owned_ptr(py, PyObject_CallMethod(self, "__getstate__", nullptr));
    auto extra = Bound<PyAny>::from_owned_ptr(
        py, PyObject_CallMethod(reinterpret_cast<PyObject *>(&PyBaseObject_Type), "__getstate__", "O", self));
    return Bound<PyAny>::from_owned_ptr(
        py, Py_BuildValue("O(OO)", restore.as_ptr(), state.as_ptr(), extra.as_ptr()));
}

[[gnu::noinline]] inline Bound<PyAny> pickle_restore(Python py, PyObject *cls, PyObject *state, PyObject *extra)
{
    auto made = Bound<PyAny>::from_owned_ptr(py, PyObject_CallMethod(cls, "__new__", "O", cls));
    PyObject *obj = made.as_ptr();
    auto setstate = Bound<PyAny>::from_owned_ptr(py, PyObject_GetAttrString(obj, "__setstate__"));
    Bound<PyAny>::from_owned_ptr(py, PyObject_CallOneArg(setstate.as_ptr(), state));  // a tuple state too
    if (extra == Py_None) return made;
    PyObject *dict = extra, *slots = nullptr;
    if (PyTuple_Check(extra) && PyTuple_GET_SIZE(extra) == 2) {
        dict = PyTuple_GET_ITEM(extra, 0);
        slots = PyTuple_GET_ITEM(extra, 1);
    }
    if (dict != Py_None && PyObject_IsTrue(dict) != 0) {
        auto own = Bound<PyAny>::from_owned_ptr(py, PyObject_GetAttrString(obj, "__dict__"));
        check_status(py, PyDict_Update(own.as_ptr(), dict));
    }
    if (slots != nullptr && slots != Py_None) {
        if (!PyDict_Check(slots)) throw PyErr::new_err(py, PyExc_TypeError, "slot state is not a dictionary");
        Py_ssize_t pos = 0;
        PyObject *key, *value;
        while (PyDict_Next(slots, &pos, &key, &value)) check_status(py, PyObject_SetAttr(obj, key, value));
    }
    return made;
}

}  // namespace pyo3cpp::detail
