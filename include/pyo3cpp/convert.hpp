// convert.hpp — conversions between Python objects and C++ values, as extensible concepts.
//
//   long n = extract<long>(obj);                 // TypeError / OverflowError as PyErr
//   auto v = obj.extract<std::vector<int>>();    // the same, as a method of any view
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
//
// What is provided, following PyO3's rules:
//   integers of every width, signed and unsigned: from int or any object with __index__
//     (bool counts: it is an int); float is a TypeError; out of range is OverflowError.
//   double / float: from float, int, or anything with __float__ (float: rounded like a cast).
//   bool: only from bool (TypeError otherwise; use is_truthy() for bool(x)).
//   std::string, std::string_view: from str only, as UTF-8 (UnicodeEncodeError for lone
//     surrogates). A string_view points into the str object: valid only while it lives.
//     Into Python, std::string/string_view/const char*/literals decode strictly as UTF-8.
//   std::optional<T>: None <-> empty.
//   std::vector<T>: from any iterable except str; into a list.
//   std::pair, std::tuple: from a tuple of exactly that length (TypeError / ValueError); into a
//     tuple.
//   std::map, std::unordered_map: from a dict; into a dict.
//   Borrowed<T>, Bound<T>, Py<T>: passed through (checked cast to T: TypeError).
// Thread: any attached thread. Containers are read through the free-threading-safe paths of
// dict.hpp/list.hpp, so a container mutated concurrently never crashes a conversion; a list
// into a std::vector is read under one critical section for the whole loop.
// Cost: scalars are one C API call; containers one conversion per element.
#pragma once

#include <concepts>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

#include "pyo3cpp/borrowed.hpp"
#include "pyo3cpp/critical_section.hpp"

