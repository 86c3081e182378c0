// error.hpp — PyErr: a C++ exception that owns a Python exception.
//
// Contract: every pyo3cpp call that fails in CPython throws PyErr holding the fetched exception
// object (its type and traceback come with it), after clearing the thread's error indicator.
// `restore(py)` hands it back to CPython (module functions do this for you: module.hpp), and
// `matches(py, PyExc_KeyError)` tests its type like `except KeyError`. A PyErr is an ordinary
// C++ value: movable, copyable (copies share the exception object), destructible on any thread
// (it holds a Py<PyAny>).
//
// Example:
//     try { d.get_item_or_throw(key); }
//     catch (const pyo3cpp::PyErr &e) { if (!e.matches(py, PyExc_KeyError)) throw; }
//
// Cost: fetching formats the message (type name and str(value)) once, for what().
#pragma once

#include <exception>
#include <memory>
#include <string>

#include "pyo3cpp/borrowed.hpp"
#include "pyo3cpp/compat.hpp"

namespace pyo3cpp {

class PyErr : public std::exception {
public:
    // Takes the exception currently set on this thread. If none is set (a CPython bug or a
    // misuse), a SystemError saying so is taken instead: a PyErr is never empty.
    static PyErr fetch(Python py)
    {
        PyObject *value = take_raised(py);
        if (value == nullptr) {
            PyErr_SetString(PyExc_SystemError, "error return without exception set");
            value = take_raised(py);
        }
        return PyErr(py, value);
    }

    // Takes ownership of an exception instance (a new reference), e.g. one built by calling an
    // exception type.
    static PyErr from_value(Python py, Bound<PyAny> exception)
    {
        return PyErr(py, std::move(exception).into_ptr());
    }

    // Makes a new exception of `type` with `message`, as PyErr_SetString would.
    static PyErr new_err(Python py, PyObject *type, const char *message)
    {
        PyErr_SetString(type, message);
        return fetch(py);
    }
    static PyErr new_err(Python py, PyObject *type, const std::string &message)
    {
        return new_err(py, type, message.c_str());
    }
    [[noreturn]] static void raise(Python py, PyObject *type, const std::string &message)
    {
        throw new_err(py, type, message.c_str());
    }

    // Sets this exception as the thread's current exception (consumes nothing: the PyErr stays
    // valid). Then return NULL/-1 to CPython.
    void restore(Python py) const
    {
        compat::set_raised_exception(state_->value.clone_ref(py).into_ptr());
    }

    // `except exc_type:` — exc_type may be a type or a tuple of types.
    bool matches(Python, PyObject *exc_type) const noexcept
    {
        return PyErr_GivenExceptionMatches(state_->value.as_ptr(), exc_type) != 0;
    }
    template <class T> bool matches(Python py, const Borrowed<T> &exc_type) const noexcept
    {
        return matches(py, exc_type.as_ptr());
    }

    // The exception instance (new reference), its type, its traceback (None when absent).
    Bound<PyAny> value(Python py) const { return state_->value.bind(py); }
    Bound<PyType> type(Python py) const
    {
        return Bound<PyType>::from_borrowed_ptr(
            py, reinterpret_cast<PyObject *>(Py_TYPE(state_->value.as_ptr())));
    }
    Bound<PyAny> traceback(Python py) const
    {
        PyObject *tb = PyException_GetTraceback(state_->value.as_ptr());
        return tb ? Bound<PyAny>::from_owned_ptr(py, tb) : Bound<PyAny>(py.none());
    }

    const char *what() const noexcept override { return state_->message.c_str(); }

private:
    PyErr(Python py, PyObject *value)
        : state_(std::make_shared<const State>(
              State{Py<PyAny>::from_owned_ptr(py, value), describe(value)}))
    {
    }

    static PyObject *take_raised(Python) noexcept { return compat::take_raised_exception(); }

    // "KeyError: 'x'". Formatting must not disturb the caller's error state.
    static std::string describe(PyObject *value)
    {
        std::string text = Py_TYPE(value)->tp_name;
        PyObject *str = PyObject_Str(value);
        const char *utf8 = str ? PyUnicode_AsUTF8(str) : nullptr;
        if (utf8 != nullptr && *utf8 != '\0') text.append(": ").append(utf8);
        if (utf8 == nullptr) PyErr_Clear();
        Py_XDECREF(str);
        return text;
    }

    struct State {
        Py<PyAny> value;  // the normalised exception instance; type and traceback hang off it
        std::string message;
    };
    std::shared_ptr<const State> state_;  // copies of a PyErr share one exception
};

[[noreturn]] inline void throw_fetched(Python py) { throw PyErr::fetch(py); }

[[noreturn]] inline void raise_type_error(const char *expected, PyObject *got)
{
    PyErr_Format(PyExc_TypeError, "expected %s, got %.200s", expected, Py_TYPE(got)->tp_name);
    throw_fetched(Python::assume_attached());
}

// Throws the current Python exception if `result` is null; returns it otherwise. For wrapping
// C API calls that return a new reference: auto r = check(py, PyObject_Str(x));
inline PyObject *check(Python py, PyObject *result)
{
    if (result == nullptr) throw PyErr::fetch(py);
    return result;
}
// For C API calls that return -1 on error.
inline int check_status(Python py, int status)
{
    if (status == -1 && PyErr_Occurred()) throw PyErr::fetch(py);
    return status;
}

}  // namespace pyo3cpp
