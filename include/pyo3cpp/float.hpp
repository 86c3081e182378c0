// float.hpp — PyFloat: typed view of a Python float.
//
//   Bound<PyFloat> x = new_float(py, 2.5);
//   double v = x.value();
//
// Contract: requires attachment. value() reads the double stored in the object (never
// fails: the view guarantees a float). extract<double> (convert.hpp) also accepts int and
// objects with __float__.
// Cost: one field read / one allocation.
#pragma once

#include <Python.h>  // first: its pyconfig.h sets feature macros the C library reads
#include "pyo3cpp/any.hpp"

namespace pyo3cpp {

template <class Self> struct Methods<Self, PyFloat> : AnyMethods<Self> {
    double value() const noexcept { return PyFloat_AS_DOUBLE(this->ptr()); }
};

template <class Dep = void> detail::bound_t<Dep, PyFloat> new_float(Python py, double value)
{
    return detail::bound_t<Dep, PyFloat>::from_owned_ptr(py, PyFloat_FromDouble(value));
}

}  // namespace pyo3cpp

#ifndef PYO3CPP_DECLARING_METHODS
#include "pyo3cpp/borrowed.hpp"
#endif
