// convert.hpp — conversions between Python objects and C++ values, as extensible concepts.
//
//   long n = extract<long>(obj);                 // TypeError / OverflowError as PyErr
//   Bound<PyAny> o = into_py(py, std::string("x"));
//
// Extend for your own type by specialising the two traits:
//     template <> struct pyo3cpp::FromPython<Point> {
//         static Point extract(Borrowed<PyAny> obj);            // throw PyErr on failure
//     };
//     template <> struct pyo3cpp::IntoPython<Point> {
//         static Bound<PyAny> convert(Python py, const Point &p);
//     };
// Contract: both require attachment; failures throw PyErr carrying a Python exception
// (TypeError for the wrong type, OverflowError for out-of-range integers — never truncation,
// UnicodeDecodeError/ValueError for invalid UTF-8).
#pragma once

#include <concepts>
#include <type_traits>

#include "pyo3cpp/borrowed.hpp"

namespace pyo3cpp {

template <class T, class Enable = void> struct FromPython;  // static T extract(Borrowed<PyAny>)
template <class T, class Enable = void> struct IntoPython;  // static Bound<PyAny> convert(Python, const T&)

template <class T>
concept Extractable = requires(Borrowed<PyAny> obj) {
    { FromPython<std::remove_cvref_t<T>>::extract(obj) } -> std::convertible_to<std::remove_cvref_t<T>>;
};

template <class T>
concept IntoPy = requires(Python py, const std::remove_cvref_t<T> &value) {
    { IntoPython<std::remove_cvref_t<T>>::convert(py, value) };
};

template <class T> std::remove_cvref_t<T> extract(Borrowed<PyAny> obj)
{
    return FromPython<std::remove_cvref_t<T>>::extract(obj);
}

template <class T> Bound<PyAny> into_py(Python py, const T &value)
{
    return Bound<PyAny>(IntoPython<std::remove_cvref_t<T>>::convert(py, value));
}

}  // namespace pyo3cpp
