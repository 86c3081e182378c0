// any_impl.hpp — bodies of AnyMethods (any.hpp) that need the complete ownership types.
#pragma once

#include "pyo3cpp/error.hpp"

namespace pyo3cpp {

template <class Self> Bound<PyString> AnyMethods<Self>::repr() const
{
    return Bound<PyString>::from_owned_ptr(token(), PyObject_Repr(ptr()));
}
template <class Self> Bound<PyString> AnyMethods<Self>::str() const
{
    return Bound<PyString>::from_owned_ptr(token(), PyObject_Str(ptr()));
}
template <class Self> Bound<PyAny> AnyMethods<Self>::getattr(const char *name) const
{
    return Bound<PyAny>::from_owned_ptr(token(), PyObject_GetAttrString(ptr(), name));
}

}  // namespace pyo3cpp
