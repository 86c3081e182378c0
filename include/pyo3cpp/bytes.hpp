// bytes.hpp — PyBytes: typed view of a Python bytes object.
//
//   Bound<PyBytes> b = new_bytes(py, std::string_view("\x00\x01", 2));
//   std::string_view raw = b.as_bytes();          // valid while `b` lives
//
// Contract: requires attachment; failures throw PyErr. bytes objects are immutable, so the
// view needs no lock on any build; it is valid as long as the object is alive.
// Cost: as_bytes is two field reads; new_bytes allocates and copies once.
#pragma once

#include <Python.h>  // first: its pyconfig.h sets feature macros the C library reads
#include <string>
#include <string_view>

#include "pyo3cpp/any.hpp"

namespace pyo3cpp {

template <class Self> struct Methods<Self, PyBytes> : AnyMethods<Self> {
    // The contents, borrowed from the object (embedded NULs included).
    std::string_view as_bytes() const noexcept
    {
        return std::string_view(PyBytes_AS_STRING(this->ptr()),
                                static_cast<std::size_t>(PyBytes_GET_SIZE(this->ptr())));
    }
    std::string to_string() const { return std::string(as_bytes()); }
    std::size_t len() const noexcept { return static_cast<std::size_t>(PyBytes_GET_SIZE(this->ptr())); }
};

// A new bytes object holding a copy of `data`.
template <class Dep = void> detail::bound_t<Dep, PyBytes> new_bytes(Python py, std::string_view data)
{
    return detail::bound_t<Dep, PyBytes>::from_owned_ptr(
        py, PyBytes_FromStringAndSize(data.data(), static_cast<Py_ssize_t>(data.size())));
}

}  // namespace pyo3cpp

#ifndef PYO3CPP_DECLARING_METHODS
#include "pyo3cpp/borrowed.hpp"
#endif
