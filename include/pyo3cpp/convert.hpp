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

// ---- failure messages (see the contract at the top). All cold and out of line.

// The object's type as Argument Clinic names it: "None" for None, else the short type name.
inline const char *python_type_name(PyObject *obj) noexcept
{
    if (obj == Py_None) return "None";
    const char *name = Py_TYPE(obj)->tp_name;
    const char *dot = std::strrchr(name, '.');
    return dot != nullptr ? dot + 1 : name;
}

// TypeError "must be <expected>, not <type of obj>".
[[noreturn, gnu::cold, gnu::noinline]] inline void raise_mismatch(PyObject *obj, const char *expected)
{
    PyErr_Format(PyExc_TypeError, "must be %s, not %.200s", expected, python_type_name(obj));
    throw_fetched(Python::assume_attached());
}

// "<subject> must be ..." or "<subject>: <any other message>".
inline std::string with_subject(std::string_view subject, std::string_view clause)
{
    std::string text(subject);
    text += clause.starts_with("must be ") ? " " : ": ";
    text += clause;
    return text;
}

// Called while a PyErr from an element's conversion is being handled (in a catch block):
// throws it again with `subject` in front of its message (a new exception of the same type,
// see the contract), or unchanged when it is not a plain TypeError/ValueError/OverflowError.
[[noreturn, gnu::cold, gnu::noinline]] inline void rethrow_in_context(Python py, const PyErr &err,
                                                                      std::string_view subject)
{
    PyObject *type = err.type(py).as_ptr();  // kept alive by err
    if (type != PyExc_TypeError && type != PyExc_ValueError && type != PyExc_OverflowError) throw;
    Bound<PyAny> original = err.value(py);
    PyObject *args = PyObject_GetAttrString(original.as_ptr(), "args");
    if (args == nullptr) throw_fetched(py);
    Py_ssize_t length = 0;
    const char *clause = nullptr;
    if (PyTuple_Check(args) && PyTuple_GET_SIZE(args) == 1 && PyUnicode_Check(PyTuple_GET_ITEM(args, 0)))
        clause = PyUnicode_AsUTF8AndSize(PyTuple_GET_ITEM(args, 0), &length);
    if (clause == nullptr) {
        Py_DECREF(args);
        if (PyErr_Occurred()) PyErr_Clear();  // a message with lone surrogates: keep it as is
        throw;
    }
    std::string message;
    try {
        message = with_subject(subject, std::string_view(clause, static_cast<std::size_t>(length)));
    } catch (...) {
        Py_DECREF(args);
        throw;
    }
    Py_DECREF(args);
    auto text = Bound<PyAny>::from_owned_ptr(
        py, PyUnicode_FromStringAndSize(message.data(), static_cast<Py_ssize_t>(message.size())));
    auto replacement = Bound<PyAny>::from_owned_ptr(py, PyObject_CallOneArg(type, text.as_ptr()));
    if (!PyExceptionInstance_Check(replacement.as_ptr())) throw;
    Bound<PyAny> traceback = err.traceback(py);
    if (PyException_SetTraceback(replacement.as_ptr(), traceback.as_ptr()) < 0) throw_fetched(py);
    PyException_SetContext(replacement.as_ptr(), std::move(original).into_ptr());  // steals
    PyException_SetCause(replacement.as_ptr(), nullptr);  // sets __suppress_context__
    throw PyErr::from_value(py, std::move(replacement));
}

[[noreturn, gnu::cold, gnu::noinline]] inline void rethrow_item(Python py, const PyErr &err, Py_ssize_t index)
{
    rethrow_in_context(py, err, "item " + std::to_string(index));
}

// "value for key 'a'": the key's repr, cut to 40 bytes on a character boundary.
[[noreturn, gnu::cold, gnu::noinline]] inline void rethrow_value(Python py, const PyErr &err, PyObject *key)
{
    constexpr std::size_t limit = 40;
    std::string subject = "value for key ";
    PyObject *repr = PyObject_Repr(key);
    Py_ssize_t length = 0;
    const char *utf8 = repr != nullptr ? PyUnicode_AsUTF8AndSize(repr, &length) : nullptr;
    if (utf8 == nullptr) {
        PyErr_Clear();
        subject = std::string("value for a key of type ") + python_type_name(key);
    } else if (static_cast<std::size_t>(length) <= limit) {
        subject.append(utf8, static_cast<std::size_t>(length));
    } else {
        std::size_t cut = limit - 3;
        while (cut > 0 && (static_cast<unsigned char>(utf8[cut]) & 0xC0) == 0x80) --cut;
        subject.append(utf8, cut);
        subject += "...";
    }
    Py_XDECREF(repr);
    rethrow_in_context(py, err, subject);
}

