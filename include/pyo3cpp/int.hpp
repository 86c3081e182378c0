// int.hpp — PyInt: typed view of a Python int.
//
//   Bound<PyInt> n = new_int(py, std::int64_t{1} << 40);
//   auto v = n.value<std::int32_t>();            // OverflowError: never truncates
//
// Contract: requires attachment; failures throw PyErr. Conversions to C++ integers of every
// width are in convert.hpp (FromPython<integral>); value<T>() is a shorthand for them.
// Cost: one C API call.
#pragma once

#include <Python.h>  // first: its pyconfig.h sets feature macros the C library reads
#include <concepts>

#include "pyo3cpp/any.hpp"

namespace pyo3cpp {

template <class Self> struct Methods<Self, PyInt> : AnyMethods<Self> {
    // The value as integer type T; OverflowError when it does not fit.
    template <std::integral T> T value() const { return FromPython<T>::extract(this->ptr_any()); }

private:
    detail::borrowed_t<Self, PyAny> ptr_any() const
    {
        return detail::borrowed_t<Self, PyAny>::from_ptr(this->token(), this->ptr());
    }
};

// A new int with `value` (any integer type, any width).
template <std::integral T> detail::bound_t<detail::pack<T>, PyInt> new_int(Python py, T value)
{
    PyObject *result;
    if constexpr (std::is_same_v<T, bool>)
        result = PyLong_FromLong(value ? 1 : 0);
    else if constexpr (std::is_signed_v<T>)
        result = PyLong_FromLongLong(static_cast<long long>(value));
    else
        result = PyLong_FromUnsignedLongLong(static_cast<unsigned long long>(value));
    return detail::bound_t<detail::pack<T>, PyInt>::from_owned_ptr(py, result);
}

}  // namespace pyo3cpp

#ifndef PYO3CPP_DECLARING_METHODS
#include "pyo3cpp/borrowed.hpp"
#endif
