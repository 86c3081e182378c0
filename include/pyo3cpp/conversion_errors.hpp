// conversion_errors.hpp — the failure messages of the provided conversions (convert.hpp has
// the contract: "must be int, not str", "item 2 must be int, not str", "must be in range(0, 256),
// not 300", ...), and the helpers that add an element's context to a failure on its way out.
// Everything here is cold and out of line: it runs only when a conversion fails.
// Thread: any attached thread.
//
// convert.hpp is the way in: it includes this body where its conversions need it (this header
// and convert.hpp need each other's declarations, so the body is guarded by hand).
#if !defined(PYO3CPP_CONVERT_HPP_INCLUDING_ERRORS)
#include <Python.h>  // first: its pyconfig.h sets feature macros the C library reads
#include "pyo3cpp/convert.hpp"
#elif !defined(PYO3CPP_CONVERSION_ERRORS_BODY)
#define PYO3CPP_CONVERSION_ERRORS_BODY

#include <cstring>
#include <string>
#include <string_view>
#include <type_traits>

#include "pyo3cpp/borrowed.hpp"
#include "pyo3cpp/error.hpp"
#include "pyo3cpp/type_hint.hpp"
#include "pyo3cpp/type_traits.hpp"

namespace pyo3cpp::detail {

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
// (A template only so that PyErr may still be incomplete where this header is read.)
template <class Err>
[[noreturn, gnu::cold, gnu::noinline]] void rethrow_in_context(Python py, const Err &err,
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
    throw Err::from_value(py, std::move(replacement));
}

// (A template only so that PyErr may still be incomplete where this header is read.)
template <class Err>
[[noreturn, gnu::cold, gnu::noinline]] void rethrow_item(Python py, const Err &err, Py_ssize_t index)
{
    rethrow_in_context(py, err, "item " + std::to_string(index));
}

// "value for key 'a'": the key's repr, cut to 40 bytes on a character boundary.
// (A template only so that PyErr may still be incomplete where this header is read.)
template <class Err>
[[noreturn, gnu::cold, gnu::noinline]] void rethrow_value(Python py, const Err &err, PyObject *key)
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
// (A template only so that PyErr may still be incomplete where this header is read.)
template <class Err>
[[noreturn, gnu::cold, gnu::noinline]] void rethrow_optional(Python py, const Err &err,
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


}  // namespace pyo3cpp::detail

#endif