// optional<T>: a TypeError that says "must be <hint>, not <type>" about the object itself
// becomes "must be <hint> or None, not <type>"; anything else is thrown again unchanged.
[[noreturn, gnu::cold, gnu::noinline]] inline void rethrow_optional(Python py, const PyErr &err,
                                                                    PyObject *obj, const char *hint)
{
    if (err.type(py).as_ptr() != PyExc_TypeError) throw;
    const std::string expected = std::string("must be ") + hint + ", not " + python_type_name(obj);
    Bound<PyAny> value = err.value(py);
    PyObject *text = PyObject_Str(value.as_ptr());
    const char *utf8 = text != nullptr ? PyUnicode_AsUTF8(text) : nullptr;
    const bool same = utf8 != nullptr && expected == utf8;
    Py_XDECREF(text);
    if (PyErr_Occurred()) PyErr_Clear();
    if (!same) throw;
    PyErr_Format(PyExc_TypeError, "must be %s or None, not %.200s", hint, python_type_name(obj));
    throw_fetched(py);
}

// "2**k" as decimal text, k <= 64.
inline std::string power_of_two_text(unsigned k)
{
    if (k < 64) return std::to_string(1ULL << k);
    return "18446744073709551616";
}

// An int as the message shows it: its digits up to 128 bits, its size beyond.
inline std::string describe_int(PyObject *number)
{
    int overflow = 0;
    const long long value = PyLong_AsLongLongAndOverflow(number, &overflow);
    if (overflow == 0 && !(value == -1 && PyErr_Occurred())) return std::to_string(value);
    PyErr_Clear();
    PyObject *bits = PyObject_CallMethod(number, "bit_length", nullptr);
    const long count = bits != nullptr ? PyLong_AsLong(bits) : -1;
    Py_XDECREF(bits);
    if (count >= 0 && count <= 128) {
        PyObject *text = PyObject_Str(number);
        const char *utf8 = text != nullptr ? PyUnicode_AsUTF8(text) : nullptr;
        std::string digits = utf8 != nullptr ? utf8 : "";
        Py_XDECREF(text);
        if (!digits.empty()) return digits;
    }
    PyErr_Clear();
    if (count < 0) return overflow < 0 ? "a smaller int" : "a larger int";
    return std::string(overflow < 0 ? "a negative " : "a ") + std::to_string(count) + "-bit int";
}

// OverflowError "must be in range(<min>, <max + 1>), not <value>"; `number` is an int.
[[noreturn, gnu::cold, gnu::noinline]] inline void raise_out_of_range(PyObject *number, unsigned bits,
                                                                      bool is_signed)
{
    const std::string low = is_signed ? "-" + power_of_two_text(bits - 1) : "0";
    const std::string high = power_of_two_text(is_signed ? bits - 1 : bits);
    const std::string value = describe_int(number);
    PyErr_Format(PyExc_OverflowError, "must be in range(%s, %s), not %s", low.c_str(), high.c_str(),
                 value.c_str());
    throw_fetched(Python::assume_attached());
}

// A signed conversion out of range; `obj` is an int or has __index__ (asked again here, on
// the failure path only, for the value to show).
[[noreturn, gnu::cold, gnu::noinline]] inline void raise_signed_overflow(PyObject *obj, unsigned bits)
{
    if (PyLong_Check(obj)) raise_out_of_range(obj, bits, true);
    PyObject *number = PyNumber_Index(obj);
    if (number == nullptr) throw_fetched(Python::assume_attached());
    struct Release {
        PyObject *o;
        ~Release() { Py_DECREF(o); }
    } release{number};
    raise_out_of_range(number, bits, true);
}

// A signed conversion's other failures: "must be int, not float" for an object without
// __index__, the error __index__ raised otherwise.
[[noreturn, gnu::cold, gnu::noinline]] inline void raise_integer_failure(PyObject *obj)
{
    if (!PyLong_Check(obj) && !PyIndex_Check(obj) && PyErr_ExceptionMatches(PyExc_TypeError)) {
        PyErr_Clear();
        raise_mismatch(obj, "int");
    }
    throw_fetched(Python::assume_attached());
}

