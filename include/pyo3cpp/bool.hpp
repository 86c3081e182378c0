// bool.hpp — PyBool: typed view of True/False.
//
//   Bound<PyBool> t = new_bool(py, true);
//   bool v = t.value();
//
// Contract: requires attachment; never fails. extract<bool> (convert.hpp) accepts only bool,
// as PyO3 does: use obj.is_truthy() for Python's bool(x).
// Cost: a pointer compare / an incref of the True or False singleton.
#pragma once

#include <Python.h>  // first: its pyconfig.h sets feature macros the C library reads
#include "pyo3cpp/any.hpp"

namespace pyo3cpp {

template <class Self> struct Methods<Self, PyBool> : AnyMethods<Self> {
    bool value() const noexcept { return this->ptr() == Py_True; }
};

template <class Dep = void> detail::bound_t<Dep, PyBool> new_bool(Python py, bool value) noexcept
{
    PyObject *result = value ? Py_True : Py_False;
    Py_INCREF(result);
    return detail::bound_t<Dep, PyBool>::from_owned_ptr_unchecked(py, result);
}

}  // namespace pyo3cpp

#ifndef PYO3CPP_DECLARING_METHODS
#include "pyo3cpp/borrowed.hpp"
#endif
