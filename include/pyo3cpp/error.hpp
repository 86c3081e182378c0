// error.hpp — PyErr: a C++ exception that owns a Python exception.
//
// Contract: every pyo3cpp call that fails in CPython throws PyErr holding the fetched exception
// object (its type and traceback come with it), after clearing the thread's error indicator.
// `restore(py)` hands it back to CPython (module functions do this for you: module.hpp), and
// `matches(py, PyExc_KeyError)` tests its type like `except KeyError`. A PyErr is an ordinary
// C++ value: movable, copyable (copies share the exception object), destructible on any thread
// (it holds a Py<PyAny>).
//
// what() is "KeyError: 'x'" (the type name, and str(value) when it is not empty), formatted on
// first use rather than when the exception is fetched: most PyErrs are matched and dropped,
// never printed, and str() runs arbitrary Python code. what() never throws, may be called on
// any thread, attached or not (a thread that is not attached attaches for it, with try_attach),
// and leaves the thread's pending Python error, if any, as it found it. When the interpreter
// cannot be attached (before initialisation, during or after finalisation) the text is the type
// name for built-in exception types and a fixed text otherwise; so is it when str() raises (its
// error is discarded). Copies share one text: threads asking for it at the same moment may each
// format it (never blocking), the first one stored wins, every copy returns that one.
//
// Example:
//     try { d.getattr("missing"); }
//     catch (const pyo3cpp::PyErr &e) { if (!e.matches(py, PyExc_AttributeError)) throw; }
//
// Cost: a fetch is one allocation (the shared state) and no formatting. Throwing and catching
// the C++ exception costs far more than the C API's PyErr_Clear (bench: raise_catch_keyerror);
// where a missing value is expected, use the non-throwing form (dict.get_item returns optional).
#pragma once

#include <atomic>
#include <cstring>
#include <exception>
#include <memory>
#include <string>

#include "pyo3cpp/attach.hpp"
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

    const char *what() const noexcept override
    {
        if (const char *text = state_->message.load(std::memory_order_acquire)) return text;
        return state_->format();
    }

private:
    PyErr(Python py, PyObject *value)
        : state_(std::make_shared<const State>(Py<PyAny>::from_owned_ptr(py, value)))
    {
    }

    static PyObject *take_raised(Python) noexcept { return compat::take_raised_exception(); }

    struct State {
        explicit State(Py<PyAny> exception) noexcept
            : value(std::move(exception)), builtin_type_name(builtin_name(value.as_ptr()))
        {
        }
        State(const State &) = delete;
        State &operator=(const State &) = delete;
        ~State() { delete[] message.load(std::memory_order_relaxed); }

        Py<PyAny> value;  // the normalised exception instance; type and traceback hang off it
        // The type's name when it outlives the interpreter (a static type's tp_name is in the
        // binary; a heap type's is freed with the type): the text when Python is gone.
        const char *builtin_type_name;
        // what()'s text, made on first use (new[]; the first one published wins).
        mutable std::atomic<char *> message{nullptr};

        static const char *builtin_name(PyObject *value) noexcept
        {
            PyTypeObject *type = Py_TYPE(value);
            return (type->tp_flags & Py_TPFLAGS_HEAPTYPE) ? nullptr : type->tp_name;
        }

        // Cold: formats, publishes, and returns the text every copy will return from now on.
        [[gnu::noinline, gnu::cold]] const char *format() const noexcept
        {
            char *text = nullptr;
            try {
                std::string described;
                if (Python::is_attached()) {
                    described = describe(value.as_ptr());
                } else if (auto guard = try_attach()) {
                    described = describe(value.as_ptr());
                } else {
                    described = builtin_type_name ? builtin_type_name
                                                  : "Python exception (the interpreter is not "
                                                    "available to describe it)";
                }
                text = new char[described.size() + 1];
                std::memcpy(text, described.c_str(), described.size() + 1);
            } catch (...) {
                // Out of memory (std::bad_alloc) is the one failure here: what() must not throw,
                // and a static text needs no allocation. Not published, so a later call retries.
                return builtin_type_name ? builtin_type_name : "Python exception";
            }
            char *expected = nullptr;
            if (message.compare_exchange_strong(expected, text, std::memory_order_acq_rel,
                                                std::memory_order_acquire))
                return text;
            delete[] text;  // another thread published first; every copy returns its text
            return expected;
        }

        // "KeyError: 'x'" (attached caller). The caller's pending error is set aside while str()
        // runs (calling into Python with an error set is a bug CPython's debug build asserts on)
        // and put back exactly as it was; an error str() raises is discarded.
        static std::string describe(PyObject *value)
        {
            struct KeepPending {
#if PY_VERSION_HEX >= 0x030C0000
                PyObject *saved = PyErr_GetRaisedException();
                ~KeepPending()
                {
                    PyErr_Clear();
                    PyErr_SetRaisedException(saved);
                }
#else
                PyObject *saved_type, *saved_value, *saved_traceback;
                KeepPending() { PyErr_Fetch(&saved_type, &saved_value, &saved_traceback); }
                ~KeepPending()
                {
                    PyErr_Clear();
                    PyErr_Restore(saved_type, saved_value, saved_traceback);
                }
#endif
                KeepPending(const KeepPending &) = delete;
                KeepPending &operator=(const KeepPending &) = delete;
            } keep;
            std::string text = Py_TYPE(value)->tp_name;
            PyObject *str = PyObject_Str(value);
            const char *utf8 = str ? PyUnicode_AsUTF8(str) : nullptr;
            if (utf8 != nullptr && *utf8 != '\0') text.append(": ").append(utf8);
            Py_XDECREF(str);
            return text;
        }
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