// A failed PyFloat_AsDouble: "must be float, not str" when the object has neither __float__
// nor __index__; the error those raised otherwise.
[[noreturn, gnu::cold, gnu::noinline]] inline void raise_float_failure(PyObject *obj)
{
    PyNumberMethods *number = Py_TYPE(obj)->tp_as_number;
    if (PyErr_ExceptionMatches(PyExc_TypeError) && (number == nullptr || number->nb_float == nullptr) &&
        !PyIndex_Check(obj)) {
        PyErr_Clear();
        raise_mismatch(obj, "float");
    }
    throw_fetched(Python::assume_attached());
}

// A failed PyObject_GetIter for a vector: "must be list[...], not int" when the object is not
// iterable at all; the error its __iter__ raised otherwise.
[[noreturn, gnu::cold, gnu::noinline]] inline void raise_not_iterable(PyObject *obj, const char *hint)
{
    if (PyErr_ExceptionMatches(PyExc_TypeError) && Py_TYPE(obj)->tp_iter == nullptr &&
        !PySequence_Check(obj)) {
        PyErr_Clear();
        raise_mismatch(obj, hint);
    }
    throw_fetched(Python::assume_attached());
}

// ValueError "must be a tuple of length 2, not length 3".
[[noreturn, gnu::cold, gnu::noinline]] inline void raise_tuple_length(std::size_t expected, Py_ssize_t size)
{
    PyErr_Format(PyExc_ValueError, "must be a tuple of length %zu, not length %zd", expected, size);
    throw_fetched(Python::assume_attached());
}

