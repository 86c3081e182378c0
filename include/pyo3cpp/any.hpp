// any.hpp — the methods every view has (Python's `object` protocol), mixed into Borrowed<T> and
// Bound<T> through Methods<Self, Tag>. Typed headers (dict.hpp, list.hpp, ...) specialise
// Methods for their tag and inherit these.
//
// Contract: all methods require attachment (they are reached through a view, which implies it).
// Failures throw PyErr carrying the Python exception.
#pragma once

#include "pyo3cpp/fwd.hpp"

namespace pyo3cpp {

template <class Self> struct AnyMethods {
    // Python's `x is None`.
    bool is_none() const noexcept { return ptr() == Py_None; }

    // repr(x) and str(x).
    Bound<PyString> repr() const;
    Bound<PyString> str() const;

    // getattr(x, name); the name is converted on every call: prefer intern<"name">(py).
    Bound<PyAny> getattr(const char *name) const;

protected:
    PyObject *ptr() const noexcept { return static_cast<const Self *>(this)->as_ptr(); }
    Python token() const noexcept { return static_cast<const Self *>(this)->py(); }
};

// Unless a typed header says otherwise, a tag gets the object methods.
template <class Self, class Tag> struct Methods : AnyMethods<Self> {};

}  // namespace pyo3cpp
