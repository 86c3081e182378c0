// convert.hpp — conversions between Python objects and C++ values, as extensible concepts.
//
//   long n = extract<long>(obj);                 // TypeError / OverflowError as PyErr
//   auto v = obj.extract<std::vector<int>>();    // the same, as a method of any view
//   Bound<PyAny> o = into_py(py, std::string("x"));
//
// Extend for your own type by specialising the two traits:
//     template <> struct pyo3cpp::FromPython<Point> {
//         static constexpr const char *type_name = "Point";  // optional: messages and stubs
//         static Point extract(Borrowed<PyAny> obj);            // throw PyErr on failure
//     };
//     template <> struct pyo3cpp::IntoPython<Point> {
//         static Bound<PyAny> convert(Python py, const Point &p);
//     };
// Contract: both require attachment; failures throw PyErr carrying a Python exception
// (TypeError for the wrong type, OverflowError for out-of-range integers — never truncation,
// ValueError for a tuple of the wrong length, UnicodeEncodeError for a str with lone
// surrogates).
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
//   Borrowed<T>, Bound<T>, Py<T>: passed through (checked like cast<T>(): TypeError).
//
// Views (std::string_view, Borrowed<T>, a FromPython declaring `is_view = true`) point into the
// object converted: what a view parameter of a bound function guarantees is that it is valid for
// the whole call, wherever it sits. On its own (or in an optional, pair, tuple) the argument
// keeps it valid; inside a vector or map (std::vector<std::string_view>, map keys, at any depth)
// the call keeps every element's source alive until it returns (view_scope.hpp), so a generator's
// items, or a list the function's own callback empties, cannot leave a view dangling. Never keep
// a view past the call. Outside a bound call, such a container conversion needs a ViewScope open
// (RuntimeError otherwise). Containers are safe against the Python code their elements'
// conversions run (convert_containers.hpp): a dict that changes size raises RuntimeError as
// CPython's iteration does, a list that shrinks is read safely, length hints are capped.
//
// Failure messages (what a bound function's argument errors are built from). A message is a
// clause in CPython's words with no function or argument in it, and never a C++ type name;
// types are named by their Python typing text (type_hint.hpp) and the object by its type's
// short name ("None" for None), as Argument Clinic does. Two forms:
//   - the object itself is wrong: the clause starts with "must be ".
//       TypeError      "must be int, not str"           "must be list[int], not str"
//                      "must be dict[str, int], not list"  "must be int or None, not str"
//       OverflowError  "must be in range(0, 256), not 300"  "must be in range(-128, 128), not -129"
//                      "must be in range(0, 256), not a 201-bit int" (beyond 64 bits)
//       ValueError     "must be a tuple of length 2, not length 3"
//     A binder renders it as `f() argument 'x' must be int, not str`.
//   - an element is wrong: a subject, then the element's own clause; "must be" clauses follow
//     the subject after a space, any other message after ": ".
//       "item 2 must be int, not str"        (0-based, lists/iterables and tuples alike)
//       "key must be str, not int"           "value for key 'a' must be int, not str"
//       "item 1: key must be str, not int"   (nested: outermost first, levels joined by ": ")
//     A binder renders it as `f() argument 'x': item 2 must be int, not str`.
//   The exception keeps its type through every level (an OverflowError in item 3 is an
//   OverflowError); context is added only to exceptions whose type is exactly TypeError,
//   ValueError or OverflowError and whose args are one str — the rewritten exception is a new
//   instance of the same type with the original traceback, and the original as its
//   __context__ (suppressed, as `raise ... from None`). Anything else (UnicodeEncodeError,
//   KeyError raised by a __hash__, a user's exception subclass) passes through unchanged.
//   Dict keys are shown by repr(), cut to 40 bytes ("..." after); a key whose repr() fails is
//   described by its type. Other messages CPython produces itself are kept as they are:
//   "int too large to convert to float", the UnicodeEncodeError of a lone surrogate, the
//   errors of __index__/__float__/__iter__ implementations and of iteration itself.
// Cost of the contract on success: none measurable (callgrind, -O2, 3.11, against the
// conversions before it: std::vector from a list or a tuple of ints and pairs as before, from a
// list of str +4 instructions per 100-item conversion, a 3-tuple +1, std::map<std::string, long>
// from a dict 0.8% fewer, the integer scalars equal or 1 fewer). Context is added in catch
// handlers (a try block costs no instruction until something throws with the Itanium C++ ABI),
// the failing position is read from state the loop keeps anyway, and every message is built in
// cold, out-of-line functions. One trap, avoided: a catch handler in the function that holds a
// std::map's emplace loop made GCC stop inlining the emplace (+35 instructions per item), so
// the map loop is out of line (detail::fill_map).
//
// Thread: any attached thread. Containers are read through the free-threading-safe paths of
// dict.hpp/list.hpp, so a container mutated concurrently never crashes a conversion; a list
// into a std::vector is read under one critical section for the whole loop.
// Cost: scalars are one C API call; containers one conversion per element.
#pragma once

