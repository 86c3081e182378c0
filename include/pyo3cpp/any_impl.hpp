// any_impl.hpp — the out-of-line bodies of AnyMethods (any.hpp) that need the complete
// ownership types and conversions: extract<T>() lives in convert.hpp, call/call_method in
// call.hpp. borrowed.hpp includes this once Borrowed, Bound, Py and PyErr are complete, so
// every view has its whole method set wherever Borrowed is visible.
#pragma once

#include <Python.h>  // first: its pyconfig.h sets feature macros the C library reads
#include "pyo3cpp/error.hpp"
#include "pyo3cpp/convert.hpp"
#include "pyo3cpp/call.hpp"