namespace pyo3cpp {

template <class T>
concept Extractable = requires(Borrowed<PyAny> obj) {
    { FromPython<std::remove_cvref_t<T>>::extract(obj) } -> std::convertible_to<std::remove_cvref_t<T>>;
};

template <class T>
concept IntoPy = requires(Python py, const std::remove_cvref_t<T> &value) {
    { IntoPython<std::remove_cvref_t<T>>::convert(py, value) };
};

// `obj` is any view or owner (Borrowed, Bound, Py) of any tag.
template <class T, PythonObject Object> std::remove_cvref_t<T> extract(const Object &obj)
{
    return FromPython<std::remove_cvref_t<T>>::extract(
        Borrowed<PyAny>::from_ptr(Python::assume_attached(), obj.as_ptr()));
}

template <class T> Bound<PyAny> into_py(Python py, const T &value)
{
    return Bound<PyAny>(IntoPython<std::remove_cvref_t<T>>::convert(py, value));
}

template <class Self> template <class T> std::remove_cvref_t<T> AnyMethods<Self>::extract() const
{
    return FromPython<std::remove_cvref_t<T>>::extract(Borrowed<PyAny>::from_ptr(token(), ptr()));
}

namespace detail {

[[noreturn]] inline void raise_null_argument(Python py)
{
    PyErr_SetString(PyExc_TypeError,
                    "a null reference (moved-from Bound or empty Py) was passed as an argument");
    throw_fetched(py);
}

// Python objects: borrowed as they are.
template <class T>
    requires is_python_object<T>::value
struct ObjectArg<T> {
    ObjectArg(Python py, const T &value) : ptr(value.as_ptr())
    {
        if constexpr (!std::is_same_v<T, Borrowed<typename T::tag>>)
            if (ptr == nullptr) raise_null_argument(py);
    }
    PyObject *get() const noexcept { return ptr; }
    PyObject *new_reference() const noexcept
    {
        Py_INCREF(ptr);
        return ptr;
    }
    PyObject *ptr;
};

// Everything else: converted once, owned by the holder.
template <class T> struct ObjectArg {
    static_assert(IntoPy<T>, "no pyo3cpp::IntoPython<T> conversion for this argument type");
    ObjectArg(Python py, const T &value) : owned(into_py(py, value)) {}
    PyObject *get() const noexcept { return owned.as_ptr(); }
    PyObject *new_reference() noexcept { return std::move(owned).into_ptr(); }
    Bound<PyAny> owned;
};

template <class T> constexpr const char *integer_name()
{
    if constexpr (std::is_signed_v<T>) {
        switch (sizeof(T)) {
            case 1: return "8-bit signed integer";
            case 2: return "16-bit signed integer";
            case 4: return "32-bit signed integer";
            default: return "64-bit signed integer";
        }
    } else {
        switch (sizeof(T)) {
            case 1: return "8-bit unsigned integer";
            case 2: return "16-bit unsigned integer";
            case 4: return "32-bit unsigned integer";
            default: return "64-bit unsigned integer";
        }
    }
}

template <class T> [[noreturn]] void raise_integer_overflow(Python py, bool negative)
{
    PyErr_Format(PyExc_OverflowError, "Python int too %s to convert to a C++ %s",
                 negative ? "small" : "large", integer_name<T>());
    throw_fetched(py);
}

// An exact int small enough to live in one machine word inside the object ("compact": one
// 30-bit digit on 3.11, CPython's own notion from 3.12): its value without a call. The common
// case of every integer conversion; everything else takes CPython's general path.
inline bool compact_int_value(PyObject *object, long long &value) noexcept
{
    if (!PyLong_CheckExact(object)) return false;
#if PY_VERSION_HEX >= 0x030D0000
    const PyLongObject *number = reinterpret_cast<PyLongObject *>(object);
    if (!PyUnstable_Long_IsCompact(number)) return false;
    value = static_cast<long long>(PyUnstable_Long_CompactValue(number));
    return true;
#elif PY_VERSION_HEX >= 0x030C0000
    const PyLongObject *number = reinterpret_cast<PyLongObject *>(object);
    if (!_PyLong_IsCompact(number)) return false;
    value = static_cast<long long>(_PyLong_CompactValue(number));
    return true;
#else
    const Py_ssize_t size = Py_SIZE(object);
    if (size < -1 || size > 1) return false;
    value = static_cast<long long>(size) *
            static_cast<long long>(reinterpret_cast<PyLongObject *>(object)->ob_digit[0]);
    return true;
#endif
}

template <class T> constexpr bool fits_in(long long value) noexcept
{
    if constexpr (std::is_signed_v<T>)
        return value >= static_cast<long long>(std::numeric_limits<T>::min()) &&
               value <= static_cast<long long>(std::numeric_limits<T>::max());
    else
        return value >= 0 &&
               static_cast<unsigned long long>(value) <= std::numeric_limits<T>::max();
}

}  // namespace detail

// ---------------------------------------------------------------- integers

template <std::integral T>
    requires(!std::is_same_v<T, bool>)
struct FromPython<T> {
    static T extract(Borrowed<PyAny> obj)
    {
        const Python py = obj.py();
        if (long long small = 0; detail::compact_int_value(obj.as_ptr(), small)) [[likely]] {
            if (detail::fits_in<T>(small)) return static_cast<T>(small);
            detail::raise_integer_overflow<T>(py, small < 0);
        }
        if constexpr (std::is_signed_v<T>) {
            int overflow = 0;
            // Accepts int and objects with __index__; TypeError for anything else.
            const long long value = PyLong_AsLongLongAndOverflow(obj.as_ptr(), &overflow);
            if (overflow != 0) detail::raise_integer_overflow<T>(py, overflow < 0);
            if (value == -1 && PyErr_Occurred()) throw_fetched(py);
            if (value < static_cast<long long>(std::numeric_limits<T>::min()))
                detail::raise_integer_overflow<T>(py, true);
            if (value > static_cast<long long>(std::numeric_limits<T>::max()))
                detail::raise_integer_overflow<T>(py, false);
            return static_cast<T>(value);
        } else {
            // PyLong_AsUnsignedLongLong takes only int: apply __index__ ourselves.
            PyObject *number = obj.as_ptr();
            std::optional<Bound<PyAny>> index_result;
            if (!PyLong_Check(number)) {
                index_result.emplace(Bound<PyAny>::from_owned_ptr(py, PyNumber_Index(number)));
                number = index_result->as_ptr();
            }
            const unsigned long long value = PyLong_AsUnsignedLongLong(number);
            if (value == static_cast<unsigned long long>(-1) && PyErr_Occurred()) {
                if (!PyErr_ExceptionMatches(PyExc_OverflowError)) throw_fetched(py);
                // Slow path only: say which side it overflowed on.
                PyErr_Clear();
                PyObject *zero = PyLong_FromLong(0);
                const int negative = zero ? PyObject_RichCompareBool(number, zero, Py_LT) : -1;
                Py_XDECREF(zero);
                if (negative < 0) throw_fetched(py);
                detail::raise_integer_overflow<T>(py, negative == 1);
            }
            if (value > static_cast<unsigned long long>(std::numeric_limits<T>::max()))
                detail::raise_integer_overflow<T>(py, false);
            return static_cast<T>(value);
        }
    }
};

template <std::integral T>
    requires(!std::is_same_v<T, bool>)
struct IntoPython<T> {
    static Bound<PyAny> convert(Python py, T value)
    {
        if constexpr (std::is_signed_v<T>)
            return Bound<PyAny>::from_owned_ptr(py, PyLong_FromLongLong(value));
        else
            return Bound<PyAny>::from_owned_ptr(py, PyLong_FromUnsignedLongLong(value));
    }
};

// ---------------------------------------------------------------- floats, bool

template <std::floating_point T> struct FromPython<T> {
    static T extract(Borrowed<PyAny> obj)
    {
        const double value = PyFloat_AsDouble(obj.as_ptr());
        if (value == -1.0 && PyErr_Occurred()) throw_fetched(obj.py());
        return static_cast<T>(value);
    }
};
template <std::floating_point T> struct IntoPython<T> {
    static Bound<PyAny> convert(Python py, T value)
    {
        return Bound<PyAny>::from_owned_ptr(py, PyFloat_FromDouble(static_cast<double>(value)));
    }
};

template <> struct FromPython<bool> {
    static bool extract(Borrowed<PyAny> obj)
    {
        if (obj.as_ptr() == Py_True) return true;
        if (obj.as_ptr() == Py_False) return false;
        raise_type_error("bool", obj.as_ptr());
    }
};
template <> struct IntoPython<bool> {
    static Bound<PyAny> convert(Python py, bool value) noexcept
    {
        PyObject *result = value ? Py_True : Py_False;
        Py_INCREF(result);
        return Bound<PyAny>::from_owned_ptr_unchecked(py, result);
    }
};

// ---------------------------------------------------------------- text

template <> struct FromPython<std::string_view> {
    // Points into the str object's cached UTF-8: valid while that object lives.
    static std::string_view extract(Borrowed<PyAny> obj)
    {
        if (!PyUnicode_Check(obj.as_ptr())) raise_type_error("str", obj.as_ptr());
        return obj.cast_unchecked<PyString>().to_string_view();
    }
};
template <> struct FromPython<std::string> {
    static std::string extract(Borrowed<PyAny> obj)
    {
        return std::string(FromPython<std::string_view>::extract(obj));
    }
};
template <> struct IntoPython<std::string_view> {
    static Bound<PyAny> convert(Python py, std::string_view utf8) { return new_string(py, utf8); }
};
template <> struct IntoPython<std::string> {
    static Bound<PyAny> convert(Python py, const std::string &utf8) { return new_string(py, utf8); }
};
template <> struct IntoPython<const char *> {
    static Bound<PyAny> convert(Python py, const char *utf8)
    {
        if (utf8 == nullptr) {
            PyErr_SetString(PyExc_ValueError, "a NULL C string cannot be converted to str");
            throw_fetched(py);
        }
        return new_string(py, utf8);
    }
};
template <> struct IntoPython<char *> : IntoPython<const char *> {};
// String literals: the array's length bounds the text (up to the first NUL).
template <std::size_t N> struct IntoPython<char[N]> {
    static Bound<PyAny> convert(Python py, const char (&utf8)[N])
    {
        return new_string(py, std::string_view(utf8, std::char_traits<char>::length(utf8)));
    }
};

// ---------------------------------------------------------------- optional

template <class T> struct FromPython<std::optional<T>> {
    static std::optional<T> extract(Borrowed<PyAny> obj)
    {
        if (obj.as_ptr() == Py_None) return std::nullopt;
        return FromPython<T>::extract(obj);
    }
};
template <class T> struct IntoPython<std::optional<T>> {
    static Bound<PyAny> convert(Python py, const std::optional<T> &value)
    {
        if (!value) return py.none();
        return into_py(py, *value);
    }
};
template <> struct IntoPython<std::nullopt_t> {
    static Bound<PyAny> convert(Python py, std::nullopt_t) noexcept { return py.none(); }
};

// ---------------------------------------------------------------- sequences

template <class T, class Allocator> struct FromPython<std::vector<T, Allocator>> {
    static std::vector<T, Allocator> extract(Borrowed<PyAny> obj)
    {
        // As in PyO3: a str is iterable, but turning it into a vector is almost always a bug.
        if (PyUnicode_Check(obj.as_ptr())) {
            PyErr_SetString(PyExc_TypeError, "cannot extract a str into a std::vector");
            throw_fetched(obj.py());
        }
        std::vector<T, Allocator> result;
        if (PyList_Check(obj.as_ptr())) {
            PyObject *list = obj.as_ptr();
            const Python py = obj.py();
            // Free-threaded builds: one critical section on the list for the whole loop (a
            // consistent snapshot, unless an item's conversion runs code that detaches, which
            // suspends the section as usual; it is held again whenever this loop reads).
            CriticalSection section(py, obj);
            result.reserve(static_cast<std::size_t>(PyList_GET_SIZE(list)));
            // The size is read again each step: a conversion may run code that shrinks the list.
            // Each item is held strongly while it converts, since that code may also drop it.
            for (Py_ssize_t i = 0; i < PyList_GET_SIZE(list); ++i) {
                struct Held {
                    PyObject *item;
                    ~Held() { Py_DECREF(item); }
                } held{compat::new_ref(PyList_GET_ITEM(list, i))};
                result.push_back(FromPython<T>::extract(Borrowed<PyAny>::from_ptr(py, held.item)));
            }
            return result;
        }
        const Py_ssize_t hint = PyObject_LengthHint(obj.as_ptr(), 0);
        if (hint < 0) throw_fetched(obj.py());
        result.reserve(static_cast<std::size_t>(hint));
        for (const Bound<PyAny> &item : obj.iter()) result.push_back(FromPython<T>::extract(item.as_borrowed()));
        return result;
    }
};
template <class T, class Allocator> struct IntoPython<std::vector<T, Allocator>> {
    static Bound<PyAny> convert(Python py, const std::vector<T, Allocator> &values)
    {
        PyObject *list = PyList_New(static_cast<Py_ssize_t>(values.size()));
        auto owned = Bound<PyAny>::from_owned_ptr(py, list);
        Py_ssize_t index = 0;
        for (const auto &value : values)
            PyList_SET_ITEM(list, index++, into_py(py, value).into_ptr());
        return owned;
    }
};

namespace detail {
inline Borrowed<PyTuple> expect_tuple(Borrowed<PyAny> obj, std::size_t length)
{
    auto tuple = obj.cast<PyTuple>();
    const Py_ssize_t size = PyTuple_GET_SIZE(obj.as_ptr());
    if (size != static_cast<Py_ssize_t>(length)) {
        PyErr_Format(PyExc_ValueError, "expected a tuple of length %zu, got length %zd", length, size);
        throw_fetched(obj.py());
    }
    return tuple;
}
}  // namespace detail

template <class... Ts> struct FromPython<std::tuple<Ts...>> {
    static std::tuple<Ts...> extract(Borrowed<PyAny> obj)
    {
        const auto tuple = detail::expect_tuple(obj, sizeof...(Ts));
        return [&]<std::size_t... I>(std::index_sequence<I...>) {
            // Braced initialisation evaluates the elements in order.
            return std::tuple<Ts...>{FromPython<Ts>::extract(tuple.get_borrowed_item(I))...};
        }(std::index_sequence_for<Ts...>());
    }
};
template <class... Ts> struct IntoPython<std::tuple<Ts...>> {
    static Bound<PyAny> convert(Python py, const std::tuple<Ts...> &values)
    {
        return std::apply([&](const auto &...items) { return Bound<PyAny>(make_tuple(py, items...)); },
                          values);
    }
};
template <class A, class B> struct FromPython<std::pair<A, B>> {
    static std::pair<A, B> extract(Borrowed<PyAny> obj)
    {
        const auto tuple = detail::expect_tuple(obj, 2);
        A first = FromPython<A>::extract(tuple.get_borrowed_item(0));
        return std::pair<A, B>(std::move(first), FromPython<B>::extract(tuple.get_borrowed_item(1)));
    }
};
template <class A, class B> struct IntoPython<std::pair<A, B>> {
    static Bound<PyAny> convert(Python py, const std::pair<A, B> &value)
    {
        return Bound<PyAny>(make_tuple(py, value.first, value.second));
    }
};

// ---------------------------------------------------------------- maps

namespace detail {
template <class Map> Map extract_map(Borrowed<PyAny> obj)
{
    const auto dict = obj.cast<PyDict>();
    Map result;
    for (const auto &[key, value] : dict)
        result.emplace(FromPython<typename Map::key_type>::extract(key.as_borrowed()),
                       FromPython<typename Map::mapped_type>::extract(value.as_borrowed()));
    return result;
}
template <class Map> Bound<PyAny> map_into_py(Python py, const Map &map)
{
    auto dict = new_dict(py);
    for (const auto &[key, value] : map) dict.set_item(key, value);
    return Bound<PyAny>(std::move(dict));
}
}  // namespace detail

template <class K, class V, class C, class A> struct FromPython<std::map<K, V, C, A>> {
    static std::map<K, V, C, A> extract(Borrowed<PyAny> obj)
    {
        return detail::extract_map<std::map<K, V, C, A>>(obj);
    }
};
template <class K, class V, class C, class A> struct IntoPython<std::map<K, V, C, A>> {
    static Bound<PyAny> convert(Python py, const std::map<K, V, C, A> &map)
    {
        return detail::map_into_py(py, map);
    }
};
template <class K, class V, class H, class E, class A>
struct FromPython<std::unordered_map<K, V, H, E, A>> {
    static std::unordered_map<K, V, H, E, A> extract(Borrowed<PyAny> obj)
    {
        return detail::extract_map<std::unordered_map<K, V, H, E, A>>(obj);
    }
};
template <class K, class V, class H, class E, class A>
struct IntoPython<std::unordered_map<K, V, H, E, A>> {
    static Bound<PyAny> convert(Python py, const std::unordered_map<K, V, H, E, A> &map)
    {
        return detail::map_into_py(py, map);
    }
};

// ---------------------------------------------------------------- Python objects

template <class T> struct FromPython<Bound<T>> {
    static Bound<T> extract(Borrowed<PyAny> obj) { return obj.cast<T>().to_owned(); }
};
template <class T> struct FromPython<Py<T>> {
    static Py<T> extract(Borrowed<PyAny> obj) { return obj.cast<T>().unbind(); }
};
// A view of the same object: valid while the object you extracted from is alive.
template <class T> struct FromPython<Borrowed<T>> {
    static Borrowed<T> extract(Borrowed<PyAny> obj) { return obj.cast<T>(); }
};
template <class T> struct IntoPython<Bound<T>> {
    static Bound<PyAny> convert(Python py, const Bound<T> &value)
    {
        if (value.is_null()) detail::raise_null_argument(py);
        return Bound<PyAny>(value);
    }
};
template <class T> struct IntoPython<Borrowed<T>> {
    static Bound<PyAny> convert(Python, const Borrowed<T> &value) { return value.as_any().to_owned(); }
};
template <class T> struct IntoPython<Py<T>> {
    static Bound<PyAny> convert(Python py, const Py<T> &value)
    {
        if (value.is_null()) detail::raise_null_argument(py);
        return Bound<PyAny>(value.bind(py));
    }
};

}  // namespace pyo3cpp