// Borrowed<T> of the object, checked like cast<T>() but with the contract's message.
template <class T> Borrowed<T> checked_cast(Borrowed<PyAny> obj)
{
    if constexpr (std::is_same_v<T, PyAny>) {
        return obj;
    } else {
        if (!type_traits<T>::check(obj.as_ptr())) [[unlikely]]
            raise_mismatch(obj.as_ptr(), type_hint_c_str<Borrowed<T>>());
        return obj.template cast_unchecked<T>();
    }
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

// ---------------------------------------------------------------- optional

template <class T> struct FromPython<std::optional<T>> {
    static std::optional<T> extract(Borrowed<PyAny> obj)
    {
        if (obj.as_ptr() == Py_None) return std::nullopt;
        try {
            return FromPython<T>::extract(obj);
        } catch (const PyErr &err) {
            detail::rethrow_optional(obj.py(), err, obj.as_ptr(), type_hint_c_str<T>());
        }
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
        if (PyUnicode_Check(obj.as_ptr())) [[unlikely]]
            detail::raise_mismatch(obj.as_ptr(), type_hint_c_str<std::vector<T, Allocator>>());
        std::vector<T, Allocator> result;
        const Python py = obj.py();
        if (PyList_Check(obj.as_ptr())) {
            PyObject *list = obj.as_ptr();
            // Free-threaded builds: one critical section on the list for the whole loop (a
            // consistent snapshot, unless an item's conversion runs code that detaches, which
            // suspends the section as usual; it is held again whenever this loop reads).
            CriticalSection section(py, obj);
            result.reserve(static_cast<std::size_t>(PyList_GET_SIZE(list)));
            // The size is read again each step: a conversion may run code that shrinks the list.
            // Each item is held strongly while it converts, since that code may also drop it.
            Py_ssize_t i = 0;
            try {
                for (; i < PyList_GET_SIZE(list); ++i) {
                    struct Held {
                        PyObject *item;
                        ~Held() { Py_DECREF(item); }
                    } held{compat::new_ref(PyList_GET_ITEM(list, i))};
                    result.push_back(FromPython<T>::extract(Borrowed<PyAny>::from_ptr(py, held.item)));
                }
            } catch (const PyErr &err) {
                detail::rethrow_item(py, err, i);
            }
            return result;
        }
        PyObject *iterator = PyObject_GetIter(obj.as_ptr());
        if (iterator == nullptr) [[unlikely]]
            detail::raise_not_iterable(obj.as_ptr(), type_hint_c_str<std::vector<T, Allocator>>());
        const auto items = Bound<PyIterator>::from_owned_ptr_unchecked(py, iterator);
        const Py_ssize_t hint = PyObject_LengthHint(obj.as_ptr(), 0);
        if (hint < 0) throw_fetched(py);
        result.reserve(static_cast<std::size_t>(hint));
        for (const Bound<PyAny> &item : items) {
            // A try per item, not around the loop: the iterator's own errors are not about an
            // item. The failing item's index is the number converted so far.
            try {
                result.push_back(FromPython<T>::extract(item.as_borrowed()));
            } catch (const PyErr &err) {
                detail::rethrow_item(py, err, static_cast<Py_ssize_t>(result.size()));
            }
        }
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
// The tuple of exactly `length` items a pair or tuple converts from.
template <class Cpp> Borrowed<PyTuple> expect_tuple(Borrowed<PyAny> obj, std::size_t length)
{
    if (!PyTuple_Check(obj.as_ptr())) [[unlikely]]
        raise_mismatch(obj.as_ptr(), type_hint_c_str<Cpp>());
    const Py_ssize_t size = PyTuple_GET_SIZE(obj.as_ptr());
    if (size != static_cast<Py_ssize_t>(length)) [[unlikely]]
        raise_tuple_length(length, size);
    return obj.cast_unchecked<PyTuple>();
}
// Item `index` of a checked tuple, converted; `at` records which item is converting.
template <class T> T extract_tuple_item(Borrowed<PyTuple> tuple, std::size_t index, std::size_t &at)
{
    at = index;
    return FromPython<T>::extract(tuple.get_borrowed_item(index));
}
}  // namespace detail

template <class... Ts> struct FromPython<std::tuple<Ts...>> {
    static std::tuple<Ts...> extract(Borrowed<PyAny> obj)
    {
        const auto tuple = detail::expect_tuple<std::tuple<Ts...>>(obj, sizeof...(Ts));
        std::size_t at = 0;  // the item being converted, for a failure's message
        try {
            return [&]<std::size_t... I>(std::index_sequence<I...>) {
                // Braced initialisation evaluates the elements in order.
                return std::tuple<Ts...>{detail::extract_tuple_item<Ts>(tuple, I, at)...};
            }(std::index_sequence_for<Ts...>());
        } catch (const PyErr &err) {
            detail::rethrow_item(obj.py(), err, static_cast<Py_ssize_t>(at));
        }
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
        const auto tuple = detail::expect_tuple<std::pair<A, B>>(obj, 2);
        Py_ssize_t at = 0;  // the item being converted, for a failure's message
        try {
            A first = FromPython<A>::extract(tuple.get_borrowed_item(0));
            at = 1;
            return std::pair<A, B>(std::move(first), FromPython<B>::extract(tuple.get_borrowed_item(1)));
        } catch (const PyErr &err) {
            detail::rethrow_item(obj.py(), err, at);
        }
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
// Where a map conversion is: the key being converted (a strong reference, so that a failure's
// handler can still show it), and whether its value is being converted.
struct MapCursor {
    PyObject *key = nullptr;
    bool in_value = false;
};

// Converts every item, key first, then value (each moved into the node once, as a single
// emplace would). Out of line and with no try block: a handler in the same function made GCC
// stop inlining the map's emplace (about 35 instructions more per item). Each step reads the
// dict under a critical section and takes strong references (as dict.hpp's iteration does).
template <class Map> [[gnu::noinline]] void fill_map(Python py, Borrowed<PyDict> dict, Map &result,
                                                     MapCursor &cursor)
{
    Py_ssize_t position = 0;
    for (;;) {
        PyObject *key, *value;
        {
            CriticalSection section(py, dict);
            if (!PyDict_Next(dict.as_ptr(), &position, &key, &value)) break;
            Py_INCREF(key);
            Py_INCREF(value);
        }
        cursor.key = key;
        cursor.in_value = false;
        struct Held {
            PyObject *item;
            ~Held() { Py_DECREF(item); }
        } held_value{value};
        typename Map::key_type converted_key =
            FromPython<typename Map::key_type>::extract(Borrowed<PyAny>::from_ptr(py, key));
        cursor.in_value = true;
        result.emplace(std::move(converted_key),
                       FromPython<typename Map::mapped_type>::extract(Borrowed<PyAny>::from_ptr(py, value)));
        cursor.key = nullptr;
        Py_DECREF(key);
    }
}

template <class Map> Map extract_map(Borrowed<PyAny> obj)
{
    if (!PyDict_Check(obj.as_ptr())) [[unlikely]]
        raise_mismatch(obj.as_ptr(), type_hint_c_str<Map>());
    const Python py = obj.py();
    Map result;
    MapCursor cursor;
    try {
        fill_map(py, obj.cast_unchecked<PyDict>(), result, cursor);
    } catch (const PyErr &err) {
        struct Release {
            PyObject *key;
            ~Release() { Py_XDECREF(key); }
        } release{cursor.key};
        if (cursor.key == nullptr) throw;  // not from a conversion
        if (cursor.in_value) rethrow_value(py, err, cursor.key);
        rethrow_in_context(py, err, "key");
    } catch (...) {
        Py_XDECREF(cursor.key);
        throw;
    }
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
