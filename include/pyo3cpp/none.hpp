// none.hpp — PyNone: typed view of None. `py.none()` (python.hpp) gives an owned one.
//
//   Bound<PyNone> n = py.none();
//   if (obj.is_none()) ...
//
// Contract: None has only the object methods; this header exists so that Bound<PyNone> has
// its method set declared before anything uses it. Cost: nothing.
#pragma once

#include <Python.h>  // first: its pyconfig.h sets feature macros the C library reads
#include "pyo3cpp/any.hpp"

namespace pyo3cpp {

template <class Self> struct Methods<Self, PyNone> : AnyMethods<Self> {};

}  // namespace pyo3cpp

#ifndef PYO3CPP_DECLARING_METHODS
#include "pyo3cpp/borrowed.hpp"
#endif