#include <Python.h>  // first: its pyconfig.h sets feature macros the C library reads
#include <concepts>
#include <cstdint>
#include <cstring>
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
#include "pyo3cpp/type_hint.hpp"

#define PYO3CPP_CONVERT_HPP_INCLUDING_ERRORS 1
#include "pyo3cpp/conversion_errors.hpp"

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

// A description of an integer type for C++ diagnostics (test traces); never in a Python message.
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
        if (long long small = 0; detail::compact_int_value(obj.as_ptr(), small)) [[likely]] {
            if (detail::fits_in<T>(small)) return static_cast<T>(small);
            detail::raise_out_of_range(obj.as_ptr(), sizeof(T) * 8, std::is_signed_v<T>);
        }
        if constexpr (std::is_signed_v<T>) {
            int overflow = 0;
            // Accepts int and objects with __index__.
            const long long value = PyLong_AsLongLongAndOverflow(obj.as_ptr(), &overflow);
            if (overflow != 0) [[unlikely]]
                detail::raise_signed_overflow(obj.as_ptr(), sizeof(T) * 8);
            if (value == -1 && PyErr_Occurred()) [[unlikely]]
                detail::raise_integer_failure(obj.as_ptr());
            if (value < static_cast<long long>(std::numeric_limits<T>::min()) ||
                value > static_cast<long long>(std::numeric_limits<T>::max())) [[unlikely]]
                detail::raise_signed_overflow(obj.as_ptr(), sizeof(T) * 8);
            return static_cast<T>(value);
        } else {
            if (!PyLong_Check(obj.as_ptr())) [[unlikely]]
                return from_index(obj);
            return from_int(obj.py(), obj.as_ptr());
        }
    }

private:
    // Unsigned, not an int: __index__ gives one (TypeError "must be int, not float" without it).
    [[gnu::noinline]] static T from_index(Borrowed<PyAny> obj)
    {
        if (!PyIndex_Check(obj.as_ptr())) detail::raise_mismatch(obj.as_ptr(), "int");
        const auto number = Bound<PyAny>::from_owned_ptr(obj.py(), PyNumber_Index(obj.as_ptr()));
        return from_int(obj.py(), number.as_ptr());
    }
    // Unsigned, `number` is an int.
    static T from_int(Python py, PyObject *number)
    {
        const unsigned long long value = PyLong_AsUnsignedLongLong(number);
        if (value == static_cast<unsigned long long>(-1) && PyErr_Occurred()) [[unlikely]] {
            // Negative or too large: OverflowError either way.
            if (!PyErr_ExceptionMatches(PyExc_OverflowError)) throw_fetched(py);
            PyErr_Clear();
            detail::raise_out_of_range(number, sizeof(T) * 8, false);
        }
        if (value > static_cast<unsigned long long>(std::numeric_limits<T>::max())) [[unlikely]]
            detail::raise_out_of_range(number, sizeof(T) * 8, false);
        return static_cast<T>(value);
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
        if (value == -1.0 && PyErr_Occurred()) detail::raise_float_failure(obj.as_ptr());
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
        detail::raise_mismatch(obj.as_ptr(), "bool");
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
        if (!PyUnicode_Check(obj.as_ptr())) detail::raise_mismatch(obj.as_ptr(), "str");
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

// ---------------------------------------------------------------- Python objects

template <class T> struct FromPython<Bound<T>> {
    static Bound<T> extract(Borrowed<PyAny> obj) { return detail::checked_cast<T>(obj).to_owned(); }
};
template <class T> struct FromPython<Py<T>> {
    static Py<T> extract(Borrowed<PyAny> obj) { return detail::checked_cast<T>(obj).unbind(); }
};
// A view of the same object: valid while the object you extracted from is alive.
template <class T> struct FromPython<Borrowed<T>> {
    static Borrowed<T> extract(Borrowed<PyAny> obj) { return detail::checked_cast<T>(obj); }
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

// The containers (optional, vector, tuple, pair, map): one header of their own.
#include "pyo3cpp/convert_containers.hpp"
