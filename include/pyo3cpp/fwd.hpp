// fwd.hpp — forward declarations of the ownership types and the type tags, so headers can name
// each other without include cycles. Include <pyo3cpp/pyo3cpp.hpp> in user code instead.
#pragma once

#include <Python.h>

#include "pyo3cpp.h"
#include "pyo3cpp/config.hpp"

namespace pyo3cpp {

class Python;
template <class T> class Borrowed;
template <class T> class Bound;
template <class T> class Py;
class PyErr;

// Conversion traits (convert.hpp defines them; declared here with their defaults so typed
// headers can name them before convert.hpp is read).
template <class T, class Enable = void> struct FromPython;  // static T extract(Borrowed<PyAny>)
template <class T, class Enable = void> struct IntoPython;  // static Bound<PyAny> convert(Python, const T&)

// Type tags: `T` in Borrowed<T>, Bound<T>, Py<T>. They carry no data; type_traits.hpp says how
// each is checked.
struct PyAny {};
struct PyDict {};
struct PyList {};
struct PyTuple {};
struct PyString {};
struct PyBytes {};
struct PyInt {};
struct PyFloat {};
struct PyBool {};
struct PyNone {};
struct PyType {};
struct PyModule {};
struct PyIterator {};
struct PySequence {};
struct PyMapping {};

// Throws PyErr::fetch(py) (defined in error.hpp; declared here so the ownership types can
// report failures without an include cycle).
[[noreturn]] void throw_fetched(Python py);
// Throws PyErr(TypeError: "expected <expected>, got <type of got>").
[[noreturn]] void raise_type_error(const char *expected, PyObject *got);

// Where the typed methods of Borrowed<T> and Bound<T> come from: each typed header specialises
// Methods<Self, Tag> (dict.hpp for PyDict, ...). `Self` is the Borrowed/Bound class itself
// (CRTP), which exposes ptr(). The primary template gives the PyAny methods (any.hpp).
template <class Self, class Tag> struct Methods;

}  // namespace pyo3cpp
