// pyo3cpp.hpp — the whole C++ API. Include this (after nothing, or after <Python.h>).
//
//   Borrowed<T>, Bound<T>, Py<T>   ownership of Python references   (borrowed/bound/py.hpp)
//   Python, attach, detach         attachment to the interpreter    (python.hpp, attach.hpp)
//   PyErr                          Python exceptions as C++ ones     (error.hpp)
#pragma once

#include "pyo3cpp/fwd.hpp"
#include "pyo3cpp/python.hpp"
#include "pyo3cpp/borrowed.hpp"
#include "pyo3cpp/error.hpp"
#include "pyo3cpp/any_impl.hpp"
#include "pyo3cpp/attach.hpp"
#include "pyo3cpp/critical_section.hpp"
#include "pyo3cpp/convert.hpp"
