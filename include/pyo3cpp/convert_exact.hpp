// convert_exact.hpp — which Python values a conversion takes *without converting*: the first pass
// of an overload set (overload.hpp) offers each definition only the arguments it takes as they
// are, so that f(int) and f(float) pick by the value's own type whatever order they were defined
// in.
//
//   detail::takes_as_is<double>(obj)   // true for a float (or a subclass), false for an int
//
// The rules, for the conversions convert.hpp provides:
//   integers (not bool): an int that is not a bool (a bool, a float or an object with __index__
//     needs the second pass);
//   double / float: a float (an int, or anything with __float__, needs the second pass);
//   std::vector<T>: a list or a tuple (any other iterable needs the second pass; the items are
//     not looked at: an item that does not convert refuses the definition when it converts);
//   std::optional<T>: None, or what T takes as is;
//   everything else (bool, str, dict, tuple, Python objects, bound classes): as is, because its
//     conversion accepts nothing else (a wrong type is refused when it converts).
// A user's conversion may say it too: `static bool exact(Borrowed<PyAny>)` in FromPython<T>.
// Thread: any attached thread. Cost: one type check; used only by overload sets, never by a
// name defined once.
#pragma once

#include <Python.h>  // first: its pyconfig.h sets feature macros the C library reads
#include <concepts>
#include <optional>
#include <type_traits>
#include <vector>

#include "pyo3cpp/borrowed.hpp"
#include "pyo3cpp/convert.hpp"

namespace pyo3cpp::detail {

template <class T> struct is_std_vector : std::false_type {};
template <class T, class A> struct is_std_vector<std::vector<T, A>> : std::true_type {};

template <class P> bool takes_as_is(PyObject *object) noexcept
{
    using T = std::remove_cvref_t<P>;
    if constexpr (requires { typename T::value_type; requires std::is_same_v<T, std::optional<typename T::value_type>>; }) {
        return object == Py_None || takes_as_is<typename T::value_type>(object);
    } else if constexpr (requires(Borrowed<PyAny> obj) {
                             { FromPython<T>::exact(obj) } -> std::convertible_to<bool>;
                         }) {
        return FromPython<T>::exact(Borrowed<PyAny>::from_ptr(Python::assume_attached(), object));
    } else if constexpr (std::is_same_v<T, bool>) {
        return true;
    } else if constexpr (std::is_integral_v<T>) {
        return PyLong_Check(object) && !PyBool_Check(object);
    } else if constexpr (std::is_floating_point_v<T>) {
        return PyFloat_Check(object);
    } else if constexpr (is_std_vector<T>::value) {
        return PyList_Check(object) || PyTuple_Check(object);
    } else {
        return true;
    }
}

}  // namespace pyo3cpp::detail
